import Foundation

/// A real program started by a test (PostgreSQL, Redis, Kamailio, baresip, tshark, `answer-ninja serve`): its
/// output goes to a log file in its own working directory, it is stopped with SIGTERM (SIGKILL after a bounded
/// wait), and its directory is kept when the test fails so that the logs can be read.
public final class PeerProcess: @unchecked Sendable {
    public let name: String
    public let directory: URL
    public let logFile: URL
    /// The child's pid, which is also its process group: stopping signals the whole group, so helpers it forked
    /// (tshark's dumpcap, Kamailio's children) stop with it.
    public let pid: pid_t
    private let lock = NSLock()
    private var exitStatus: Int32?

    /// Starts `executable` with `arguments` in a new process group; `directory` is created for it under the
    /// artifacts folder, and stdout and stderr go to `<name>.log` there. Arguments must use absolute paths.
    public init(name: String, executable: String, arguments: [String], environment: [String: String]? = nil, directory: URL? = nil) throws {
        self.name = name
        self.directory = try directory ?? PeerEnvironment.makeDirectory(for: name)
        self.logFile = self.directory.appendingPathComponent("\(name).log")
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, logFile.path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setpgroup(&attributes, 0)
        // Default signal handling and an empty mask in the child: a test runner started in the background of a
        // non-interactive shell ignores SIGINT, and children inherit that, so SIGINT would not stop tshark.
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGINT, SIGTERM, SIGQUIT, SIGPIPE, SIGHUP] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        var emptyMask = sigset_t()
        sigemptyset(&emptyMask)
        posix_spawnattr_setsigmask(&attributes, &emptyMask)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        let environmentList = (environment ?? ProcessInfo.processInfo.environment).map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { environmentList.forEach { free($0) } }
        var child: pid_t = 0
        let status = posix_spawn(&child, executable, &actions, &attributes, argv, environmentList)
        guard status == 0 else {
            throw PeerError("cannot start \(name) (\(executable)): \(String(cString: strerror(status)))")
        }
        self.pid = child
    }

    /// Whether the child is still running (reaps it when it has exited).
    public var isRunning: Bool { lock.withLock { reap() } == nil }

    /// The exit status once it has exited (128 + signal number when killed by a signal).
    public var terminationStatus: Int32? { lock.withLock { reap() } }

    /// Collects the exit status without blocking; nil while the child runs.
    private func reap() -> Int32? {
        if let exitStatus { return exitStatus }
        var status: Int32 = 0
        let result = waitpid(pid, &status, WNOHANG)
        if result == -1 && errno == ECHILD {
            exitStatus = -1  // reaped elsewhere: gone, status unknown
            return exitStatus
        }
        guard result == pid else { return nil }
        let signal = status & 0x7f
        exitStatus = signal == 0 ? (status >> 8) & 0xff : 128 + signal
        return exitStatus
    }

    /// The log so far.
    public func log() -> String {
        (try? String(contentsOf: logFile, encoding: .utf8)) ?? ""
    }

    /// The last `lines` lines of the log, for failure messages.
    public func logTail(_ lines: Int = 30) -> String {
        log().split(separator: "\n", omittingEmptySubsequences: false).suffix(lines).joined(separator: "\n")
    }

    /// Sends `signal` to the process group, waits up to `timeout` for the exit, then kills the group. Returns
    /// the exit status. Bounded: it never waits longer than `timeout` plus five seconds.
    @discardableResult
    public func stop(signal: Int32 = SIGTERM, timeout: Duration = .seconds(10)) async -> Int32 {
        if isRunning { kill(-pid, signal) }
        if let status = await waitForExit(timeout: timeout) {
            kill(-pid, SIGKILL)  // whatever the leader left behind in its group
            return status
        }
        kill(-pid, SIGKILL)
        return await waitForExit(timeout: .seconds(5)) ?? 128 + SIGKILL
    }

    /// Waits for the process to exit by itself within `timeout`; nil if it is still running.
    public func waitForExit(timeout: Duration) async -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let status = terminationStatus { return status }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return terminationStatus
    }

    /// Polls `check` every `interval` until it returns true, for at most `timeout`; fails with the log's tail.
    public func waitUntilReady(timeout: Duration = .seconds(30), interval: Duration = .milliseconds(100), _ check: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        var lastError: (any Error)?
        while ContinuousClock.now < deadline {
            if let status = terminationStatus {
                throw PeerError("\(name) exited with status \(status) before it was ready; log \(logFile.path):\n\(logTail())")
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

    /// Removes the working directory unless `NINJA_KEEP_PEER_LOGS` is set.
    public func removeDirectory() {
        guard ProcessInfo.processInfo.environment["NINJA_KEEP_PEER_LOGS"] == nil else { return }
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
