import Foundation

/// A throwaway Redis on a free loopback port, without persistence.
public struct RedisPeer: StoppablePeer {
    public let process: PeerProcess
    public let port: Int

    public var url: String { "redis://127.0.0.1:\(port)/0" }

    public static func start() async throws -> RedisPeer {
        try await PeerEnvironment.onFreePort { try await launch(port: $0) }
    }

    /// The same server started again on its port (after `stop()` or a kill), empty.
    public func restarted() async throws -> RedisPeer {
        if process.isRunning { await process.stop() }
        return try await Self.launch(port: port)
    }

    /// Freezes the server (`SIGSTOP`): it keeps its socket but answers nothing, as a hung Redis does.
    public func freeze() { kill(process.pid, SIGSTOP) }

    /// Lets a frozen server go on (`SIGCONT`).
    public func thaw() { kill(process.pid, SIGCONT) }

    private static func launch(port: Int) async throws -> RedisPeer {
        let server = try PeerEnvironment.require("redis-server", package: "redis-server")
        let process = try PeerProcess(
            name: "redis", executable: server,
            arguments: ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--protected-mode", "yes"]
        )
        let peer = RedisPeer(process: process, port: port)
        do {
            try await process.waitUntilReady(timeout: .seconds(20)) { try await peer.command(["PING"]) == "PONG" }
        } catch {
            await process.stop()
            throw error
        }
        return peer
    }

    /// Runs one command through redis-cli and returns its output.
    public func command(_ arguments: [String]) async throws -> String {
        let cli = try PeerEnvironment.require("redis-cli", package: "redis-tools")
        let result = try await PeerEnvironment.run(cli, ["-h", "127.0.0.1", "-p", String(port)] + arguments, timeout: .seconds(5))
        guard result.status == 0 else { throw PeerError("redis-cli failed: \(result.output)") }
        return result.output.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
