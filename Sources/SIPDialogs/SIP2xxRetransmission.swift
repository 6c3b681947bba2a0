import SIPMessages
import SIPTransactions

/// The UAS core's retransmission of a 2xx to an INVITE until its ACK (RFC 3261 §13.3.1.4): the 2xx is resent at
/// T1, 2·T1, 4·T1, ... capped at T2, and if no ACK has come after 64·T1 the dialog is to be ended with a BYE. A
/// struct returning actions, driven like the transactions (its one timer is reported as `SIPTimer.g`, the same
/// doubling).
public struct SIP2xxRetransmission: Sendable {
    public enum Action: Sendable, Equatable {
        case send(SIPResponse)
        case startTimer(Duration)
        case cancelTimer
        /// No ACK in 64·T1: confirm and end the session with a BYE (§13.3.1.4).
        case ackTimedOut
    }

    public let response: SIPResponse
    public let timers: SIPTimerValues
    public private(set) var acknowledged = false
    private var interval: Duration
    private var elapsed: Duration = .zero

    public init(response: SIPResponse, timers: SIPTimerValues = .rfc3261) {
        self.response = response
        self.timers = timers
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
        interval = min(interval * 2, timers.t2)
        return [.send(response), .startTimer(min(interval, timers.transactionTimeout - elapsed))]
    }

    public mutating func ackReceived() -> [Action] {
        guard !acknowledged else { return [] }
        acknowledged = true
        return [.cancelTimer]
    }
}
