import SIPMessages

/// A server transaction (RFC 3261 §17.2), INVITE or non-INVITE, with RFC 6026's Accepted state for INVITE. The
/// transport layer creates it for a request that matches no transaction, performs `start()`'s actions (the request
/// goes to the TU; an INVITE is answered 100 Trying at once, §17.2.1), then feeds retransmissions (`receive`), the
/// TU's responses (`respond`) and fired timers.
///
/// 2xx responses to an INVITE are retransmitted by the UAS core until the ACK (RFC 3261 §13.3.1.4), not here: this
/// machine only absorbs the INVITE's retransmissions while Accepted.
public struct SIPServerTransaction: Sendable {
    public enum State: Sendable, Equatable {
        case trying
        case proceeding
        /// INVITE: a 2xx was sent (RFC 6026 §7.1).
        case accepted
        case completed
        /// INVITE: the ACK for a non-2xx final response arrived.
        case confirmed
        case terminated
    }

    public let request: SIPRequest
    public let reliable: Bool
    public let timers: SIPTimerValues
    public private(set) var state: State
    private var lastResponse: SIPResponse?
    private var retransmitInterval: Duration
    private var isInvite: Bool { request.method == "INVITE" }

    public init(request: SIPRequest, reliable: Bool, timers: SIPTimerValues = .rfc3261) {
        self.request = request
        self.reliable = reliable
        self.timers = timers
        state = request.method == "INVITE" ? .proceeding : .trying
        retransmitInterval = timers.t1
    }

    /// Delivers the request to the TU; for an INVITE also sends 100 Trying (so the client stops retransmitting).
    public mutating func start() -> [SIPTransactionAction] {
        guard isInvite else { return [.deliver(.request(request))] }
        let trying = SIPServerTransaction.response(to: request, statusCode: 100, reasonPhrase: "Trying")
        lastResponse = trying
        return [.send(.response(trying)), .deliver(.request(request))]
    }

    /// A request that matched this transaction: a retransmission, or for an INVITE the ACK of a non-2xx response.
    public mutating func receive(_ retransmission: SIPRequest) -> [SIPTransactionAction] {
        if retransmission.method == "ACK" {
            guard isInvite, state == .completed else { return [] }
            state = .confirmed
            return (reliable ? [] : [.cancelTimer(.g)]) + [.cancelTimer(.h), .startTimer(.i, reliable ? .zero : timers.t4)]
        }
        switch state {
        case .proceeding, .completed:
            return lastResponse.map { [.send(.response($0))] } ?? []
        default:
            // Trying (non-INVITE: nothing to resend yet), Accepted (absorbed), Confirmed, Terminated.
            return []
        }
    }

    /// The TU's response.
    public mutating func respond(_ response: SIPResponse) -> [SIPTransactionAction] {
        let code = response.statusCode
        switch state {
        case .trying, .proceeding:
            lastResponse = response
            if code < 200 {
                state = .proceeding
                return [.send(.response(response))]
            }
            if isInvite {
                if code < 300 {
                    state = .accepted
                    return [.send(.response(response)), .startTimer(.l, timers.transactionTimeout)]
                }
                state = .completed
                return [.send(.response(response))] + (reliable ? [] : [.startTimer(.g, timers.t1)]) + [.startTimer(.h, timers.transactionTimeout)]
            }
            state = .completed
            return [.send(.response(response)), .startTimer(.j, reliable ? .zero : timers.transactionTimeout)]
        case .accepted where code >= 200 && code < 300:
            // RFC 6026 §7.1: further 2xx (the UAS core's retransmissions) pass through.
            return [.send(.response(response))]
        default:
            return []
        }
    }

    public mutating func timerFired(_ timer: SIPTimer) -> [SIPTransactionAction] {
        switch (timer, state) {
        case (.g, .completed):
            retransmitInterval = min(retransmitInterval * 2, timers.t2)
            return (lastResponse.map { [.send(.response($0))] } ?? []) + [.startTimer(.g, retransmitInterval)]
        case (.h, .completed):
            state = .terminated
            return [.cancelTimer(.g), .ackNotReceived, .terminated]
        case (.i, .confirmed), (.j, .completed), (.l, .accepted):
            state = .terminated
            return [.terminated]
        default:
            return []
        }
    }

    public mutating func transportFailed() -> [SIPTransactionAction] {
        guard state != .terminated else { return [] }
        state = .terminated
        return [.terminated]
    }

    /// A response to `request` with the headers §8.2.6.2 copies: Via (all, in order), From, To (a tag is the
    /// TU's to add), Call-ID, CSeq.
    public static func response(to request: SIPRequest, statusCode: Int, reasonPhrase: String) -> SIPResponse {
        var headers = SIPHeaders()
        for via in request.headers["Via"] { headers.add("Via", via) }
        for name in ["From", "To", "Call-ID", "CSeq"] {
            if let value = request.headers.first(name) { headers.add(name, value) }
        }
        // RFC 3261 §12.1.1: a response that establishes a dialog carries the request's Record-Route, in order, so
        // that the caller's in-dialog requests follow the proxies that asked to stay in the path.
        if (101..<300).contains(statusCode), ["INVITE", "SUBSCRIBE", "REFER"].contains(request.method) {
            for route in request.headers["Record-Route"] { headers.add("Record-Route", route) }
        }
        return SIPResponse(statusCode: statusCode, reasonPhrase: reasonPhrase, headers: headers)
    }
}
