import Foundation
import NIOConcurrencyHelpers
import NIOPosix

/// Redis commands on threads of their own (hiredis blocks): as many threads as connections, a connection made on
/// first need and dropped after any error (hiredis leaves a context unusable then), so that a restarted server is
/// reached again by the next command.
public final class RedisClient: Sendable {
    public let settings: RedisSettings
    private let threads: NIOThreadPool
    private let idle = NIOLockedValueBox<[ConnectionBox]>([])

    public init(settings: RedisSettings, connections: Int = 2) {
        self.settings = settings
        threads = NIOThreadPool(numberOfThreads: max(1, connections))
        threads.start()
    }

    /// Runs one command; throws `unavailable` when Redis cannot be reached or does not answer within the command
    /// timeout, and `redis` for an error reply.
    @discardableResult
    public func command(_ arguments: [String]) async throws -> RedisReply {
        let reply = try await threads.runIfActive { [settings, idle] () throws -> RedisReply in
            let box = try idle.withLockedValue { $0.popLast() } ?? ConnectionBox(RedisConnection(settings: settings))
            let reply = try box.connection.command(arguments)
            if !box.connection.isBroken { idle.withLockedValue { $0.append(box) } }
            return reply
        }
        if case .error(let message) = reply { throw StoreError(code: .init("redis"), message: "\(arguments.first ?? "") : \(message)") }
        return reply
    }

    public func close() async throws {
        try await threads.shutdownGracefully()
        idle.withLockedValue { $0.removeAll() }
    }

    struct ConnectionBox: @unchecked Sendable {
        let connection: RedisConnection
        init(_ connection: RedisConnection) { self.connection = connection }
    }
}

/// One thread that holds a Redis connection in `PSUBSCRIBE prefix*` and hands each message to `deliver`. It
/// reconnects (every `retry`) whenever the connection is lost; `stop` shuts the socket down to wake it.
final class RedisSubscriber: Sendable {
    private let settings: RedisSettings
    private let pattern: String
    private let deliver: @Sendable (_ channel: String, _ message: String) -> Void
    private let state = NIOLockedValueBox<(stopped: Bool, socket: Int32?, connected: Bool)>((false, nil, false))

    init(settings: RedisSettings, pattern: String, deliver: @escaping @Sendable (String, String) -> Void) {
        self.settings = settings
        self.pattern = pattern
        self.deliver = deliver
        let thread = Thread { [self] in self.loop() }
        thread.name = "redis-subscriber"
        thread.start()
    }

    /// Subscribed now (messages published from now on arrive).
    var isConnected: Bool { state.withLockedValue { $0.connected } }

    func stop() {
        state.withLockedValue { state in
            state.stopped = true
            if let socket = state.socket { shutdown(socket, Int32(SHUT_RDWR)) }
        }
    }

    private func loop() {
        while !state.withLockedValue({ $0.stopped }) {
            // Outside the `do`: the socket is forgotten (under the lock) before the connection closes it, so that
            // `stop` never shuts down a descriptor number the system has given to someone else.
            var held: RedisConnection?
            defer { withExtendedLifetime(held) {} }
            do {
                let connection = try RedisConnection(settings: settings)
                held = connection
                let confirmation = try connection.command(["PSUBSCRIBE", pattern])
                guard case .array = confirmation else { throw StoreError(code: .init("redis"), message: "PSUBSCRIBE: \(confirmation)") }
                connection.waitWithoutTimeout()
                let stopped = state.withLockedValue { state in
                    state.socket = connection.socket
                    state.connected = true
                    return state.stopped
                }
                if stopped { break }
                while true {
                    let reply = try connection.nextReply()
                    // ["pmessage", pattern, channel, message]
                    if case .array(let parts) = reply, parts.count == 4, parts[0].string == "pmessage", let channel = parts[2].string, let message = parts[3].string {
                        deliver(channel, message)
                    }
                }
            } catch {
                state.withLockedValue {
                    $0.socket = nil
                    $0.connected = false
                }
                if state.withLockedValue({ $0.stopped }) { break }
                Thread.sleep(forTimeInterval: 0.25)
            }
        }
    }
}
