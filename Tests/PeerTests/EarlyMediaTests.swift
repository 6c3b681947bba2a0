import AnswerNinjaTestSupport
import Codecs
import Foundation
import Testing

/// Early media on the B2BUA: the user's device (SIPp, registered over TCP) answers the gateway's INVITE with 183 and
/// an SDP and streams a chirp (`rtp_stream`) before its final answer, as a carrier's ringback or announcement does.
/// The caller (`call`) gets 183 with the SDP its 200 will carry and hears the chirp before the answer. (baresip's
/// `answermode=early` sends its 183 but starts its audio only with the answer, so it cannot be this device.)
@Suite(.serialized) struct EarlyMediaTests {
    static let down = AudioCorrelation.chirp(from: 2400, to: 400, seconds: 1.5)

    /// A user owning +1 415 555 0100 who forwards to alice's device, with +1 415 555 0123 on the whitelist; SIPp as
    /// alice answering with `scenario` (its RTP_FILE the chirp, four times, in PCMU); then `body` with the call
    /// tool's report as +1 415 555 0123 (after `seconds` of call) and what it recorded.
    static func call(
        answering scenario: String, seconds: Int, _ body: (AnswerNinjaProcess, UserAPI, [String: Any], [Int16]) async throws -> Void
    ) async throws {
        let gateway = try await SIPScenarioTests.registrar(["ANSWER_NINJA_API_BCRYPT_COST": "4"])
        try await withPeer(gateway) { gateway in
            let api = try await SIPScenarioTests.wantedCaller(of: gateway)
            let sipPort = try #require(gateway.sipPort)

            let directory = try PeerEnvironment.artifactsDirectory(named: "early-media")
            var coded: [UInt8] = []
            G711.encode(AudioCorrelation.repeated(down, times: 4), law: .muLaw, into: &coded)
            let media = directory.appendingPathComponent("chirp.ulaw")
            try Data(coded).write(to: media)
            let template = try String(contentsOfFile: AnswerNinjaProcess.packageRootFromSource() + "/Tests/PeerTests/SIPp/\(scenario)", encoding: .utf8)
            let file = directory.appendingPathComponent(scenario)
            try template.replacingOccurrences(of: "RTP_FILE", with: media.path).write(to: file, atomically: true, encoding: .utf8)

            let device = try SIPScenarioTests.deviceOverTCP(gateway, answering: file.path, seconds: 15)
            try await gateway.process.waitUntilReady(timeout: .seconds(15)) { !SIPScenarioTests.lines(gateway, containing: "device registered").isEmpty }
            let heard = directory.appendingPathComponent("heard.wav")
            let result = try await PeerEnvironment.run(
                try AnswerNinjaProcess.binary(),
                ["call", "sip:+14155550100@127.0.0.1:\(sipPort)", "--from", "+14155550123", "--record", heard.path, "--duration", String(seconds), "--json"],
                timeout: .seconds(60)
            )
            #expect(result.status == 0, "\(result.output)")
            let report = try #require(try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any], "\(result.output)")
            let line = SIPScenarioTests.lines(gateway, containing: #""msg":"early media""#).first ?? ""
            #expect(line.contains(#""status":"183""#) && line.contains(#""media":"relay""#), "\(line)")
            try await body(gateway, api, report, try AudioCorrelation.samples(ofWAV: heard))
            let run = try await device.value
            #expect(run.status == 0, "the device's scenario ran through: \(run.output.suffix(1500))")
        }
    }

    @Test(.enabled(if: PeerEnvironment.available("sipp")), .timeLimit(.minutes(2)))
    func theCallerHearsTheDevicesEarlyMediaBeforeTheAnswer() async throws {
        try await Self.call(answering: "early-device.xml", seconds: 1) { gateway, _, report, samples in
            #expect(report["answered"] as? Bool == true, "\(report)")
            let early = try #require(report["early_media_ms"] as? Double, "the caller got 183 with SDP: \(report)")
            // Five seconds of early media hold two whole chirps (1.5 s each, 0.5 s apart): one that starts while the
            // relay is being set up may be cut (seen once in CI), the next one must be heard whole.
            #expect(early >= 4500, "\(early) ms of early media")
            #expect(SIPScenarioTests.lines(gateway, containing: #""msg":"bridged""#).count == 1, "then the device answered")
            // What the caller recorded before the answer is the device's chirp.
            let correlation = await AudioCorrelation.best(Array(samples.prefix(Int(early / 1000 * 8000))), Self.down)
            print("early media: \(early) ms before the answer, the caller heard the device at \(correlation)")
            #expect(correlation >= 0.8)
        }
    }

    /// The far end plays an announcement, then fails (486): the caller's session is its own again, and the caller,
    /// who heard the announcement, is answered by the assistant (`connect:no_answer`), whose voice it hears.
    @Test(.enabled(if: PeerEnvironment.available("sipp")), .timeLimit(.minutes(2)))
    func anEarlyLegThatFailsHandsTheCallerToTheAssistant() async throws {
        try await Self.call(answering: "early-busy-device.xml", seconds: 4) { gateway, api, report, samples in
            #expect(report["answered"] as? Bool == true, "\(report)")
            let early = try #require(report["early_media_ms"] as? Double, "the caller got 183 with SDP: \(report)")
            #expect(early >= 1500, "\(early) ms of early media")
            #expect(SIPScenarioTests.lines(gateway, containing: #""msg":"bridged""#).isEmpty, "no device answered")
            let split = Int(early / 1000 * 8000)
            let correlation = await AudioCorrelation.best(Array(samples.prefix(split)), Self.down)
            // After the answer: the assistant speaks (its greeting), not the silence of a leg still bridged to the
            // released device.
            let after = samples.dropFirst(split)
            let loudest = stride(from: after.startIndex, to: after.endIndex - 160, by: 160).map { start in
                (after[start..<start + 160].reduce(0.0) { $0 + Double($1) * Double($1) } / 160).squareRoot()
            }.max() ?? 0
            print("early media then busy: \(early) ms, the announcement at \(correlation), the assistant's loudest frame RMS \(loudest)")
            #expect(correlation >= 0.8)
            #expect(loudest > 300, "the assistant's voice after the answer")
            try await gateway.process.waitUntilReady(timeout: .seconds(10)) {
                ((try? await api("GET", "/calls"))?.object?["calls"] as? [[String: Any]])?.first?["state"] as? String == "ended"
            }
            let record = try #require(((try await api("GET", "/calls")).object?["calls"] as? [[String: Any]])?.first)
            #expect((record["reasons"] as? [String])?.contains("connect:no_answer") == true, "\(record)")
        }
    }
}
