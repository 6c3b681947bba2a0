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

    /// Processes sharing a range start at a random even port each, so they do not all contend for the first few.
    @Test func spreadPoolsStartAtRandomEvenPortsOfTheRange() {
        let now = MediaInstant(.now())
        let starts = (0..<20).map { _ in RTPPortPool(range: 20001...29999, spread: true).candidates(now: now, count: 1)[0] }
        #expect(starts.allSatisfy { $0 % 2 == 0 && (20002...29998).contains($0) }, "\(starts)")
        #expect(Set(starts).count > 10, "twenty pools, twenty-odd starts: \(starts)")
        let small = RTPPortPool(range: 20000...20003, spread: true)
        #expect(Set(small.candidates(now: now, count: 8)) == [20000, 20002], "a small range still gives each of its ports")
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
