import NIOCore
import SIPMessages

/// Where a message came from and where its answers go (RFC 3261 §18.2.2): a UDP source address (replies go back
/// to it, RFC 3581), or a TCP or TLS connection (replies and later requests go over the same connection, RFC 5923's
/// flow reuse, which is how a device behind NAT is reached).
public enum SIPFlow: Hashable, Sendable, CustomStringConvertible {
    case udp(SocketAddress)
    case tcp(connection: UInt64, remote: SocketAddress)
    case tls(connection: UInt64, remote: SocketAddress)

    /// A stream transport: no retransmissions, timers D, I, J, K at 0.
    public var isReliable: Bool { if case .udp = self { false } else { true } }

    /// As Via writes it.
    public var transportName: String {
        switch self {
        case .udp: "UDP"
        case .tcp: "TCP"
        case .tls: "TLS"
        }
    }

    public var remote: SocketAddress {
        switch self {
        case .udp(let address): address
        case .tcp(_, let address), .tls(_, let address): address
        }
    }

    public var description: String { "\(transportName.lowercased()) \(remote)" }
}

/// A message as a transport delivers it.
public struct SIPIncoming: Sendable {
    public var message: SIPMessage
    public var flow: SIPFlow

    public init(message: SIPMessage, flow: SIPFlow) {
        self.message = message
        self.flow = flow
    }
}

/// What a transport reports besides messages: sources it drops, and messages it refuses.
public enum SIPTransportEvent: Sendable, Equatable, CustomStringConvertible {
    /// A source over the flood threshold, dropped silently for a while.
    case flood(source: String, blockedFor: Duration)
    /// A scanner (sipvicious, friendly-scanner...) ignored.
    case scanner(source: String, userAgent: String)
    /// A message that does not parse: answered 400/505/513 when possible, and counted.
    case malformed(source: String, transport: String, reason: String)
    /// A TCP or TLS connection closed (what was registered over it can no longer be reached).
    case closed(SIPFlow)

    public var description: String {
        switch self {
        case .flood(let source, let blockedFor): "flood from \(source): dropped for \(blockedFor)"
        case .scanner(let source, let userAgent): "scanner at \(source) ignored: \(userAgent)"
        case .malformed(let source, let transport, let reason): "malformed message over \(transport) from \(source): \(reason)"
        case .closed(let flow): "connection closed: \(flow)"
        }
    }
}
