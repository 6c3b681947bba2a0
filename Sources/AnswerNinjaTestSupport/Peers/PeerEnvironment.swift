import Foundation

/// Where peers come from and go: executables looked up on PATH (a missing one fails under `CI=true`, where the
/// tests must never skip), working directories under the artifacts folder, free loopback ports.
public enum PeerEnvironment {
    /// True when running in CI: a missing peer is then a failure, not a skip.
    public static var isCI: Bool { ProcessInfo.processInfo.environment["CI"] == "true" }

    /// The folder for peers' working directories and logs (`NINJA_TEST_ARTIFACTS`, or a temporary one).
    public static var artifacts: URL {
        let path = ProcessInfo.processInfo.environment["NINJA_TEST_ARTIFACTS"] ?? (NSTemporaryDirectory() + "answer-ninja-tests")
        return URL(fileURLWithPath: path)
    }

    /// A fresh directory under the artifacts folder, for a test's own files (a data directory shared by two runs).
    public static func artifactsDirectory(named name: String) throws -> URL {
        try makeDirectory(for: name)
    }

    /// A new uniquely named directory for `name` under `root` (the artifacts folder by default).
    static func makeDirectory(for name: String, under root: URL = artifacts) throws -> URL {
        let directory = root.appendingPathComponent("\(name)-\(getpid())-\(UInt32.random(in: 0 ... .max))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return directory
    }

    /// The full path of `name` on PATH or in `extra` folders, or nil.
    public static func find(_ name: String, extra: [String] = []) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for folder in path.split(separator: ":").map(String.init) + extra + ["/usr/sbin", "/sbin"] {
            let candidate = folder + "/" + name
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// The executable or a clear failure naming the Debian package to install.
    public static func require(_ name: String, package: String, extra: [String] = []) throws -> String {
        guard let found = find(name, extra: extra) else {
            throw PeerError("\(name) not found: install the Debian package \(package) (tools/setup does)")
        }
        return found
    }

    /// Whether a peer's tests should run: always under CI (a missing executable then fails the test), otherwise
    /// only when the executable is installed.
    public static func available(_ name: String, extra: [String] = []) -> Bool {
        isCI || find(name, extra: extra) != nil
    }

    /// A loopback port that was free for both UDP and TCP a moment ago (the kernel picked it).
    /// Starts a server on a port picked free, and on another one (three tries in all) when the server says the port
    /// was taken before it could bind it (peers start in parallel; seen in CI).
    public static func onFreePort<T>(_ start: (Int) async throws -> T) async throws -> T {
        var attempt = 0
        while true {
            attempt += 1
            do {
                return try await start(try freePort())
            } catch where attempt < 3 && "\(error)".contains("already in use") {
                continue
            }
        }
    }

    public static func freePort() throws -> Int {
        for _ in 0..<20 {
            let port = try bindEphemeral(type: Int32(SOCK_STREAM.rawValue))
            if canBind(port: port, type: Int32(SOCK_DGRAM.rawValue)) { return port }
        }
        throw PeerError("no free loopback port for both TCP and UDP after 20 tries")
    }

    private static func bindEphemeral(type: Int32) throws -> Int {
        let fd = socket(AF_INET, type, 0)
        guard fd >= 0 else { throw PeerError("socket: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var address = loopback(port: 0)
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard bound == 0 else { throw PeerError("bind: \(String(cString: strerror(errno)))") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    private static func canBind(port: Int, type: Int32) -> Bool {
        let fd = socket(AF_INET, type, 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = loopback(port: port)
        return withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } } == 0
    }

    /// `127.0.0.host:port` (the whole 127.0.0.0/8 is loopback: tests use 127.0.0.2 as a second source).
    static func loopback(port: Int, host: UInt8 = 1) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = (UInt32(0x7F00_0000) | UInt32(host)).bigEndian
        return address
    }

    /// Runs a short command to completion (bounded by `timeout`) and returns its status and output.
    ///
    /// Spawned and reaped by `PeerProcess` (posix_spawn, then waitpid on its own pid): Foundation's `Process` on
    /// Linux sometimes never saw a child's exit here (an `openssl ecparam` of a few milliseconds "did not finish
    /// within 30 s", twice in CI), and the output goes to a file rather than a pipe, so nothing blocks on a read.
    public static func run(_ executable: String, _ arguments: [String], timeout: Duration = .seconds(30)) async throws -> (status: Int32, output: String) {
        let directory = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("answer-ninja-run-\(getpid())-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let process = try PeerProcess(name: "run", executable: executable, arguments: arguments, directory: directory)
        guard let status = await process.waitForExit(timeout: timeout) else {
            await process.stop(signal: SIGKILL, timeout: .seconds(5))
            throw PeerError("\(executable) \(arguments.joined(separator: " ")) did not finish within \(timeout)")
        }
        return (status, String(decoding: (try? Data(contentsOf: process.logFile)) ?? Data(), as: UTF8.self))
    }
}
