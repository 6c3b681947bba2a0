import AnswerNinjaCore
import MediaTransport
import Testing

@Suite struct RTPPortPoolTests {
    /// Even ports round-robin; a released port rests for the quarantine; a full range gives nothing after a
    /// bounded look.
    @Test func portsAreHandedOutRoundRobinAndRestAfterRelease() {
        let pool = RTPPortPool(range: 20001...20010, quarantine: .seconds(2))
        let start = MediaInstant(.now())
        #expect(pool.candidates(now: start, count: 3) == [20002, 20004, 20006], "even ports from the bottom of the range")
        for port in [20002, 20004] { pool.markInUse(port) }
        #expect(pool.inUseCount == 2)
        pool.release(20002, now: start)
        let free = pool.candidates(now: start, count: 8)
        #expect(!free.contains(20002) && !free.contains(20004), "in quarantine, in use: \(free)")
        #expect(pool.candidates(now: start.advanced(by: .seconds(3)), count: 8).contains(20002), "back after its quarantine")
    }

    @Test func aFullRangeCostsABoundedLook() {
        let pool = RTPPortPool(range: 20000...59999, quarantine: .seconds(30))
        let now = MediaInstant(.now())
        for port in stride(from: 20000, through: 59998, by: 2) {
            pool.markInUse(port)
            pool.release(port, now: now)
        }
        #expect(pool.candidates(now: now).isEmpty, "20,000 ports in quarantine: none to give")
        #expect(pool.candidates(now: now.advanced(by: .seconds(31))).count == 8)
    }
}
