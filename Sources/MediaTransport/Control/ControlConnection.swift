import Synchronization

/// A bidirectional connection carrying the text frames of an internal protocol: a WebSocket between roles, or an
/// in-memory pair between components of one process and in tests. `inbound` ends when the connection closes.
public protocol ControlConnection: Sendable {
    var inbound: AsyncStream<String> { get }
    func send(_ text: String) async throws
    func close(reason: String) async
}

/// Two connected in-memory ends: what one sends, the other receives, in order. Closing either end ends both
/// inbound streams, as a dropped WebSocket would.
public final class InMemoryControlConnection: ControlConnection {
    public let inbound: AsyncStream<String>
    private let own: AsyncStream<String>.Continuation
    private let peer = Mutex<AsyncStream<String>.Continuation?>(nil)
    private let closeReason = Mutex<String?>(nil)

    private init() {
        (inbound, own) = AsyncStream.makeStream(of: String.self)
    }

    public static func pair() -> (InMemoryControlConnection, InMemoryControlConnection) {
        let a = InMemoryControlConnection()
        let b = InMemoryControlConnection()
        a.peer.withLock { $0 = b.own }
        b.peer.withLock { $0 = a.own }
        return (a, b)
    }

    /// Why the connection was closed, by either end (nil while open).
    public var closedReason: String? { closeReason.withLock { $0 } }

    public func send(_ text: String) async throws {
        if let reason = closedReason { throw MediaTransportError.connectionClosed(reason) }
        peer.withLock { _ = $0?.yield(text) }
    }

    public func close(reason: String) async {
        closeReason.withLock { if $0 == nil { $0 = reason } }
        own.finish()
        peer.withLock { $0?.finish() }
    }
}
