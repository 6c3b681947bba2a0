import RTP
import Testing

@Suite struct ReceiverStatisticsTests {
    /// Feeds packets with a fixed 160-unit spacing and constant transit unless `arrivalJitter` says otherwise.
    func feed(_ statistics: inout RTPReceiverStatistics, _ sequences: [UInt16], arrivalJitter: (Int) -> UInt32 = { _ in 0 }) -> [RTPReceiverStatistics.Verdict] {
        sequences.enumerated().map { index, sequence in
            let timestamp = UInt32(sequence) &* 160
            return statistics.record(sequence: sequence, timestamp: timestamp, arrival: timestamp &+ 1000 &+ arrivalJitter(index))
        }
    }

    @Test func inOrderStreamLosesNothing() {
        var statistics = RTPReceiverStatistics()
        let verdicts = feed(&statistics, Array(1000...1099))
        #expect(verdicts.prefix(2) == [.probation, .accepted])
        #expect(statistics.received == 100 && statistics.expected == 100 && statistics.cumulativeLost == 0)
        #expect(statistics.jitter == 0)
        let block = statistics.reportBlock(ssrc: 5)
        #expect(block.fractionLost == 0 && block.extendedHighestSequence == 1099)
    }

    /// A digit's RFC 4733 packets take the stream's sequence numbers: they count as received, not lost, and their
    /// timestamps (the event's start, repeated) leave the interarrival jitter alone.
    @Test func telephoneEventPacketsAreNeitherLossNorJitter() {
        var statistics = RTPReceiverStatistics()
        _ = feed(&statistics, Array(1000...1049))
        for sequence in UInt16(1050)...1057 { statistics.recordSequence(sequence) }
        _ = feed(&statistics, Array(1058...1099))
        #expect(statistics.received == 100 && statistics.expected == 100 && statistics.cumulativeLost == 0)
        #expect(statistics.jitter == 0)
    }

    @Test func gapsAreLossAndFractionIsPerInterval() {
        var statistics = RTPReceiverStatistics()
        _ = feed(&statistics, Array(1...100).filter { $0 % 4 != 0 })  // every fourth lost (25 of 100, the last is 99)
        #expect(statistics.cumulativeLost == 24)
        #expect(statistics.reportBlock(ssrc: 1).fractionLost == UInt8(24 * 256 / 99))
        _ = feed(&statistics, Array(101...200))
        let second = statistics.reportBlock(ssrc: 1)
        #expect(second.fractionLost == UInt8(1 * 256 / 101))  // only 100 was lost in this interval
        #expect(second.cumulativeLost == 25)
    }

    @Test func sequenceWrapCountsACycle() {
        var statistics = RTPReceiverStatistics()
        _ = feed(&statistics, Array(65530...65535) + Array(0...9))
        #expect(statistics.cycles == 65536)
        #expect(statistics.extendedHighestSequence == 65536 + 9)
        #expect(statistics.cumulativeLost == 0 && statistics.received == 16)
    }

    @Test func duplicatesNeverMakeLossNegative() {
        var statistics = RTPReceiverStatistics()
        let verdicts = feed(&statistics, [1, 2, 3, 3, 3, 4, 2, 5])
        #expect(verdicts.filter { $0 == .duplicate }.count == 3)
        #expect(statistics.received == 5 && statistics.cumulativeLost == 0)
        #expect(statistics.reportBlock(ssrc: 1).fractionLost == 0)
    }

    @Test func reorderedPacketsFillTheirGap() {
        var statistics = RTPReceiverStatistics()
        let verdicts = feed(&statistics, [1, 2, 4, 5, 3, 6])
        #expect(verdicts == [.probation, .accepted, .accepted, .accepted, .accepted, .accepted])
        #expect(statistics.cumulativeLost == 0)
    }

    @Test func aConfirmedJumpRestartsTheSource() {
        var statistics = RTPReceiverStatistics()
        _ = feed(&statistics, [1, 2, 3])
        let verdicts = feed(&statistics, [40_000, 40_001, 40_002])
        #expect(verdicts == [.invalid, .accepted, .accepted])
        #expect(statistics.baseSequence == 40_001 && statistics.cumulativeLost == 0)
    }

    @Test func jitterFollowsAppendixA8() {
        var statistics = RTPReceiverStatistics()
        // Transit alternates by 80 units: |D| = 80 every packet after the first, so J converges to 80.
        _ = feed(&statistics, Array(1...400)) { $0 % 2 == 0 ? 0 : 80 }
        #expect((78...80).contains(statistics.jitter))
    }

    @Test func roundTripFromLSRAndDLSR() {
        let block = RTCPReportBlock(ssrc: 1, fractionLost: 0, cumulativeLost: 0, extendedHighestSequence: 0, jitter: 0, lastSenderReport: 0x0001_0000, delaySinceLastSenderReport: 0x0000_8000)
        // Arrival 1.75 s after LSR, 0.5 s held by the peer: RTT 1.25 s = 0x14000 / 65536.
        #expect(RTPReceiverStatistics.roundTrip(arrivalCompactNTP: 0x0002_C000, block: block) == 0x0001_4000)
        #expect(RTPReceiverStatistics.roundTrip(arrivalCompactNTP: 0x0001_0000, block: block) == nil)
        var noLSR = block
        noLSR.lastSenderReport = 0
        #expect(RTPReceiverStatistics.roundTrip(arrivalCompactNTP: 5, block: noLSR) == nil)
    }
}
