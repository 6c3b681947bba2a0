/// A remote provider's circuit breaker: after `failureThreshold` failures in a row the circuit opens and calls go
/// straight to the fallback for `cooldown`; then one trial call is let through (half open): success closes the
/// circuit, failure opens it again. A state machine with the clock passed in; no I/O.
public struct CircuitBreaker: Sendable, Equatable {
    public enum State: Sendable, Equatable {
        case closed(failures: Int)
        case open(until: ContinuousClock.Instant)
        /// A trial call is in flight.
        case halfOpen
    }

    public let failureThreshold: Int
    public let cooldown: Duration
    public private(set) var state: State = .closed(failures: 0)

    public init(failureThreshold: Int = 5, cooldown: Duration = .seconds(30)) {
        precondition(failureThreshold > 0, "the threshold is at least one failure")
        self.failureThreshold = failureThreshold
        self.cooldown = cooldown
    }

    /// Whether a call may go to the provider now.
    public mutating func allows(at now: ContinuousClock.Instant) -> Bool {
        switch state {
        case .closed: return true
        case .halfOpen: return false
        case .open(let until):
            guard now >= until else { return false }
            state = .halfOpen
            return true
        }
    }

    public mutating func succeeded() {
        state = .closed(failures: 0)
    }

    public mutating func failed(at now: ContinuousClock.Instant) {
        switch state {
        case .closed(let failures) where failures + 1 < failureThreshold:
            state = .closed(failures: failures + 1)
        default:
            state = .open(until: now + cooldown)
        }
    }

    public var isOpen: Bool {
        if case .open = state { return true }
        return false
    }
}
