import SIPMessages

/// What a transaction state machine asks its owner to do. The owner (the transport layer) sends, schedules and
/// cancels timers, and hands messages to the transaction user; the machines do no I/O and read no clock.
public enum SIPTransactionAction: Sendable, Equatable {
    /// Send (or resend) this message on the transaction's transport, to its peer.
    case send(SIPMessage)
    /// Give this message to the transaction user (a response to a client transaction, a request to a new server one).
    case deliver(SIPMessage)
    /// Start (or restart) a timer; it fires with `timerFired`.
    case startTimer(SIPTimer, Duration)
    case cancelTimer(SIPTimer)
    /// No final response came in time (timer B or F): the TU treats it as a 408 (§8.1.3.1).
    case timedOut
    /// The ACK for a non-2xx final response never came (timer H).
    case ackNotReceived
    /// The transaction is over: forget it.
    case terminated
}
