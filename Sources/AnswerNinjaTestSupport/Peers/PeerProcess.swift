import Foundation

/// A real program started by a test (PostgreSQL, Redis, Kamailio, baresip, tshark, `answer-ninja serve`): its
/// output goes to a log file in its own working directory, it is stopped with SIGTERM (SIGKILL after a bounded
/// wait), and its directory is kept when the test fails so that the logs can be read.
public final class PeerProcess: @unchecked Sendable {
    public let name: String
    public let directory: URL
    public let logFile: URL
    private let process: Process
    private let lock = NSLock()
    private var stopped = false

    /// Starts `executable` with `arguments`; `directory` is created for it under the artifacts folder.
    public init(name: String, executable: String, arguments: [String], environment: [String: String]? = nil, directory: URL? = nil) throws {
        self.name = name
        self.directory = try directory ?? PeerEnvironment.makeDirectory(for: name)
        self.logFile = self.directory.appendingPathComponent("\(name).log")
        FileManager.default.createFile(atPath: logFile.path, contents: nil)
        let log = try FileHandle(forWritingTo: logFile)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.currentDirectoryURL = self.directory
        if let environment { process.environment = environment }
        process.standardOutput = log
        process.standardError = log
        process.standardInput = FileHandle.nullDevice
        self.process = process
        do {
            try process.run()
        } catch {
            throw PeerError("cannot start \(name) (\(executable)): \(error)")
        }
    }

    public var pid: Int32 { process.processIdentifier }
    public var isRunning: Bool { process.isRunning }

    /// The log so far.
    public func log() -> String {
        (try? String(contentsOf: logFile, encoding: .utf8)) ?? ""
    }

    /// The last `lines` lines of the log, for failure messages.
    public func logTail(_ lines: Int = 30) -> String {
        log().split(separator: "\n", omittingEmptySubsequences: false).suffix(lines).joined(separator: "\n")
    }

    /// Sends `signal`, waits up to `timeout` for the exit, then kills. Returns the exit status.
    @discardableResult
    public func stop(signal: Int32 = SIGTERM, timeout: Duration = .seconds(10)) async -> Int32 {
        let first = lock.withLock { () -> Bool in
            defer { stopped = true }
            return !stopped
        }
        if first && process.isRunning { kill(process.processIdentifier, signal) }
        let deadline = ContinuousClock.now + timeout
        while process.isRunning && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            while process.isRunning { try? await Task.sleep(for: .milliseconds(20)) }
        }
        return process.terminationStatus
    }

    /// Waits for the process to exit by itself within `timeout`; nil if it is still running.
    public func waitForExit(timeout: Duration) async -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        return process.isRunning ? nil : process.terminationStatus
    }

    /// Polls `check` every `interval` until it returns true, for at most `timeout`; fails with the log's tail.
    public func waitUntilReady(timeout: Duration = .seconds(30), interval: Duration = .milliseconds(100), _ check: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        var lastError: (any Error)?
        while ContinuousClock.now < deadline {
            guard process.isRunning else {
                throw PeerError("\(name) exited with status \(process.terminationStatus) before it was ready; log \(logFile.path):\n\(logTail())")
            }
            do {
                if try await check() { return }
            } catch {
                lastError = error
            }
            try await Task.sleep(for: interval)
        }
        throw PeerError("\(name) not ready after \(timeout)\(lastError.map { " (last error: \($0))" } ?? ""); log \(logFile.path):\n\(logTail())")
    }

    /// Removes the working directory unless `ANSWER_NINJA_KEEP_PEER_LOGS` is set.
    public func removeDirectory() {
        guard ProcessInfo.processInfo.environment["ANSWER_NINJA_KEEP_PEER_LOGS"] == nil else { return }
        try? FileManager.default.removeItem(at: directory)
    }
}

/// A failure of the harness: a peer missing, not starting or not becoming ready.
public struct PeerError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Runs `body` with a started peer and always stops it; keeps its directory (and says where) if `body` throws.
public func withPeer<Peer: StoppablePeer, Result>(_ peer: Peer, _ body: (Peer) async throws -> Result) async throws -> Result {
    do {
        let result = try await body(peer)
        await peer.stop()
        peer.process.removeDirectory()
        return result
    } catch {
        await peer.stop()
        FileHandle.standardError.write(Data("\(peer.process.name) logs kept in \(peer.process.directory.path)\n".utf8))
        throw error
    }
}

/// A started peer wrapping a `PeerProcess`.
public protocol StoppablePeer: Sendable {
    var process: PeerProcess { get }
    func stop() async
}

extension StoppablePeer {
    public func stop() async { await process.stop() }
}
