// swift-tools-version:6.2
// libFuzzer targets for Answer Ninja's parsers of untrusted input. A separate package so that CI never compiles
// it. Build and run from this folder (docs/fuzzing.md):
//   swift build -c release -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library
//   .build/release/FuzzProtocolFrames -max_total_time=60 corpus/protocol-frames
// Every crash found is kept as a named regression test in the main package's unit tests.
import Foundation
import PackageDescription

/// SwiftPM names a path dependency after its folder: the checkout's folder name, whatever it is.
let main = URL(fileURLWithPath: Context.packageDirectory).deletingLastPathComponent().lastPathComponent.lowercased()

let package = Package(
    name: "answer-ninja-fuzz",
    platforms: [.macOS(.v15)],
    dependencies: [.package(path: ".."), .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2")],
    targets: [
        .target(name: "FuzzSupport"),
        .executableTarget(name: "FuzzProtocolFrames", dependencies: ["FuzzSupport", .product(name: "AnswerNinjaCore", package: main)]),
        .executableTarget(name: "FuzzConfigurationFile", dependencies: ["FuzzSupport", .product(name: "AnswerNinjaCore", package: main)]),
        .executableTarget(
            name: "FuzzSIPMessages",
            dependencies: ["FuzzSupport", .product(name: "SIPMessages", package: main), .product(name: "NIOCore", package: "swift-nio")]
        ),
    ]
)
