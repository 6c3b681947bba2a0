import SIPMessages
import SIPTransactions

/// The UAS core's retransmission of a response until the far end acknowledges it: a 2xx to an INVITE until its ACK
/// (RFC 3261 §13.3.1.4), resent at T1, 2·T1, 4·T1, ... capped at T2; a reliable provisional response until its PRACK
/// (RFC 3262 §3), the same doubling without the cap. After 64·T1 without acknowledgement the UAS gives up: it ends
/// the dialog with a BYE (2xx) or rejects the INVITE with a 5xx (provisional). A struct returning actions, driven
/// like the transactions.
public struct SIPResponseRetransmission: Sendable {
    public enum Action: Sendable, Equatable {
        case send(SIPResponse)
        case startTimer(Duration)
        case cancelTimer
        /// No ACK (or PRACK) in 64·T1: end the session with a BYE (§13.3.1.4), or reject the INVITE (RFC 3262 §3).
        case ackTimedOut
    }

    public let response: SIPResponse
    public let timers: SIPTimerValues
    /// The interval stops doubling at T2 (a 2xx); RFC 3262's provisional responses keep doubling.
    public let cappedAtT2: Bool
    public private(set) var acknowledged = false
    private var interval: Duration
    private var elapsed: Duration = .zero

    public init(response: SIPResponse, timers: SIPTimerValues = .rfc3261, cappedAtT2: Bool = true) {
        self.response = response
        self.timers = timers
        self.cappedAtT2 = cappedAtT2
        interval = timers.t1
    }

    /// Sends the 2xx; over a reliable transport nothing is resent, but the ACK is still awaited for 64·T1.
    public func start(reliable: Bool) -> [Action] {
        [.send(response), .startTimer(reliable ? timers.transactionTimeout : timers.t1)]
    }

    public mutating func timerFired(reliable: Bool) -> [Action] {
        guard !acknowledged else { return [] }
        elapsed += reliable ? timers.transactionTimeout : interval
        guard elapsed < timers.transactionTimeout else { return [.ackTimedOut] }
        interval = cappedAtT2 ? min(interval * 2, timers.t2) : interval * 2
        return [.send(response), .startTimer(min(interval, timers.transactionTimeout - elapsed))]
    }

    public mutating func ackReceived() -> [Action] {
        guard !acknowledged else { return [] }
        acknowledged = true
        return [.cancelTimer]
    }
}
