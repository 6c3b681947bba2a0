import AnswerNinjaTestSupport
import Foundation
import Testing

/// Calls out through the trunk, with real peers: Kamailio as the carrier (a registrar that challenges calls from its
/// registered customers with 407), a baresip registered there as a friend's phone (+1 415 555 0142), and a baresip
/// registered with the gateway as the user's own phone (`alice`). The gateway registers with Kamailio as the user's
/// number, +1 415 555 0100.
@Suite(.serialized) struct OutboundCallTests {
    @Test(.enabled(if: PeerEnvironment.available("kamailio") && PeerEnvironment.available("baresip")), .timeLimit(.minutes(4)))
    func theUsersPhoneCallsOutAndTheNumberItCalledIsWanted() async throws {
        let trunk = try await KamailioPeer.start(configuration: KamailioPeer.trunkConfiguration(password: "trunk-secret"))
        try await withPeer(trunk) { trunk in
            let password = "alice-pw-\(UInt32.random(in: 1_000_000...9_999_999))"
            let gateway = try await AnswerNinjaProcess.start(
                environment: [
                    "ANSWER_NINJA_SIP_TRUNK_REGISTRAR": "sip:127.0.0.1:\(trunk.port)", "ANSWER_NINJA_SIP_TRUNK_USERNAME": "+14155550100",
                    "ANSWER_NINJA_SIP_TRUNK_PASSWORD": "trunk-secret", "ANSWER_NINJA_SIP_DEVICE_ACCOUNTS": "alice:\(password)",
                    "ANSWER_NINJA_SIP_DEVICE_DIGEST_ALGORITHMS": "md5", "ANSWER_NINJA_API_BCRYPT_COST": "4",
                ],
                dataDirectory: try PeerEnvironment.artifactsDirectory(named: "outbound")
            )
            try await withPeer(gateway) { gateway in
                try await gateway.process.waitUntilReady(timeout: .seconds(20)) { gateway.process.log().contains(#""registered""#) }
                let (_, token) = try await gateway.makeOwner(of: "+14155550100")
                let api = UserAPI(gateway: gateway, token: token)
                #expect(try await api("PATCH", "/me", ["forwarding_target": "sip:alice@127.0.0.1"]).status == 200)
                let sipPort = try #require(gateway.sipPort)
                let caller = ScreeningCallTests.Caller(gateway: gateway, sipPort: sipPort)

                let directory = try PeerEnvironment.artifactsDirectory(named: "outbound-audio")
                let up = AudioCorrelation.chirp(from: 400, to: 2400, seconds: 1.5), down = AudioCorrelation.chirp(from: 2400, to: 400, seconds: 1.5)
                let upFile = directory.appendingPathComponent("up.wav"), downFile = directory.appendingPathComponent("down.wav")
                try AudioCorrelation.writeWAV(AudioCorrelation.repeated(up, times: 4), to: upFile)
                try AudioCorrelation.writeWAV(AudioCorrelation.repeated(down, times: 4), to: downFile)
                let friend = try await BaresipPeer.start(
                    user: "+14155550142", audioFile: upFile.path, registrar: .init(hostPort: "127.0.0.1:\(trunk.port)", password: "trunk-secret")
                )
                try await withPeer(friend) { friend in
                    let phone = try await BaresipPeer.start(
                        user: "alice", audioFile: downFile.path, registrar: .init(hostPort: "127.0.0.1:\(sipPort)", password: password)
                    )
                    try await withPeer(phone) { phone in
                        try await gateway.process.waitUntilReady(timeout: .seconds(20)) { !SIPScenarioTests.lines(gateway, containing: "device registered").isEmpty }
                        try await friend.process.waitUntilReady(timeout: .seconds(20)) { friend.process.log().contains("200 OK") }

                        // Not the device (no credentials): challenged, and nothing goes out.
                        let stranger = try await caller.call(from: "alice", to: "4155550142")
                        #expect(stranger["answered"] as? Bool == false && stranger["status_code"] as? Int == 407, "\(stranger)")
                        // The wrong password: 403. A number no one has at the carrier: the carrier's 404 comes back,
                        // after the gateway answered its challenge. Too short to be a number: 484.
                        let wrong = try await caller.call(from: "alice", to: "4155550142", extra: ["--password", "not-it"])
                        #expect(wrong["status_code"] as? Int == 403, "\(wrong)")
                        let nobody = try await caller.call(from: "alice", to: "4155550199", extra: ["--password", password])
                        #expect(nobody["status_code"] as? Int == 404, "\(nobody)")
                        let short = try await caller.call(from: "alice", to: "12", extra: ["--password", password])
                        #expect(short["status_code"] as? Int == 484 && (short["reason"] as? String)?.contains("Address Incomplete") == true, "\(short)")

                        // The user's phone dials a national number: the gateway challenges it, reads the number in the
                        // user's region, answers the trunk's challenge, and bridges the two; each side hears the other.
                        try await phone.dial("sip:4155550142@127.0.0.1:\(sipPort)")
                        try await gateway.process.waitUntilReady(timeout: .seconds(20)) { !SIPScenarioTests.lines(gateway, containing: #""msg":"bridged""#).isEmpty }
                        let out = SIPScenarioTests.lines(gateway, containing: #""msg":"calling out""#).last ?? ""
                        #expect(out.contains(#""number":"+14155550142""#) && out.contains(#""caller_id":"+14155550100""#), "\(out)")
                        #expect(SIPScenarioTests.lines(gateway, containing: #""msg":"call challenged by the trunk""#).first?.contains(#""status":"407""#) == true)
                        try await Task.sleep(for: .seconds(5))
                        try await phone.hangUp()
                        try await gateway.process.waitUntilReady(timeout: .seconds(10)) { SIPScenarioTests.lines(gateway, containing: "call ended").count == 2 }
                        try await friend.waitUntilCallsEnded()
                        try await phone.waitUntilCallsEnded()
                        let friendHeard = await AudioCorrelation.best(try AudioCorrelation.samples(ofWAV: try #require(try friend.receivedAudio())), down)
                        let phoneHeard = await AudioCorrelation.best(try AudioCorrelation.samples(ofWAV: try #require(try phone.receivedAudio())), up)
                        print("call out: the friend heard the user at \(friendHeard), the user heard the friend at \(phoneHeard)")
                        #expect(friendHeard >= 0.8 && phoneHeard >= 0.8)

                        // The number the user called is on their whitelist, learned, with why.
                        let listed = try await api("GET", "/whitelist")
                        let entry = (listed.object?["entries"] as? [[String: Any]])?.first { $0["pattern"] as? String == "+14155550142" }
                        #expect(entry?["source"] as? String == "learned" && (entry?["reason"] as? String)?.contains("called by the user") == true, "\(listed.text)")

                        // So when that number calls back, it is put through to the user's phone.
                        let back = try await caller.call(from: "+14155550142", seconds: 3)
                        #expect(back["answered"] as? Bool == true, "\(back)")
                        #expect(SIPScenarioTests.lines(gateway, containing: #""msg":"bridged""#).count == 2, "the phone answered the call back")

                        // A user who forwards to a number: a wanted caller rings it through the trunk (the friend's
                        // phone), and the caller and the friend hear each other.
                        #expect(try await api("PATCH", "/me", ["forwarding_target": "4155550142"]).status == 200)
                        let heard = directory.appendingPathComponent("heard.wav")
                        let forwarded = try await caller.call(from: "+14155550142", seconds: 6, extra: ["--play", downFile.path, "--record", heard.path])
                        #expect(forwarded["answered"] as? Bool == true, "\(forwarded)")
                        #expect(!SIPScenarioTests.lines(gateway, containing: #""msg":"forwarding""#).isEmpty)
                        #expect(SIPScenarioTests.lines(gateway, containing: #""msg":"bridged""#).count == 3, "the friend answered the forwarded call")
                        #expect(SIPScenarioTests.lines(gateway, containing: #""msg":"bridged""#).allSatisfy { $0.contains(#""media":"relay""#) }, "PCMU on both legs: relayed")
                        let callerHeard = await AudioCorrelation.best(try AudioCorrelation.samples(ofWAV: heard), up)
                        print("forwarded: the caller heard the friend at \(callerHeard)")
                        #expect(callerHeard >= 0.8)
                        // The caller hung up first: the gateway's BYE to the friend's leg is challenged by the carrier,
                        // answered with the trunk's credentials, and the friend's call ends.
                        try await friend.waitUntilCallsEnded(2)
                        #expect(SIPScenarioTests.lines(gateway, containing: #""msg":"BYE challenged by the trunk""#).first?.contains(#""status":"407""#) == true)

                        // The records: the call back and the forwarded call, each put through by the learned entry;
                        // the user's own call out has none.
                        try await gateway.process.waitUntilReady(timeout: .seconds(10)) {
                            ((try? await api("GET", "/calls"))?.object?["calls"] as? [[String: Any]])?.count == 2
                        }
                        let calls = try #require((try await api("GET", "/calls")).object?["calls"] as? [[String: Any]])
                        for call in calls {
                            #expect(call["caller"] as? String == "+14155550142" && call["decision"] as? String == "connect", "\(call)")
                            #expect((call["reasons"] as? [String])?.contains { $0.hasPrefix("whitelist:learned") } == true, "\(call)")
                        }

                        // A forwarding target that leads back to the number called would ring itself through the
                        // trunk for ever: it is refused, and the caller is answered here instead (the assistant).
                        #expect(try await api("PATCH", "/me", ["forwarding_target": "+14155550100"]).status == 200)
                        let looped = try await caller.call(from: "+14155550142", seconds: 3)
                        #expect(looped["answered"] as? Bool == true, "\(looped)")
                        #expect(SIPScenarioTests.lines(gateway, containing: #""msg":"forwarding""#).count == 1, "nothing more went to the trunk")
                        #expect(SIPScenarioTests.lines(gateway, containing: #""msg":"bridged""#).count == 3)
                        try await gateway.process.waitUntilReady(timeout: .seconds(15)) {
                            ((try? await api("GET", "/calls"))?.object?["calls"] as? [[String: Any]])?.count == 3
                        }
                        let all = try #require((try await api("GET", "/calls")).object?["calls"] as? [[String: Any]])
                        #expect(all.contains { ($0["reasons"] as? [String])?.contains("connect:forwarding_loop") == true }, "\(all)")
                    }
                }
            }
        }
    }
}
