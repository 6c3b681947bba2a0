import AnswerNinjaTestSupport
import Foundation
import Testing

/// A wanted caller put through by the assistant: the caller says who they are, the assistant offers to connect them,
/// they say yes, the user's softphone (baresip, registered to the gateway) rings, answers, hears the assistant's
/// one-line summary of the caller, and only then is bridged to the caller. With `mediaApart`, the call's media and
/// assistant run in a media role of another process (`answer-ninja media`, reached at `media.control_url`): the
/// gateway re-INVITEs the caller to bring the media back to its own RTP port before the bridge.
@Suite(.serialized) struct AssistantTransferTests {
    @Test(.enabled(if: PeerEnvironment.available("baresip")), .timeLimit(.minutes(3)), arguments: [false, true])
    func aWantedCallerIsAnnouncedToTheUserThenPutThrough(mediaApart: Bool) async throws {
        let transcriber = TranscriptionDouble.scripted(["hey it's your sister calling about mom's birthday dinner on saturday", "yes please connect me"])
        try await transcriber.run { url in
            let password = "alice-pw-\(UInt32.random(in: 1_000_000...9_999_999))"
            let data = try PeerEnvironment.artifactsDirectory(named: "assistant-transfer")
            let speech = [
                "ANSWER_NINJA_SIP_ANSWER_MODE": "assistant", "ANSWER_NINJA_SPEECH_STT_PROVIDER": "openai", "ANSWER_NINJA_SPEECH_PROVIDER_URL": url,
                "ANSWER_NINJA_SPEECH_PROVIDER_KEY": "test-key", "ANSWER_NINJA_SPEECH_STT_DECODERS": "1", "ANSWER_NINJA_SPEECH_PROVIDER_TIMEOUT": "20s",
            ]
            // The media role apart shares the data directory (the recordings volume); its conversation runs in its process.
            let media = mediaApart
                ? try await AnswerNinjaProcess.start(command: "media", environment: speech.merging(["ANSWER_NINJA_CONVERSATION_URL": ""]) { $1 }, dataDirectory: data)
                : nil
            var environment = speech.merging([
                "ANSWER_NINJA_SIP_DEVICE_ACCOUNTS": "alice:\(password)", "ANSWER_NINJA_SIP_DEVICE_DIGEST_ALGORITHMS": "md5", "ANSWER_NINJA_API_BCRYPT_COST": "4",
            ]) { $1 }
            if let media { environment["ANSWER_NINJA_MEDIA_CONTROL_URL"] = "ws://127.0.0.1:\(media.httpPort)/internal/media-control" }
            let gateway = try await AnswerNinjaProcess.start(environment: environment, dataDirectory: data)
            try await withPeer(gateway) { gateway in
                let (_, token) = try await gateway.makeOwner(of: "+14155550100")
                let api = UserAPI(gateway: gateway, token: token)
                #expect(try await api("PATCH", "/me", ["forwarding_target": "sip:alice@127.0.0.1"]).status == 200)
                let sipPort = try #require(gateway.sipPort)
                let directory = try PeerEnvironment.artifactsDirectory(named: "assistant-transfer-call")
                let down = AudioCorrelation.chirp(from: 2400, to: 400, seconds: 1.5)
                let theirs = directory.appendingPathComponent("device.wav")
                // The device's side: two seconds of silence, then its chirp again and again.
                try AudioCorrelation.writeWAV(
                    [Int16](repeating: 0, count: 16_000) + AudioCorrelation.repeated(down, times: 8), to: theirs
                )
                let phone = try await BaresipPeer.start(user: "alice", audioFile: theirs.path, registrar: .init(hostPort: "127.0.0.1:\(sipPort)", password: password))
                try await withPeer(phone) { phone in
                    try await gateway.process.waitUntilReady(timeout: .seconds(20)) { !SIPScenarioTests.lines(gateway, containing: "device registered").isEmpty }
                    let script = directory.appendingPathComponent("caller.txt"), heard = directory.appendingPathComponent("heard.wav")
                    // The caller stays on after saying yes (the wait), until the call tool's --duration.
                    try "> hey it's your sister calling about mom's birthday dinner on saturday\n> yes please connect me\nwait 40s\n".write(to: script, atomically: true, encoding: .utf8)
                    let result = try await PeerEnvironment.run(
                        try AnswerNinjaProcess.binary(),
                        ["call", "sip:+14155550100@127.0.0.1:\(sipPort)", "--from", "+14155550142", "--script", script.path, "--record", heard.path, "--duration", "45", "--json"],
                        timeout: .seconds(75)
                    )
                    let report = try #require(try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any], "\(result.output)")
                    #expect(report["answered"] as? Bool == true, "\(report)")
                    print((SIPScenarioTests.lines(gateway, containing: "assistant turn") + SIPScenarioTests.lines(gateway, containing: "announcing")
                        + SIPScenarioTests.lines(gateway, containing: "media is here") + SIPScenarioTests.lines(gateway, containing: "take-over not joined")).joined(separator: "\n"))
                    // The user's phone heard who was calling, then was put through.
                    let announced = try #require(SIPScenarioTests.lines(gateway, containing: "announcing the caller").first, "\(gateway.process.logTail())")
                    #expect(announced.contains("1 4 1 5 5 5 5 0 1 4 2") && announced.contains("a personal call") && announced.contains("sister"), "\(announced)")
                    let log = gateway.process.log()
                    let announcedAt = try #require(log.range(of: "announcing the caller")), takenAt = try #require(log.range(of: #""msg":"taken over""#))
                    #expect(announcedAt.lowerBound < takenAt.lowerBound)
                    // What the phone received: the summary in the assistant's voice (speech before the bridge).
                    try await phone.waitUntilCallsEnded()
                    let received = try AudioCorrelation.samples(ofWAV: try #require(try phone.receivedAudio()))
                    let loudest = stride(from: 0, to: max(0, received.count - 8000), by: 1600).map { start in
                        (received[start..<start + 8000].reduce(0.0) { $0 + Double($1) * Double($1) } / 8000).squareRoot()
                    }.max() ?? 0
                    #expect(loudest > 300, "the device heard the announcement: level \(loudest)")
                    // And the caller, once put through, heard the user's phone.
                    let callerHeard = await AudioCorrelation.best(try AudioCorrelation.samples(ofWAV: heard), down)
                    print("transfer: the caller heard the device at \(callerHeard); the device's loudest second \(loudest)")
                    #expect(callerHeard >= 0.8)
                    #expect(transcriber.heard.count >= 2)
                    if let media {
                        // The assistant ran in the media role; the caller's media came back to the gateway (a
                        // re-INVITE answered) before the join, and the media role's session was released for it.
                        #expect(SIPScenarioTests.lines(media, containing: #""msg":"assistant turn""#).count >= 2, "\(media.process.logTail())")
                        #expect(SIPScenarioTests.lines(gateway, containing: #""msg":"assistant turn""#).isEmpty)
                        let moved = try #require(log.range(of: "the caller's media is here"), "\(gateway.process.logTail())")
                        #expect(moved.lowerBound < takenAt.lowerBound)
                        try await media.process.waitUntilReady(timeout: .seconds(10)) {
                            SIPScenarioTests.lines(media, containing: #""msg":"media session released""#).first?.contains(#""reason":"transferred""#) == true
                        }
                    }
                }
            }
            if let media { await media.process.stop() }
        }
    }
}
