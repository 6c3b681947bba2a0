import AnswerNinjaCore

/// The media role's side of the gateway ↔ media control channel (docs/protocols/media-control.md), without I/O.
///
/// Feed it connection events and frames with the current instant; perform the actions it returns. It enforces:
/// - a `hello` first on every connection, and versioned, in-order frames (a duplicate after resume is dropped, a
///   gap closes the connection so that the gateway resumes);
/// - idempotent commands: a `request_id` seen before is answered from the result cache, or, while still running,
///   not started again;
/// - sessions that outlive a dropped connection for `resumeGrace`: a `hello` with `resume` within the grace period
///   takes them over and gets the unacknowledged frames again; after it, each is released with `control_lost`.
public struct MediaControlStateMachine: Sendable {
    public struct Configuration: Sendable {
        public var resumeGrace: Duration
        /// Results remembered for repeated requests (oldest forgotten first).
        public var resultCacheLimit: Int
        /// Outbound frames kept per connection for retransmission.
        public var outboundCapacity: Int

        public init(resumeGrace: Duration = .seconds(10), resultCacheLimit: Int = 4096, outboundCapacity: Int = 1024) {
            self.resumeGrace = resumeGrace
            self.resultCacheLimit = resultCacheLimit
            self.outboundCapacity = outboundCapacity
        }
    }

    /// What the owner must do.
    public enum Action: Sendable, Equatable {
        /// Send this frame on the transport connection.
        case send(transport: TransportID, ProtocolFrame<MediaControlMessage>)
        /// Carry out this command on the media session provider, then call `completed(requestId:result:)`.
        case execute(MediaControlMessage)
        /// Release a session whose control connection was lost for longer than the grace period.
        case release(CallID, ReleaseReason)
        /// Close the transport connection (after sending any frames before this action).
        case close(transport: TransportID, reason: String)
    }

    /// One WebSocket (or other transport) connection, as numbered by the owner.
    public typealias TransportID = UInt64

    private struct Channel: Sendable {
        var connectionId: String
        var transport: TransportID?
        var detachedAt: MediaInstant?
        var inbound = InboundSequencer()
        var outbound: OutboundSequencer<MediaControlMessage>
    }

    public let configuration: Configuration
    /// Logical channels by connection id; a channel survives its transport for the grace period.
    private var channels: [String: Channel] = [:]
    /// Which channel each live transport carries (nil until its `hello`).
    private var transports: [TransportID: String?] = [:]
    /// Which channel owns each session.
    private var sessionOwners: [CallID: String] = [:]
    /// Requests being carried out, and by which channel.
    private var inFlight: [String: String] = [:]
    private var resultCache: [String: MediaControlMessage.Result] = [:]
    private var resultOrder: [String] = []
    private var nextConnectionNumber: UInt64 = 1

    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
    }

    /// Sessions currently known, for `welcome` and tests.
    public var sessions: [CallID] { sessionOwners.keys.sorted() }

    public mutating func transportOpened(_ transport: TransportID) {
        transports[transport] = .some(nil)
    }

    /// The transport dropped: its channel waits `resumeGrace` for a `hello` with `resume`.
    public mutating func transportClosed(_ transport: TransportID, now: MediaInstant) {
        guard let entry = transports.removeValue(forKey: transport), let connectionId = entry else { return }
        if channels[connectionId]?.transport == transport {
            channels[connectionId]?.transport = nil
            channels[connectionId]?.detachedAt = now
        }
    }

    /// Handles one decoded frame from `transport`.
    public mutating func received(_ frame: ProtocolFrame<MediaControlMessage>, on transport: TransportID, now: MediaInstant) -> [Action] {
        guard let entry = transports[transport] else { return [] }
        guard let connectionId = entry else {
            guard case .hello(let hello) = frame.message else {
                return [.close(transport: transport, reason: "the first frame must be hello, got \(frame.message.type)")]
            }
            return handleHello(hello, seq: frame.seq, on: transport, now: now)
        }
        guard var channel = channels[connectionId] else { return [] }
        switch channel.inbound.receive(seq: frame.seq) {
        case .duplicate:
            return []
        case .gap(let expected, let received):
            channels[connectionId] = channel
            return [.close(transport: transport, reason: "sequence gap: expected \(expected), received \(received); resume from \(expected - 1)")]
        case .accept:
            break
        }
        if let ack = frame.ack { channel.outbound.acknowledge(upTo: ack) }
        channels[connectionId] = channel

        switch frame.message {
        case .hello:
            return [.close(transport: transport, reason: "hello may only be the first frame")]
        case .ping(let ping):
            return send(.pong(ping), on: connectionId)
        case .pong, .welcome, .result, .event:
            return []
        default:
            return handleCommand(frame.message, from: connectionId, transport: transport)
        }
    }

    /// A command finished; its result goes to the channel that asked (or its resumed successor) and is cached.
    public mutating func completed(requestId: String, result: MediaControlMessage.Result, command: MediaControlMessage) -> [Action] {
        let connectionId = inFlight.removeValue(forKey: requestId)
        remember(result)
        if result.result == .ok, let callId = command.callId, let connectionId {
            switch command {
            case .offer, .startConversation, .update, .answer:
                if sessionOwners[callId] == nil { sessionOwners[callId] = connectionId }
            case .delete:
                sessionOwners[callId] = nil
            default:
                break
            }
        }
        guard let connectionId, channels[connectionId] != nil else { return [] }
        return send(.result(result), on: connectionId)
    }

    /// A media session event for the gateway that owns its call.
    public mutating func event(_ event: MediaControlMessage.Event) -> [Action] {
        guard let connectionId = sessionOwners[event.callId] else { return [] }
        return send(.event(event), on: connectionId)
    }

    /// Expires channels detached for longer than the grace period; call it periodically.
    public mutating func tick(now: MediaInstant) -> [Action] {
        var actions: [Action] = []
        let expired = channels.values.filter { channel in
            guard let detachedAt = channel.detachedAt else { return false }
            return detachedAt.duration(to: now) >= configuration.resumeGrace
        }.map(\.connectionId).sorted()
        for connectionId in expired {
            channels[connectionId] = nil
            for (callId, owner) in sessionOwners where owner == connectionId {
                sessionOwners[callId] = nil
                actions.append(.release(callId, .controlLost))
            }
            for (requestId, owner) in inFlight where owner == connectionId {
                inFlight[requestId] = nil
            }
        }
        return actions.sorted { lhs, rhs in
            if case .release(let a, _) = lhs, case .release(let b, _) = rhs { return a < b }
            return false
        }
    }

    // MARK: - Private

    /// `hello` and `welcome` stand outside the sequence (seq 0): sequenced frames start at 1 on a new channel and
    /// continue across resumes.
    private mutating func handleHello(_ hello: MediaControlMessage.Hello, seq: UInt64, on transport: TransportID, now: MediaInstant) -> [Action] {
        guard seq == 0 else {
            return [.close(transport: transport, reason: "hello must have seq 0, got \(seq)")]
        }
        if let resume = hello.resume, var channel = channels[resume.connectionId] {
            let withinGrace = channel.detachedAt.map { $0.duration(to: now) < configuration.resumeGrace } ?? true
            if withinGrace {
                var actions: [Action] = []
                if let old = channel.transport, old != transport {
                    // The old transport may still look alive to us: the resume wins.
                    transports[old] = nil
                    actions.append(.close(transport: old, reason: "resumed on another connection"))
                }
                let resend: [ProtocolFrame<MediaControlMessage>]
                do {
                    resend = try channel.outbound.resend(after: resume.lastSeq)
                } catch {
                    return actions + [.close(transport: transport, reason: error.message)]
                }
                channel.transport = transport
                channel.detachedAt = nil
                transports[transport] = .some(channel.connectionId)
                let welcome = MediaControlMessage.Welcome(
                    connectionId: channel.connectionId, resumed: true, lastSeq: channel.inbound.lastSeq,
                    sessions: sessionsOwned(by: channel.connectionId)
                )
                channels[channel.connectionId] = channel
                return actions + [.send(transport: transport, ProtocolFrame(seq: 0, message: .welcome(welcome)))]
                    + resend.map { .send(transport: transport, $0) }
            }
        }
        let connectionId = "c\(nextConnectionNumber)-\(hello.instance)"
        nextConnectionNumber += 1
        channels[connectionId] = Channel(
            connectionId: connectionId, transport: transport, outbound: OutboundSequencer(capacity: configuration.outboundCapacity)
        )
        transports[transport] = .some(connectionId)
        let welcome = MediaControlMessage.Welcome(connectionId: connectionId, resumed: false, lastSeq: 0)
        return [.send(transport: transport, ProtocolFrame(seq: 0, message: .welcome(welcome)))]
    }

    private mutating func handleCommand(_ message: MediaControlMessage, from connectionId: String, transport: TransportID) -> [Action] {
        guard let requestId = message.requestId else {
            return [.close(transport: transport, reason: "\(message.type) is not a command")]
        }
        if let cached = resultCache[requestId] {
            return send(.result(cached), on: connectionId)
        }
        if inFlight[requestId] != nil {
            inFlight[requestId] = connectionId  // the answer goes to whoever asked last
            return []
        }
        if let callId = message.callId, let owner = sessionOwners[callId], owner != connectionId {
            return send(.result(.failure(requestId, code: "not_owner", message: "call \(callId) belongs to another control connection")), on: connectionId)
        }
        inFlight[requestId] = connectionId
        return [.execute(message)]
    }

    private func sessionsOwned(by connectionId: String) -> [CallID] {
        sessionOwners.filter { $0.value == connectionId }.map(\.key).sorted()
    }

    private mutating func remember(_ result: MediaControlMessage.Result) {
        if resultCache.updateValue(result, forKey: result.requestId) == nil {
            resultOrder.append(result.requestId)
        }
        if resultOrder.count > configuration.resultCacheLimit {
            let dropped = resultOrder.removeFirst()
            resultCache[dropped] = nil
        }
    }

    /// Numbers a frame on the channel; it is sent now when the channel has a transport, and kept for the resume
    /// either way until acknowledged.
    private mutating func send(_ message: MediaControlMessage, on connectionId: String) -> [Action] {
        guard var channel = channels[connectionId] else { return [] }
        let frame = channel.outbound.send(message, ack: channel.inbound.lastSeq)
        channels[connectionId] = channel
        guard let transport = channel.transport else { return [] }
        return [.send(transport: transport, frame)]
    }
}
