import Speech
import Testing

@Suite struct CircuitBreakerTests {
    @Test func opensAfterTheThresholdAndLetsOneTrialThroughAfterTheCooldown() {
        var breaker = CircuitBreaker(failureThreshold: 3, cooldown: .seconds(30))
        let start = ContinuousClock.now
        var allowed = breaker.allows(at: start)
        #expect(allowed)
        breaker.failed(at: start)
        breaker.failed(at: start)
        allowed = breaker.allows(at: start)
        #expect(allowed, "two failures of three: still closed")
        breaker.failed(at: start)
        #expect(breaker.isOpen)
        allowed = breaker.allows(at: start + .seconds(29))
        #expect(!allowed)
        allowed = breaker.allows(at: start + .seconds(30))
        #expect(allowed, "one trial after the cooldown")
        allowed = breaker.allows(at: start + .seconds(30))
        #expect(!allowed, "only one while it is in flight")
        breaker.failed(at: start + .seconds(31))
        #expect(breaker.isOpen, "a failed trial opens it again")
        allowed = breaker.allows(at: start + .seconds(60))
        #expect(!allowed)
        allowed = breaker.allows(at: start + .seconds(61))
        #expect(allowed)
        breaker.succeeded()
        #expect(breaker.state == .closed(failures: 0))
    }

    @Test func aSuccessResetsTheCount() {
        var breaker = CircuitBreaker(failureThreshold: 2, cooldown: .seconds(1))
        let now = ContinuousClock.now
        breaker.failed(at: now)
        breaker.succeeded()
        breaker.failed(at: now)
        #expect(!breaker.isOpen)
    }
}
