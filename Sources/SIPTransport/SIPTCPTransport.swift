import AnswerNinjaCore
import NIOCore
import NIOPosix
import NIOSSL
import SIPMessages
import Synchronization

/// SIP over TCP, or over TLS with a server context (RFC 3261 §18, §26.2; port 5061 by custom): a listener whose
/// connections are framed by `SIPStreamParser`. Each connection has an id; responses and later requests to that peer
/// go back over it (`send(_:on:)`). The flood guard of UDP applies per source address across all its connections:
/// messages over the rate are dropped, and a source that runs dry has its connections closed and new ones refused
/// (silently) while it is blocked. RFC 5626 keep-alive pings
/// (CRLFCRLF) are answered with a pong (CRLF). A request that breaks the framing or the syntax gets its
/// 400/505/513 with a reason, and the connection is closed, since a stream cannot be resynchronised.
public final class SIPTCPTransport: Sendable {
    private let listener: any Channel
    private let registry: ConnectionRegistry
    private let group: any EventLoopGroup
    private let flood: SharedFloodGuard
    private let onEvent: @Sendable (SIPTransportEvent) -> Void
    private let onMessage: @Sendable (SIPIncoming) -> Void
    public let localAddress: SocketAddress

    private init(
        listener: any Channel, registry: ConnectionRegistry, group: any EventLoopGroup, flood: SharedFloodGuard,
        onEvent: @escaping @Sendable (SIPTransportEvent) -> Void, onMessage: @escaping @Sendable (SIPIncoming) -> Void
    ) {
        self.listener = listener
        self.registry = registry
        self.group = group
        self.flood = flood
        self.onEvent = onEvent
        self.onMessage = onMessage
        localAddress = listener.localAddress!
    }

    /// `tls`: the server context (certificate and key) that makes this a SIP-over-TLS listener.
    public static func bind(
        host: String, port: Int, group: any EventLoopGroup, tls: NIOSSLContext? = nil, flood: SIPFloodGuard.Configuration = .init(),
        onEvent: @escaping @Sendable (SIPTransportEvent) -> Void = { _ in }, onMessage: @escaping @Sendable (SIPIncoming) -> Void
    ) async throws -> SIPTCPTransport {
        let registry = ConnectionRegistry()
        let guardState = SharedFloodGuard(configuration: flood)
        let listener = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                // A blocked source gets no connection at all.
                let source = channel.remoteAddress?.ipAddress ?? ""
                if guardState.state.withLock({ $0.isBlocked(source, now: MediaInstant(.now())) }) {
                    return channel.close()
                }
                return channel.eventLoop.makeCompletedFuture {
                    _ = try install(
                        on: channel, remote: channel.remoteAddress, tls: tls.map { NIOSSLServerHandler(context: $0) }, registry: registry, flood: guardState, onEvent: onEvent,
                        onMessage: onMessage
                    )
                }
            }
            .bind(host: host, port: port)
            .get()
        return SIPTCPTransport(listener: listener, registry: registry, group: group, flood: guardState, onEvent: onEvent, onMessage: onMessage)
    }

    /// Opens a connection of ours (to a trunk, RFC 3261 §18.1.1): framed, guarded and reported as the accepted ones
    /// are, its messages delivered with its flow. `tls`: a client context, checked against `serverName` (RFC 5922:
    /// the domain of the URI that was resolved).
    public func connect(to address: SocketAddress, tls: NIOSSLContext? = nil, serverName: String? = nil, timeout: TimeAmount = .seconds(5)) async throws -> SIPFlow {
        let registry = registry, flood = flood, onEvent = onEvent, onMessage = onMessage
        let assigned = AssignedConnection()
        var bootstrap = ClientBootstrap(group: group)
        // From the address we listen on, when that is one address: the far end sees the source our Via names (a
        // proxy that tells its gateways by address, on a host with several).
        if let source = Self.source(listening: localAddress, towards: address) { bootstrap = bootstrap.bind(to: source) }
        _ = try await bootstrap
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .connectTimeout(timeout)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let handler = try tls.map { try NIOSSLClientHandler(context: $0, serverHostname: serverName) }
                    let id = try Self.install(
                        on: channel, remote: address, tls: handler, registry: registry, flood: flood, onEvent: onEvent, onMessage: onMessage
                    )
                    assigned.id.withLock { $0 = id }
                }
            }
            .connect(to: address)
            .get()
        let id = assigned.id.withLock { $0 }
        return tls != nil ? .tls(connection: id, remote: address) : .tcp(connection: id, remote: address)
    }

    /// The local address (any port) of a connection to `remote`: the listener's, unless it listens on every address
    /// or on another family.
    public static func source(listening: SocketAddress, towards remote: SocketAddress) -> SocketAddress? {
        guard let host = listening.ipAddress, host != "0.0.0.0", host != "::", listening.protocol == remote.protocol else { return nil }
        return try? SocketAddress(ipAddress: host, port: 0)
    }

    /// Adds a connection to the registry and its handlers to its pipeline; returns its id.
    private static func install(
        on channel: any Channel, remote: SocketAddress?, tls: (any ChannelHandler)?, registry: ConnectionRegistry, flood: SharedFloodGuard,
        onEvent: @escaping @Sendable (SIPTransportEvent) -> Void, onMessage: @escaping @Sendable (SIPIncoming) -> Void
    ) throws -> UInt64 {
        let id = registry.add(channel)
        let secure = tls != nil
        channel.closeFuture.whenComplete { _ in
            registry.remove(id)
            if let remote { onEvent(secure ? .closed(.tls(connection: id, remote: remote)) : .closed(.tcp(connection: id, remote: remote))) }
        }
        if let tls { try channel.pipeline.syncOperations.addHandler(tls) }
        try channel.pipeline.syncOperations.addHandler(Handler(connection: id, secure: secure, flood: flood, onEvent: onEvent, onMessage: onMessage))
        return id
    }

    /// The id the initializer gave a connection we opened.
    private final class AssignedConnection: Sendable {
        let id = Mutex<UInt64>(0)
    }

    /// Sends `message` over connection `id`; false when that connection is gone.
    @discardableResult
    public func send(_ message: SIPMessage, on id: UInt64) -> Bool {
        guard let channel = registry.channels.withLock({ $0[id] }) else { return false }
        var buffer = channel.allocator.buffer(capacity: 1024)
        buffer.writeSIPMessage(message)
        channel.writeAndFlush(buffer, promise: nil)
        return true
    }

    /// Closes connection `id` if this transport holds it.
    public func close(connection id: UInt64) {
        registry.channels.withLock { $0[id] }?.close(promise: nil)
    }

    public var connectionCount: Int { registry.channels.withLock { $0.count } }

    public func close() async {
        for channel in registry.channels.withLock({ Array($0.values) }) { try? await channel.close() }
        try? await listener.close()
    }

    /// The flood guard all connections share (they may sit on several event loops).
    final class SharedFloodGuard: Sendable {
        let state: Mutex<SIPFloodGuard>
        let configuration: SIPFloodGuard.Configuration

        init(configuration: SIPFloodGuard.Configuration) {
            self.configuration = configuration
            state = Mutex(SIPFloodGuard(configuration: configuration))
        }
    }

    /// Connection ids and channels, shared by the listener's initializer and the transport.
    /// Ids are unique across the process's transports: a flow's id names one connection whichever transport holds it.
    private final class ConnectionRegistry: Sendable {
        let channels = Mutex<[UInt64: any Channel]>([:])
        private static let next = Atomic<UInt64>(1)

        func add(_ channel: any Channel) -> UInt64 {
            let id = Self.next.add(1, ordering: .relaxed).oldValue
            channels.withLock { $0[id] = channel }
            return id
        }

        func remove(_ id: UInt64) {
            _ = channels.withLock { $0.removeValue(forKey: id) }
        }
    }

    private final class Handler: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer

        let connection: UInt64
        let secure: Bool
        let flood: SharedFloodGuard
        let onEvent: @Sendable (SIPTransportEvent) -> Void
        let onMessage: @Sendable (SIPIncoming) -> Void
        var parser = SIPStreamParser()

        init(
            connection: UInt64, secure: Bool, flood: SharedFloodGuard, onEvent: @escaping @Sendable (SIPTransportEvent) -> Void,
            onMessage: @escaping @Sendable (SIPIncoming) -> Void
        ) {
            self.connection = connection
            self.secure = secure
            self.flood = flood
            self.onEvent = onEvent
            self.onMessage = onMessage
        }

        /// A failed TLS handshake (or a reset) closes the connection; nothing else is to be done.
        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            context.close(promise: nil)
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let bytes = unwrapInboundIn(data)
            let remote = context.remoteAddress ?? (try! SocketAddress(ipAddress: "0.0.0.0", port: 0))
            parser.append(bytes)
            do {
                while let frame = try parser.next() {
                    switch frame {
                    case .message(let message):
                        let source = remote.ipAddress ?? ""
                        switch flood.state.withLock({ $0.admit(source, now: MediaInstant(.now())) }) {
                        case .accept: break
                        case .drop:
                            continue
                        case .blocked:
                            onEvent(.flood(source: source, blockedFor: flood.configuration.blockFor))
                            context.close(promise: nil)
                            return
                        }
                        let flow: SIPFlow = secure ? .tls(connection: connection, remote: remote) : .tcp(connection: connection, remote: remote)
                        onMessage(SIPIncoming(message: message, flow: flow))
                    case .ping: context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: "\r\n")), promise: nil)
                    case .pong: break
                    }
                }
            } catch {
                onEvent(.malformed(source: remote.ipAddress ?? "", transport: secure ? "tls" : "tcp", reason: "\(error)"))
                if let response = SIPStatelessResponder.response(to: bytes, error: error) {
                    context.writeAndFlush(wrapOutboundOut(response), promise: nil)
                }
                context.close(promise: nil)
            }
        }
    }
}
