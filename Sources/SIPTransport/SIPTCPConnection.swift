import AnswerNinjaCore
import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS
import SIPMessages

/// An outgoing SIP connection over TCP, or TLS with a client context (RFC 3261 §18.1.1): a softphone's link to its
/// proxy. Framed by `SIPStreamParser`; RFC 5626 pings are answered; messages arrive in `onMessage`, on the
/// connection's event loop. A stream that breaks the framing is closed.
public final class SIPTCPConnection: Sendable {
    private let channel: any Channel
    public let localAddress: SocketAddress
    public let remoteAddress: SocketAddress
    public let secure: Bool

    private init(channel: any Channel, secure: Bool) {
        self.channel = channel
        localAddress = channel.localAddress!
        remoteAddress = channel.remoteAddress!
        self.secure = secure
    }

    /// Connects to `address`; with `tls` (and the name to check the certificate against) over TLS. Returns once the
    /// connection is usable: connected, and for TLS with the handshake done (a certificate the context does not
    /// trust fails here).
    public static func connect(
        to address: SocketAddress, group: any EventLoopGroup, tls: NIOSSLContext? = nil, serverHostname: String? = nil,
        onMessage: @escaping @Sendable (SIPMessage) -> Void
    ) async throws -> SIPTCPConnection {
        let eventLoop = group.next()
        let ready = eventLoop.makePromise(of: Void.self)
        let channel: any Channel
        do {
            channel = try await ClientBootstrap(group: eventLoop)
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .connectTimeout(.seconds(5))
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        if let tls { try channel.pipeline.syncOperations.addHandler(try NIOSSLClientHandler(context: tls, serverHostname: serverHostname)) }
                        try channel.pipeline.syncOperations.addHandler(Handler(secure: tls != nil, ready: ready, onMessage: onMessage))
                    }
                }
                .connect(to: address)
                .get()
        } catch {
            ready.fail(error)
            throw error
        }
        try await ready.futureResult.get()
        return SIPTCPConnection(channel: channel, secure: tls != nil)
    }

    public func send(_ message: SIPMessage) {
        var buffer = channel.allocator.buffer(capacity: 1024)
        buffer.writeSIPMessage(message)
        channel.writeAndFlush(buffer, promise: nil)
    }

    public func close() async {
        try? await channel.close()
    }

    private final class Handler: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer

        let onMessage: @Sendable (SIPMessage) -> Void
        let secure: Bool
        /// Succeeded when the connection is usable, failed if it closes or errs first.
        let ready: EventLoopPromise<Void>
        var parser = SIPStreamParser()

        init(secure: Bool, ready: EventLoopPromise<Void>, onMessage: @escaping @Sendable (SIPMessage) -> Void) {
            self.secure = secure
            self.ready = ready
            self.onMessage = onMessage
        }

        func channelActive(context: ChannelHandlerContext) {
            if !secure { ready.succeed(()) }
            context.fireChannelActive()
        }

        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if let event = event as? TLSUserEvent, case .handshakeCompleted = event { ready.succeed(()) }
            context.fireUserInboundEventTriggered(event)
        }

        func channelInactive(context: ChannelHandlerContext) {
            ready.fail(ChannelError.ioOnClosedChannel)
            context.fireChannelInactive()
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            parser.append(unwrapInboundIn(data))
            do {
                while let frame = try parser.next() {
                    switch frame {
                    case .message(let message): onMessage(message)
                    case .ping: context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: "\r\n")), promise: nil)
                    case .pong: break
                    }
                }
            } catch {
                context.close(promise: nil)
            }
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            ready.fail(error)
            context.close(promise: nil)
        }
    }
}
