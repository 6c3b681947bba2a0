import SIPMessages

/// A client transaction (RFC 3261 §17.1), INVITE or non-INVITE, with RFC 6026's Accepted state for INVITE: a
/// struct fed with events that returns `SIPTransactionAction`s. Create it with the request, perform `start()`'s
/// actions, then feed responses (`receive`) and fired timers (`timerFired`).
public struct SIPClientTransaction: Sendable {
    public enum State: Sendable, Equatable {
        /// INVITE sent, nothing heard yet (§17.1.1.2).
        case calling
        /// Non-INVITE sent, nothing heard yet (§17.1.2.2).
        case trying
        case proceeding
        /// INVITE: a 2xx passed up; later 2xx retransmissions go up too, for the TU to ACK (RFC 6026 §8.4).
        case accepted
        case completed
        case terminated
    }

    public let request: SIPRequest
    public let reliable: Bool
    public let timers: SIPTimerValues
    public private(set) var state: State
    private var retransmitInterval: Duration
    private var isInvite: Bool { request.method == "INVITE" }

    /// `reliable`: the transport is TCP, TLS or SCTP (no retransmissions; timers D and K are 0).
    public init(request: SIPRequest, reliable: Bool, timers: SIPTimerValues = .rfc3261) {
        precondition(request.method != "ACK", "an ACK has no client transaction (RFC 3261 §17)")
        self.request = request
        self.reliable = reliable
        self.timers = timers
        state = request.method == "INVITE" ? .calling : .trying
        retransmitInterval = timers.t1
    }

    /// Sends the request and starts the timers.
    public func start() -> [SIPTransactionAction] {
        var actions: [SIPTransactionAction] = [.send(.request(request))]
        if isInvite {
            if !reliable { actions.append(.startTimer(.a, timers.t1)) }
            actions.append(.startTimer(.b, timers.transactionTimeout))
        } else {
            if !reliable { actions.append(.startTimer(.e, timers.t1)) }
            actions.append(.startTimer(.f, timers.transactionTimeout))
        }
        return actions
    }

    public mutating func receive(_ response: SIPResponse) -> [SIPTransactionAction] {
        let code = response.statusCode
        switch (state, isInvite) {
        case (.calling, true), (.proceeding, true):
            if code < 200 {
                let stopA: [SIPTransactionAction] = state == .calling && !reliable ? [.cancelTimer(.a)] : []
                state = .proceeding
                return stopA + [.deliver(.response(response))]
            }
            let stop: [SIPTransactionAction] = (reliable ? [] : [.cancelTimer(.a)]) + [.cancelTimer(.b)]
            if code < 300 {
                state = .accepted
                return stop + [.deliver(.response(response)), .startTimer(.m, timers.transactionTimeout)]
            }
            state = .completed
            return stop + [.send(.request(ack(for: response))), .deliver(.response(response)), .startTimer(.d, reliable ? .zero : .seconds(32))]
        case (.accepted, true):
            // Retransmitted 2xx (or a 2xx from another fork) goes up: the TU ACKs it.
            return code >= 200 && code < 300 ? [.deliver(.response(response))] : []
        case (.completed, true):
            // A retransmitted final response: ACK it again (§17.1.1.2).
            return code >= 300 ? [.send(.request(ack(for: response)))] : []
        case (.trying, false), (.proceeding, false):
            if code < 200 {
                state = .proceeding
                return [.deliver(.response(response))]
            }
            state = .completed
            return (reliable ? [] : [.cancelTimer(.e)]) + [.cancelTimer(.f), .deliver(.response(response)), .startTimer(.k, reliable ? .zero : timers.t4)]
        default:
            return []
        }
    }

    public mutating func timerFired(_ timer: SIPTimer) -> [SIPTransactionAction] {
        switch (timer, state) {
        case (.a, .calling):
            retransmitInterval = retransmitInterval * 2
            return [.send(.request(request)), .startTimer(.a, retransmitInterval)]
        case (.b, .calling), (.b, .proceeding), (.f, .trying), (.f, .proceeding):
            state = .terminated
            return (isInvite ? [.cancelTimer(.a)] : [.cancelTimer(.e)]) + [.timedOut, .terminated]
        case (.e, .trying):
            retransmitInterval = min(retransmitInterval * 2, timers.t2)
            return [.send(.request(request)), .startTimer(.e, retransmitInterval)]
        case (.e, .proceeding):
            // §17.1.2.2: in Proceeding, retransmit every T2.
            return [.send(.request(request)), .startTimer(.e, timers.t2)]
        case (.d, .completed), (.k, .completed), (.m, .accepted):
            state = .terminated
            return [.terminated]
        default:
            return []
        }
    }

    /// The transport could not send (§17.1.1.2, §17.1.2.2): the TU treats it as a 503.
    public mutating func transportFailed() -> [SIPTransactionAction] {
        guard state != .terminated else { return [] }
        state = .terminated
        return [.timedOut, .terminated]
    }

    /// The ACK for a non-2xx final response (§17.1.1.3): the INVITE's Request-URI, Call-ID, From, CSeq number and
    /// Route, its top Via only, and the response's To (with its tag).
    func ack(for response: SIPResponse) -> SIPRequest {
        var headers = SIPHeaders()
        if let via = request.headers.list("Via").first { headers.add("Via", via) }
        headers.add("Max-Forwards", "70")
        for name in ["From", "To", "Call-ID"] {
            if let value = name == "To" ? response.headers.first("To") : request.headers.first(name) { headers.add(name, value) }
        }
        let sequence = request.headers.cseq?.sequence ?? 0
        headers.add("CSeq", "\(sequence) ACK")
        for route in request.headers["Route"] { headers.add("Route", route) }
        return SIPRequest(method: "ACK", uri: request.uri, headers: headers)
    }
}
