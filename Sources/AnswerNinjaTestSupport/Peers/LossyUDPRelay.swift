import Foundation
import NIOCore
import NIOPosix

/// A UDP relay the test owns, between one client and a target on loopback: what the client sends to `port` goes to
/// the target from the relay's other socket, and the target's answers go back to the client. `drop` decides, per
/// datagram and direction, what is lost on the way; every datagram is recorded with whether it was dropped.
public final class LossyUDPRelay: Sendable {
    public enum Direction: Sendable { case toTarget, toClient }

    public struct Datagram: Sendable {
        public var direction: Direction
        public var text: String
        public var dropped: Bool
    }

    private let front: any Channel
    private let back: any Channel
    private let state: State

    /// The port clients send to.
    public var port: Int { front.localAddress?.port ?? 0 }

    public static func start(target: Int, drop: @escaping @Sendable (Direction, String) -> Bool) async throws -> LossyUDPRelay {
        let state = State(drop: drop)
        let group = MultiThreadedEventLoopGroup.singleton
        let targetAddress = try SocketAddress(ipAddress: "127.0.0.1", port: target)
        let back = try await DatagramBootstrap(group: group).bind(host: "127.0.0.1", port: 0).get()
        let front = try await DatagramBootstrap(group: group).bind(host: "127.0.0.1", port: 0).get()
        try await front.pipeline.addHandler(Forwarder(state: state, direction: .toTarget, out: back, fixedDestination: targetAddress)).get()
        try await back.pipeline.addHandler(Forwarder(state: state, direction: .toClient, out: front, fixedDestination: nil)).get()
        return LossyUDPRelay(front: front, back: back, state: state)
    }

    private init(front: any Channel, back: any Channel, state: State) {
        self.front = front
        self.back = back
        self.state = state
    }

    /// Everything relayed or dropped so far, in order.
    public var datagrams: [Datagram] { state.snapshot() }

    public func stop() async {
        try? await front.close()
        try? await back.close()
    }

    private final class State: @unchecked Sendable {
        // Guarded by `lock`; touched from the two channels' event loops and the test.
        private let lock = NSLock()
        private var log: [Datagram] = []
        private var client: SocketAddress?
        let drop: @Sendable (Direction, String) -> Bool

        init(drop: @escaping @Sendable (Direction, String) -> Bool) { self.drop = drop }

        /// Records the datagram; returns where to send it, or nil to drop it.
        func route(_ direction: Direction, text: String, from source: SocketAddress, fixed: SocketAddress?) -> SocketAddress? {
            lock.withLock {
                if direction == .toTarget { client = source }
                let dropped = drop(direction, text)
                log.append(Datagram(direction: direction, text: text, dropped: dropped))
                return dropped ? nil : (fixed ?? client)
            }
        }

        func snapshot() -> [Datagram] { lock.withLock { log } }
    }

    private final class Forwarder: ChannelInboundHandler, @unchecked Sendable {
        // Lives on its channel's event loop; `out` is written to through its thread-safe Channel API.
        typealias InboundIn = AddressedEnvelope<ByteBuffer>
        let state: State
        let direction: Direction
        let out: any Channel
        let fixedDestination: SocketAddress?

        init(state: State, direction: Direction, out: any Channel, fixedDestination: SocketAddress?) {
            self.state = state
            self.direction = direction
            self.out = out
            self.fixedDestination = fixedDestination
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let envelope = unwrapInboundIn(data)
            let text = String(decoding: envelope.data.readableBytesView, as: UTF8.self)
            guard let destination = state.route(direction, text: text, from: envelope.remoteAddress, fixed: fixedDestination) else { return }
            out.writeAndFlush(AddressedEnvelope(remoteAddress: destination, data: envelope.data), promise: nil)
        }
    }
}
