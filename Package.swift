// swift-tools-version:6.2
// Answer Ninja: one package, one executable, modules by layer (see docs/architecture.md).
// Layers, bottom to top; a target may depend only on targets of its own layer or below
// (tools/check-layers enforces it, CI builds with --explicit-target-dependency-import-check error):
//   0 AnswerNinjaCore (shared: configuration, internal protocols, telemetry, shared types)
//   1 C system-library targets (modulemap + shim header, found by pkg-config)
//   2 wire and state machines, no I/O
//   3 transports and sessions on SwiftNIO
//   4 domain
//   5 services
//   6 executable
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
]

// MARK: - Layer 1: C system libraries (Debian -dev packages, see tools/setup)

func systemLibrary(_ name: String, pkgConfig: String, apt: String) -> Target {
    .systemLibrary(
        name: name,
        path: "Sources/C/\(name)",
        pkgConfig: pkgConfig,
        providers: [.apt([apt])]
    )
}

let cTargets: [Target] = [
    systemLibrary("CSRTP", pkgConfig: "libsrtp2", apt: "libsrtp2-dev"),
    systemLibrary("COpus", pkgConfig: "opus", apt: "libopus-dev"),
    systemLibrary("CSpeexDSP", pkgConfig: "speexdsp", apt: "libspeexdsp-dev"),
    systemLibrary("CPostgres", pkgConfig: "libpq", apt: "libpq-dev"),
    systemLibrary("CHiredis", pkgConfig: "hiredis", apt: "libhiredis-dev"),
    systemLibrary("CSQLite", pkgConfig: "sqlite3", apt: "libsqlite3-dev"),
    systemLibrary("CPocketSphinx", pkgConfig: "pocketsphinx", apt: "libpocketsphinx-dev"),
    systemLibrary("CEspeakNG", pkgConfig: "espeak-ng", apt: "libespeak-ng-dev"),
    systemLibrary("COpenSSL", pkgConfig: "libcrypto", apt: "libssl-dev"),
    // glibc's stub resolver (libc6-dev): no pkg-config file.
    .systemLibrary(name: "CResolv", path: "Sources/C/CResolv"),
    // The calling thread's capabilities (capget/capset; the kernel's headers, linux-libc-dev): nothing to link.
    .systemLibrary(name: "CCapability", path: "Sources/C/CCapability"),
]

// MARK: - Products of the dependencies

let nioCore = Target.Dependency.product(name: "NIOCore", package: "swift-nio")
let nioPosix = Target.Dependency.product(name: "NIOPosix", package: "swift-nio")
let nioConcurrency = Target.Dependency.product(name: "NIOConcurrencyHelpers", package: "swift-nio")
let nioEmbedded = Target.Dependency.product(name: "NIOEmbedded", package: "swift-nio")
let nioSSL = Target.Dependency.product(name: "NIOSSL", package: "swift-nio-ssl")
let nioTLS = Target.Dependency.product(name: "NIOTLS", package: "swift-nio")
let nioExtras = Target.Dependency.product(name: "NIOExtras", package: "swift-nio-extras")
let logging = Target.Dependency.product(name: "Logging", package: "swift-log")
let metrics = Target.Dependency.product(name: "Metrics", package: "swift-metrics")
let coreMetrics = Target.Dependency.product(name: "CoreMetrics", package: "swift-metrics")
let prometheus = Target.Dependency.product(name: "Prometheus", package: "swift-prometheus")
let serviceLifecycle = Target.Dependency.product(name: "ServiceLifecycle", package: "swift-service-lifecycle")
let hummingbird = Target.Dependency.product(name: "Hummingbird", package: "hummingbird")
let hummingbirdTesting = Target.Dependency.product(name: "HummingbirdTesting", package: "hummingbird")
let hummingbirdTLS = Target.Dependency.product(name: "HummingbirdTLS", package: "hummingbird")
let hummingbirdWebSocket = Target.Dependency.product(name: "HummingbirdWebSocket", package: "hummingbird-websocket")
let hummingbirdWSClient = Target.Dependency.product(name: "HummingbirdWSClient", package: "hummingbird-websocket")
let hummingbirdAuth = Target.Dependency.product(name: "HummingbirdAuth", package: "hummingbird-auth")
let hummingbirdOTP = Target.Dependency.product(name: "HummingbirdOTP", package: "hummingbird-auth")
let hummingbirdBcrypt = Target.Dependency.product(name: "HummingbirdBcrypt", package: "hummingbird-auth")
let argumentParser = Target.Dependency.product(name: "ArgumentParser", package: "swift-argument-parser")
let jwtKit = Target.Dependency.product(name: "JWTKit", package: "jwt-kit")
let mustache = Target.Dependency.product(name: "Mustache", package: "swift-mustache")
let asyncHTTPClient = Target.Dependency.product(name: "AsyncHTTPClient", package: "async-http-client")
let dequeModule = Target.Dependency.product(name: "DequeModule", package: "swift-collections")
let crypto = Target.Dependency.product(name: "Crypto", package: "swift-crypto")
let x509 = Target.Dependency.product(name: "X509", package: "swift-certificates")

// MARK: - Targets by layer

let targets: [Target] = cTargets + [
    // Layer 0: shared contracts.
    .target(
        name: "AnswerNinjaCore",
        dependencies: [nioCore, logging, coreMetrics],
        swiftSettings: swiftSettings
    ),

    // Layer 2: wire and state machines (no sockets, no clocks read).
    .target(name: "RTP", dependencies: ["AnswerNinjaCore", nioCore], swiftSettings: swiftSettings),
    .target(name: "SRTP", dependencies: ["AnswerNinjaCore", "CSRTP", "COpenSSL", nioCore], swiftSettings: swiftSettings),
    .target(name: "Codecs", dependencies: ["AnswerNinjaCore", "COpus"], swiftSettings: swiftSettings),
    .target(name: "MediaDSP", dependencies: ["AnswerNinjaCore", "CSpeexDSP"], swiftSettings: swiftSettings),
    .target(name: "SIPMessages", dependencies: ["AnswerNinjaCore", nioCore], swiftSettings: swiftSettings),
    .target(name: "SDP", dependencies: ["AnswerNinjaCore", "SRTP", nioCore], swiftSettings: swiftSettings),
    .target(name: "SIPTransactions", dependencies: ["AnswerNinjaCore", "SIPMessages", nioCore, dequeModule], swiftSettings: swiftSettings),
    .target(name: "SIPDialogs", dependencies: ["AnswerNinjaCore", "SIPMessages", "SIPTransactions", nioCore], swiftSettings: swiftSettings),
    .target(name: "SIPAuth", dependencies: ["AnswerNinjaCore", "SIPMessages", crypto], swiftSettings: swiftSettings),
    .target(name: "SIPLocator", dependencies: ["AnswerNinjaCore", "SIPMessages"], swiftSettings: swiftSettings),
    .target(name: "SIPIdentity", dependencies: ["AnswerNinjaCore", crypto, x509], swiftSettings: swiftSettings),
    .target(name: "MediaControl", dependencies: ["AnswerNinjaCore"], swiftSettings: swiftSettings),

    // Layer 3: transports and sessions on SwiftNIO.
    .target(name: "SIPTransport", dependencies: ["AnswerNinjaCore", "SIPMessages", "SIPLocator", "CResolv", nioCore, nioPosix, nioSSL, nioTLS], swiftSettings: swiftSettings),
    .target(
        name: "MediaTransport",
        dependencies: ["AnswerNinjaCore", "MediaControl", "RTP", "SRTP", "Codecs", "MediaDSP", "CCapability", nioCore, nioPosix, nioConcurrency],
        swiftSettings: swiftSettings
    ),
    .target(name: "Capture", dependencies: ["AnswerNinjaCore", "RTP", "Codecs", nioCore, nioExtras], swiftSettings: swiftSettings),

    // Layer 4: domain.
    .target(
        name: "Store",
        dependencies: ["AnswerNinjaCore", "Screening", "CSQLite", "CPostgres", "CHiredis", nioCore, nioPosix, nioConcurrency, logging],
        resources: [.copy("Migrations/sqlite"), .copy("Migrations/postgres")],
        swiftSettings: swiftSettings
    ),
    .target(name: "Screening", dependencies: ["AnswerNinjaCore", "Conversation", jwtKit, crypto], swiftSettings: swiftSettings),
    .target(
        name: "Speech",
        dependencies: ["AnswerNinjaCore", "Capture", "Codecs", "MediaDSP", "CPocketSphinx", "CEspeakNG", asyncHTTPClient, nioCore, nioPosix],
        resources: [.copy("Resources/en-us-telephone")],
        swiftSettings: swiftSettings
    ),
    .target(
        name: "Conversation",
        dependencies: ["AnswerNinjaCore"],
        resources: [.copy("Resources/intent-model.json")],
        swiftSettings: swiftSettings
    ),

    // Layer 5: services.
    .target(
        name: "AnswerNinjaServices",
        dependencies: [
            "AnswerNinjaCore", "Store", "Screening", "MediaControl", "MediaTransport", "SRTP", "Codecs", "MediaDSP", "Speech", "Conversation", "Capture",
            "SIPMessages", "SDP", "SIPTransactions", "SIPDialogs", "SIPTransport", "SIPAuth", "SIPIdentity", "SIPLocator",
            hummingbird, hummingbirdTLS, hummingbirdWebSocket, hummingbirdWSClient, hummingbirdAuth, hummingbirdOTP, hummingbirdBcrypt,
            mustache, asyncHTTPClient, serviceLifecycle, logging, metrics, coreMetrics, prometheus, nioCore, nioPosix, nioSSL, jwtKit, crypto,
        ],
        swiftSettings: swiftSettings
    ),

    // Layer 6: the executable, one file per subcommand.
    .executableTarget(
        name: "AnswerNinjaCLI",
        dependencies: ["AnswerNinjaCore", "AnswerNinjaServices", "Capture", "Conversation", "MediaDSP", "Speech", "RTP", "SIPMessages", "SIPIdentity", "SIPLocator", "SIPTransport", crypto, argumentParser, logging, metrics, nioCore],
        path: "Sources/answer-ninja",
        swiftSettings: swiftSettings
    ),

    // Test support: the manual clock and the real-peer harness.
    .target(name: "AnswerNinjaTestSupport", dependencies: ["AnswerNinjaCore", nioCore, nioPosix, logging], swiftSettings: swiftSettings),

    // Tests, in tiers (tools/test): *UnitTests have no sockets; PeerTests start real peers; EndToEndTests run `serve`.
    .testTarget(name: "CoreUnitTests", dependencies: ["AnswerNinjaCore", "AnswerNinjaTestSupport", nioCore], swiftSettings: swiftSettings),
    .testTarget(name: "MediaControlUnitTests", dependencies: ["MediaControl", "AnswerNinjaCore", "AnswerNinjaTestSupport"], swiftSettings: swiftSettings),
    .testTarget(name: "CaptureUnitTests", dependencies: ["Capture", "RTP", nioCore], swiftSettings: swiftSettings),
    .testTarget(name: "SRTPUnitTests", dependencies: ["SRTP", nioCore], swiftSettings: swiftSettings),
    .testTarget(name: "MediaDSPUnitTests", dependencies: ["MediaDSP", "Codecs", "AnswerNinjaCore"], swiftSettings: swiftSettings),
    .testTarget(name: "CodecsUnitTests", dependencies: ["Codecs", "AnswerNinjaCore"], swiftSettings: swiftSettings),
    .testTarget(name: "RTPUnitTests", dependencies: ["RTP", "AnswerNinjaCore", "AnswerNinjaTestSupport", nioCore], swiftSettings: swiftSettings),
    .testTarget(name: "SIPTransactionsUnitTests", dependencies: ["SIPTransactions", "SIPMessages", "AnswerNinjaCore", nioCore], swiftSettings: swiftSettings),
    .testTarget(name: "SIPDialogsUnitTests", dependencies: ["SIPDialogs", "SIPTransactions", "SIPMessages", "AnswerNinjaCore", nioCore], swiftSettings: swiftSettings),
    .testTarget(name: "SIPIdentityUnitTests", dependencies: ["SIPIdentity", "AnswerNinjaCore", crypto, x509], swiftSettings: swiftSettings),
    .testTarget(name: "SIPLocatorUnitTests", dependencies: ["SIPLocator", "SIPMessages", "AnswerNinjaCore", "AnswerNinjaTestSupport"], swiftSettings: swiftSettings),
    .testTarget(name: "SIPAuthUnitTests", dependencies: ["SIPAuth", "SIPMessages", "AnswerNinjaCore"], swiftSettings: swiftSettings),
    .testTarget(name: "SIPTransportUnitTests", dependencies: ["SIPTransport", "SIPMessages", "AnswerNinjaCore", nioCore], swiftSettings: swiftSettings),
    .testTarget(name: "SDPUnitTests", dependencies: ["SDP", "SRTP", "AnswerNinjaCore"], swiftSettings: swiftSettings),
    .testTarget(
        name: "SIPMessagesUnitTests",
        dependencies: ["SIPMessages", "AnswerNinjaCore", nioCore],
        exclude: ["RFC4475"],
        swiftSettings: swiftSettings
    ),
    .testTarget(
        name: "MediaTransportUnitTests",
        dependencies: ["MediaTransport", "AnswerNinjaCore", "AnswerNinjaTestSupport", "RTP", "SRTP", "Codecs", nioCore],
        swiftSettings: swiftSettings
    ),
    .testTarget(
        name: "ServicesUnitTests",
        dependencies: ["AnswerNinjaServices", "AnswerNinjaCore", "Store", "Screening", "AnswerNinjaTestSupport", "Capture", nioCore, hummingbird, hummingbirdTesting, hummingbirdOTP, logging],
        swiftSettings: swiftSettings
    ),
    .testTarget(name: "StoreUnitTests", dependencies: ["Store", "AnswerNinjaCore"], swiftSettings: swiftSettings),
    .testTarget(name: "ScreeningUnitTests", dependencies: ["Screening", "AnswerNinjaCore"], swiftSettings: swiftSettings),
    .testTarget(name: "SpeechUnitTests", dependencies: ["Speech", "Codecs", "MediaDSP", "AnswerNinjaCore"], swiftSettings: swiftSettings),
    .testTarget(name: "ConversationUnitTests", dependencies: ["Conversation", "AnswerNinjaCore", crypto], swiftSettings: swiftSettings),
    .testTarget(
        name: "PeerTests",
        dependencies: ["AnswerNinjaTestSupport", "AnswerNinjaCore", "AnswerNinjaServices", "Conversation", "Speech", "Store", "Screening", "Capture", "RTP", "MediaDSP", "Codecs", hummingbird, hummingbirdTesting, hummingbirdOTP, logging, nioCore, nioPosix, nioSSL, crypto],
        swiftSettings: swiftSettings
    ),
    .testTarget(name: "EndToEndTests", dependencies: ["AnswerNinjaTestSupport", "AnswerNinjaCore", "Store", hummingbirdWSClient, logging], swiftSettings: swiftSettings),
]

let package = Package(
    name: "answer-ninja",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "answer-ninja", targets: ["AnswerNinjaCLI"]),
        // Libraries for the Benchmarks/ and Fuzz/ packages (which CI never compiles).
        .library(name: "AnswerNinjaCore", targets: ["AnswerNinjaCore"]),
        .library(name: "MediaControl", targets: ["MediaControl"]),
        .library(name: "RTP", targets: ["RTP"]),
        .library(name: "SRTP", targets: ["SRTP"]),
        .library(name: "Codecs", targets: ["Codecs"]),
        .library(name: "MediaDSP", targets: ["MediaDSP"]),
        .library(name: "MediaTransport", targets: ["MediaTransport"]),
        .library(name: "SIPMessages", targets: ["SIPMessages"]),
        .library(name: "SIPTransactions", targets: ["SIPTransactions"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket.git", from: "2.8.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth.git", from: "2.5.0"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", from: "2.1.1"),
        .package(url: "https://github.com/vapor/jwt-kit.git", from: "5.7.1"),
    ],
    targets: targets
)
