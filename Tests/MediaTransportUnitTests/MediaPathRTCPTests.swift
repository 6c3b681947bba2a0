import AnswerNinjaCore
import MediaTransport
import NIOCore
import RTP
import SRTP
import Testing

/// RTCP on a media path (RFC 3550 §6, RFC 5761): our compound SR + SDES, SRTCP-protected on SRTP legs, taken by
/// the far end's path from the RTP port; a tampered one is counted and dropped.
@Suite struct MediaPathRTCPTests {
    @Test(arguments: [SRTPCryptoSuite?.none, .aeadAES128GCM, .aesCM128HMACSHA1_80], SRTPImplementation.allCases)
    func aSenderReportReachesTheFarEnd(suite: SRTPCryptoSuite?, implementation: SRTPImplementation) throws {
        var (sender, receiver) = try MediaPathTests.pair(suite, implementation)
        var datagram = ByteBuffer()
        // The far end (`receiver`) hears 50 frames, so its report block is about our stream.
        for frame in 0..<50 {
            try sender.send(MediaPathTests.tone(frame)[...], into: &datagram)
            _ = receiver.receive(&datagram, at: MediaPathTests.instant(Double(frame) * 20 + 30))
        }
        try sender.controlReport(now: MediaPathTests.instant(1000), ntp: 0xE000_0000_8000_0000, cname: "gateway@test", into: &datagram)
        if suite == nil {
            let compound = try RTCPCompoundPacket(parsing: datagram)
            guard case .senderReport(let report) = compound.packets.first, case .sourceDescription(let chunks) = compound.packets.last else {
                Issue.record("SR then SDES: \(compound.packets)")
                return
            }
            #expect(report.ssrc == 1 && report.packetCount == 50 && report.octetCount == 50 * 160 && report.ntpTimestamp == 0xE000_0000_8000_0000)
            #expect(chunks.first?.items.first?.value == "gateway@test")
        }
        var tampered = datagram
        #expect(receiver.receive(&datagram, at: MediaPathTests.instant(1010)) == .control)
        #expect(receiver.statistics.controlReceived == 1 && sender.statistics.controlSent == 1)
        #expect(receiver.statistics.received == 50, "RTCP is not counted as RTP")
        if suite != nil {
            tampered.setInteger(tampered.getInteger(at: 20, as: UInt8.self)! ^ 0x01, at: 20)
            #expect(receiver.receive(&tampered, at: MediaPathTests.instant(1020)) == .dropped(.unauthenticated), "SRTCP authentication")
        }
    }

    /// Our report block on the far end's stream: its SSRC, the highest sequence seen, no loss, and the delay since
    /// its last SR in 1/65536 s.
    @Test func theReportBlockDescribesTheFarEndsStream() throws {
        var (sender, receiver) = try MediaPathTests.pair(nil)
        var datagram = ByteBuffer()
        for frame in 0..<20 {
            try sender.send(MediaPathTests.tone(frame)[...], into: &datagram)
            _ = receiver.receive(&datagram, at: MediaPathTests.instant(Double(frame) * 20))
        }
        try sender.controlReport(now: MediaPathTests.instant(400), ntp: 0x0000_1234_5678_0000, cname: "a", into: &datagram)
        _ = receiver.receive(&datagram, at: MediaPathTests.instant(400))
        try receiver.controlReport(now: MediaPathTests.instant(900), ntp: 0, cname: "b", into: &datagram)
        let compound = try RTCPCompoundPacket(parsing: datagram)
        guard case .senderReport(let report) = compound.packets.first, let block = report.reports.first else {
            Issue.record("a report block: \(compound.packets)")
            return
        }
        #expect(block.ssrc == 1 && block.cumulativeLost == 0 && block.fractionLost == 0)
        #expect(block.lastSenderReport == 0x1234_5678, "the middle 32 bits of its NTP time")
        #expect(block.delaySinceLastSenderReport == 32768, "0.5 s in 1/65536 s")
    }
}
