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
