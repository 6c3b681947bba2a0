import AnswerNinjaTestSupport
import Foundation
import Testing

/// `answer-ninja replay` with the captures in Fixtures/ (made by tools/make-fixtures with baresip and SIPp as the
/// callers): each call is sent again, rewritten, to a fresh `serve`, which answers it, records the caller and takes
/// its BYE.
@Suite(.serialized) struct SIPReplayTests {
    static func replay(_ fixture: String, _ gateway: AnswerNinjaProcess) async throws -> (status: Int32, report: [String: Any]) {
        let sipPort = try #require(gateway.sipPort)
        let result = try await PeerEnvironment.run(
            try AnswerNinjaProcess.binary(),
            ["replay", AnswerNinjaProcess.packageRootFromSource() + "/Fixtures/\(fixture)", "--target", "127.0.0.1:\(sipPort)", "--json"],
            timeout: .seconds(60)
        )
        let report = (try? JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any]) ?? [:]
        #expect(!report.isEmpty, "\(result.output)")
        return (result.status, report)
    }

    @Test(.timeLimit(.minutes(1)))
    func capturedCallsAreReplayedAgainstTheGateway() async throws {
        let gateway = try await AnswerNinjaProcess.start()
        try await withPeer(gateway) { gateway in
            // baresip's call: PCMU, a falling chirp for 4 s, then its BYE.
            let baresip = try await Self.replay("baresip-call.pcap", gateway)
            #expect(baresip.status == 0)
            #expect(baresip.report["answered"] as? Bool == true)
            #expect(baresip.report["responses"] as? [String] == ["100 INVITE", "200 INVITE", "200 BYE"])
            #expect((baresip.report["rtp_sent"] as? Int ?? 0) > 190 && (baresip.report["rtp_received"] as? Int ?? 0) > 150, "\(baresip.report)")
            try await gateway.process.waitUntilReady(timeout: .seconds(10)) { gateway.process.log().contains("call ended") }
            let file = try #require(try await gateway.recordings().first)
            let heard = await AudioCorrelation.best(try AudioCorrelation.samples(ofWAV: file, channel: 0), AudioCorrelation.chirp(from: 2400, to: 400, seconds: 1.5))
            print("the replayed caller's chirp in our recording: correlation \(heard)")
            #expect(heard >= 0.8)

            // SIPp's uac_pcap call: A-law from a pcap, and RFC 2833 digit 1.
            let sipp = try await Self.replay("sipp-call.pcap", gateway)
            #expect(sipp.status == 0 && sipp.report["answered"] as? Bool == true, "\(sipp.report)")
            try await gateway.process.waitUntilReady(timeout: .seconds(10)) { SIPScenarioTests.lines(gateway, containing: "call ended").count == 2 }
            let ended = SIPScenarioTests.lines(gateway, containing: "call ended")
            #expect(ended.allSatisfy { $0.contains(#""hangup_side":"remote""#) }, "both BYEs replayed: \(ended)")
            #expect(ended.last?.contains(#""dtmf_rtp":"1""#) == true, "\(ended.last ?? "")")
            #expect(SIPScenarioTests.lines(gateway, containing: "call answered").last?.contains(#""codec":"pcma""#) == true)
        }
    }

    @Test func whatIsNoCallIsRefusedWithAReason() async throws {
        let directory = try PeerEnvironment.artifactsDirectory(named: "replay-bad")
        let notPcap = directory.appendingPathComponent("not.pcap")
        try "hello".write(to: notPcap, atomically: true, encoding: .utf8)
        let refused = try await PeerEnvironment.run(try AnswerNinjaProcess.binary(), ["replay", notPcap.path, "--target", "127.0.0.1:5060", "--json"])
        #expect(refused.status != 0 && refused.output.contains("not a pcap or pcapng file"), "\(refused.output)")
        let badTarget = try await PeerEnvironment.run(
            try AnswerNinjaProcess.binary(), ["replay", AnswerNinjaProcess.packageRootFromSource() + "/Fixtures/sipp-call.pcap", "--target", "gateway", "--json"]
        )
        #expect(badTarget.status == 2 && badTarget.output.contains("--target must be IP:PORT"), "\(badTarget.output)")
    }
}
