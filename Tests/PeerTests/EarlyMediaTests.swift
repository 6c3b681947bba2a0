import AnswerNinjaTestSupport
import Codecs
import Foundation
import Testing

/// Early media on the B2BUA: the user's device (SIPp, registered over TCP) answers the gateway's INVITE with 183 and
/// an SDP and streams a chirp before it answers, three seconds later, as a carrier's ringback or announcement does.
/// The caller (`call`) gets 183 with the SDP its 200 will carry and hears the chirp before the answer. (baresip's
/// `answermode=early` sends its 183 but starts its audio only with the answer, so it cannot be this device.)
@Suite(.serialized) struct EarlyMediaTests {
    @Test(.enabled(if: PeerEnvironment.available("sipp")), .timeLimit(.minutes(2)))
    func theCallerHearsTheDevicesEarlyMediaBeforeTheAnswer() async throws {
        let gateway = try await SIPScenarioTests.registrar(["ANSWER_NINJA_API_BCRYPT_COST": "4"])
        try await withPeer(gateway) { gateway in
            let (_, token) = try await gateway.makeOwner(of: "+14155550100")
            let api = UserAPI(gateway: gateway, token: token)
            #expect(try await api("PATCH", "/me", ["forwarding_target": "sip:alice@127.0.0.1"]).status == 200)
            #expect(try await api("POST", "/whitelist", ["pattern": "+14155550123", "label": "Mum"]).status == 201)
            let sipPort = try #require(gateway.sipPort)

            // The device's early media: a chirp, four times, as PCMU for SIPp's rtp_stream.
            let directory = try PeerEnvironment.artifactsDirectory(named: "early-media")
            let down = AudioCorrelation.chirp(from: 2400, to: 400, seconds: 1.5)
            var coded: [UInt8] = []
            G711.encode(AudioCorrelation.repeated(down, times: 4), law: .muLaw, into: &coded)
            let media = directory.appendingPathComponent("chirp.ulaw")
            try Data(coded).write(to: media)
            let template = try String(contentsOfFile: AnswerNinjaProcess.packageRootFromSource() + "/Tests/PeerTests/SIPp/early-device.xml", encoding: .utf8)
            let scenario = directory.appendingPathComponent("early-device.xml")
            try template.replacingOccurrences(of: "RTP_FILE", with: media.path).write(to: scenario, atomically: true, encoding: .utf8)

            let device = try SIPScenarioTests.deviceOverTCP(gateway, answering: scenario.path, seconds: 15)
            try await gateway.process.waitUntilReady(timeout: .seconds(15)) { !SIPScenarioTests.lines(gateway, containing: "device registered").isEmpty }
            let heard = directory.appendingPathComponent("heard.wav")
            let result = try await PeerEnvironment.run(
                try AnswerNinjaProcess.binary(),
                ["call", "sip:+14155550100@127.0.0.1:\(sipPort)", "--from", "+14155550123", "--record", heard.path, "--duration", "1", "--json"],
                timeout: .seconds(60)
            )
            #expect(result.status == 0, "\(result.output)")
            let report = try #require(try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any], "\(result.output)")
            #expect(report["answered"] as? Bool == true, "\(report)")
            let early = try #require(report["early_media_ms"] as? Double, "the caller got 183 with SDP: \(report)")
            #expect(early >= 2500, "\(early) ms of early media")
            let line = SIPScenarioTests.lines(gateway, containing: #""msg":"early media""#).first ?? ""
            #expect(line.contains(#""status":"183""#) && line.contains(#""media":"relay""#), "\(line)")
            #expect(SIPScenarioTests.lines(gateway, containing: #""msg":"bridged""#).count == 1, "then the device answered")
            // What the caller recorded before the answer is the device's chirp.
            let samples = try AudioCorrelation.samples(ofWAV: heard)
            let correlation = await AudioCorrelation.best(Array(samples.prefix(Int(early / 1000 * 8000))), down)
            print("early media: \(early) ms before the answer, the caller heard the device at \(correlation)")
            #expect(correlation >= 0.8)
            let run = try await device.value
            #expect(run.status == 0, "the device saw its 183 and 200 through, then the ACK and the BYE: \(run.output.suffix(1500))")
        }
    }
}
