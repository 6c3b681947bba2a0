// swift-tools-version:6.2
// Benchmarks for Answer Ninja on ordo-one/benchmark with malloc counting. A separate package so that CI never
// compiles it. Run from this folder: `swift package benchmark` (docs/benchmarks.md).
import Foundation
import PackageDescription

/// SwiftPM names a path dependency after its folder: the checkout's folder name, whatever it is.
let main = URL(fileURLWithPath: Context.packageDirectory).deletingLastPathComponent().lastPathComponent.lowercased()

let package = Package(
    name: "answer-ninja-benchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark.git", from: "1.38.1", traits: ["MallocInterposer"]),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.6.0"),
    ],
    targets: [
        .executableTarget(
            name: "ProtocolBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "AnswerNinjaCore", package: main),
                .product(name: "MediaControl", package: main),
            ],
            path: "Benchmarks/ProtocolBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "MediaBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "AnswerNinjaCore", package: main),
                .product(name: "SRTP", package: main),
                .product(name: "MediaDSP", package: main),
                .product(name: "MediaTransport", package: main),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            path: "Benchmarks/MediaBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "SIPBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "AnswerNinjaCore", package: main),
                .product(name: "SIPMessages", package: main),
                .product(name: "SIPTransactions", package: main),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "HeapModule", package: "swift-collections"),
            ],
            path: "Benchmarks/SIPBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ]
)
