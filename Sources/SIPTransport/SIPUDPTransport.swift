import AnswerNinjaCore
import NIOCore
import NIOPosix
import SIPMessages

/// SIP over UDP (RFC 3261 §18): one socket, each datagram one message. A source over its rate and a known scanner
/// are dropped silently (`SIPFloodGuard`); messages that parse go to `onMessage`; requests that do not are answered
/// statelessly with their 400/505/513 and a reason (`SIPStatelessResponder`); anything else is dropped.
public final class SIPUDPTransport: Sendable {
    private let channel: any Channel
    public let localAddress: SocketAddress

    private init(channel: any Channel) {
        self.channel = channel
        localAddress = channel.localAddress!
    }

    /// Binds `host:port` (0 picks a free port) and calls `onMessage` on the event loop for every message.
    public static func bind(
        host: String, port: Int, group: any EventLoopGroup, flood: SIPFloodGuard.Configuration = .init(),
        onEvent: @escaping @Sendable (SIPTransportEvent) -> Void = { _ in }, onMessage: @escaping @Sendable (SIPIncoming) -> Void
    ) async throws -> SIPUDPTransport {
        let channel = try await DatagramBootstrap(group: group)
            .channelOption(.socketOption(.so_reuseaddr), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(Handler(flood: SIPFloodGuard(configuration: flood), onEvent: onEvent, onMessage: onMessage))
                }
            }
            .bind(host: host, port: port)
            .get()
        return SIPUDPTransport(channel: channel)
    }

    /// Sends `message` to `destination`.
    public func send(_ message: SIPMessage, to destination: SocketAddress) {
        var buffer = channel.allocator.buffer(capacity: 1024)
        buffer.writeSIPMessage(message)
        channel.writeAndFlush(AddressedEnvelope(remoteAddress: destination, data: buffer), promise: nil)
    }

    /// The socket's receive queue as the kernel sees it (Linux `SO_MEMINFO`): what waits to be read, the buffer's
    /// size, and the datagrams dropped because it was full. nil where the option does not exist.
    public struct ReceiveQueue: Sendable, Equatable {
        public var queuedBytes: Int
        public var bufferBytes: Int
        public var drops: Int
    }

    /// Reads `ReceiveQueue` on the socket's event loop (a cheap getsockopt).
    public func receiveQueue() -> EventLoopFuture<ReceiveQueue?> {
        guard let provider = channel as? any SocketOptionProvider else { return channel.eventLoop.makeSucceededFuture(nil) }
        #if os(Linux)
        // SO_MEMINFO (55) fills SK_MEMINFO_VARS u32s: rmem_alloc, rcvbuf, wmem_alloc, sndbuf, fwd_alloc,
        // wmem_queued, optmem, backlog, drops.
        let future: EventLoopFuture<MemoryInfo> = provider.unsafeGetSocketOption(level: SocketOptionLevel(SOL_SOCKET), name: SocketOptionName(55))
        return future.map { ReceiveQueue(queuedBytes: Int($0.receiveAllocated), bufferBytes: Int($0.receiveBuffer), drops: Int($0.drops)) }
            .recover { _ in nil }
        #else
        return channel.eventLoop.makeSucceededFuture(nil)
        #endif
    }

    /// The layout of Linux's `SO_MEMINFO` (`SK_MEMINFO_VARS` = 9 u32).
    struct MemoryInfo: Sendable {
        var receiveAllocated: UInt32 = 0
        var receiveBuffer: UInt32 = 0
        var sendAllocated: UInt32 = 0
        var sendBuffer: UInt32 = 0
        var forwardAllocated: UInt32 = 0
        var sendQueued: UInt32 = 0
        var optionMemory: UInt32 = 0
        var backlog: UInt32 = 0
        var drops: UInt32 = 0
    }

    public func close() async {
        try? await channel.close()
    }

    private final class Handler: ChannelInboundHandler {
        typealias InboundIn = AddressedEnvelope<ByteBuffer>
        typealias OutboundOut = AddressedEnvelope<ByteBuffer>

        let onMessage: @Sendable (SIPIncoming) -> Void
        let onEvent: @Sendable (SIPTransportEvent) -> Void
        var flood: SIPFloodGuard

        init(flood: SIPFloodGuard, onEvent: @escaping @Sendable (SIPTransportEvent) -> Void, onMessage: @escaping @Sendable (SIPIncoming) -> Void) {
            self.flood = flood
            self.onEvent = onEvent
            self.onMessage = onMessage
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let envelope = unwrapInboundIn(data)
            // RFC 5626 keep-alives over UDP (CRLFCRLF) are answered with nothing over UDP: STUN does that job.
            guard envelope.data.readableBytes > 4 else { return }
            let source = envelope.remoteAddress.ipAddress ?? ""
            switch flood.admit(source, now: MediaInstant(.now())) {
            case .accept: break
            case .drop: return
            case .blocked:
                onEvent(.flood(source: source, blockedFor: flood.configuration.blockFor))
                return
            }
            do {
                let message = try SIPMessage(parsing: envelope.data)
                if case .request(let request) = message, SIPFloodGuard.isScanner(request) {
                    onEvent(.scanner(source: source, userAgent: request.headers.first("User-Agent") ?? ""))
                    return
                }
                onMessage(SIPIncoming(message: message, flow: .udp(envelope.remoteAddress)))
            } catch {
                onEvent(.malformed(source: source, transport: "udp", reason: "\(error)"))
                if let response = SIPStatelessResponder.response(to: envelope.data, error: error) {
                    context.writeAndFlush(wrapOutboundOut(AddressedEnvelope(remoteAddress: envelope.remoteAddress, data: response)), promise: nil)
                }
            }
        }
    }
}
