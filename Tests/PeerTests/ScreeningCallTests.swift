import AnswerNinjaCore
import Crypto
import AnswerNinjaTestSupport
import Foundation
import Store
import Testing

/// The screening decision on real calls, against one running `serve`: a user made through the API owns a number,
/// has a softphone (baresip) registered as their device, a whitelist and a block list. Our `call` tool is the
/// caller. Every change made through the API is seen by the next call, without a restart.
@Suite(.serialized) struct ScreeningCallTests {
    struct Caller {
        let gateway: AnswerNinjaProcess
        let sipPort: Int

        /// Calls `to` as `from`; returns the call tool's report.
        func call(from: String, to: String = "+14155550100", seconds: Double = 2, extra: [String] = []) async throws -> [String: Any] {
            try Self.report(try await callText(from: from, to: to, seconds: seconds, extra: extra))
        }

        /// The same, as the tool printed it (text crosses tasks).
        func callText(from: String, to: String = "+14155550100", seconds: Double = 2, extra: [String] = []) async throws -> String {
            try await PeerEnvironment.run(
                try AnswerNinjaProcess.binary(),
                ["call", "sip:\(to)@127.0.0.1:\(sipPort)", "--from", from, "--duration", String(seconds), "--json"] + extra, timeout: .seconds(60)
            ).output
        }

        static func report(_ text: String) throws -> [String: Any] {
            try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], "\(text)")
        }
    }

    /// The user's webhook on a private HTTPS receiver (a Python server on loopback with a test CA; the gateway allowed
    /// private addresses and given the CA): a blocked call's end is POSTed with a signature that checks out under the
    /// user's secret, and a 500 is retried.
    @Test(.enabled(if: PeerEnvironment.available("python3") && PeerEnvironment.available("sipp")), .timeLimit(.minutes(2)))
    func aCallsEndReachesTheUsersWebhookSignedAndRetried() async throws {
        let web = try await TestCertificates.make(name: "webhook-https")
        let inbox = try PeerEnvironment.artifactsDirectory(named: "webhook-inbox")
        let port = try PeerEnvironment.freePort()
        let receiver = try PeerProcess(
            name: "webhook-https", executable: try PeerEnvironment.require("python3", package: "python3"),
            arguments: ["-c", """
                import http.server, ssl
                count = 0
                class Hook(http.server.BaseHTTPRequestHandler):
                    def do_POST(self):
                        global count
                        count += 1
                        body = self.rfile.read(int(self.headers["Content-Length"]))
                        open("\(inbox.path)/hook-%d.sig" % count, "w").write(self.headers.get("X-Answer-Ninja-Signature", ""))
                        open("\(inbox.path)/hook-%d.json" % count, "wb").write(body)
                        self.send_response(500 if count == 1 else 204)
                        self.end_headers()
                    def log_message(self, *args):
                        pass
                server = http.server.HTTPServer(("127.0.0.1", \(port)), Hook)
                context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                context.load_cert_chain("\(web.serverCertificate)", "\(web.serverKey)")
                server.socket = context.wrap_socket(server.socket, server_side=True)
                server.serve_forever()
                """]
        )
        defer { Task { await receiver.stop() } }
        let gateway = try await AnswerNinjaProcess.start(environment: [
            "ANSWER_NINJA_API_BCRYPT_COST": "4", "ANSWER_NINJA_API_WEBHOOK_ALLOW_PRIVATE": "on", "ANSWER_NINJA_API_WEBHOOK_CA": web.caCertificate,
        ])
        try await withPeer(gateway) { gateway in
            let (userId, token) = try await gateway.makeOwner(of: "+14155550100")
            let api = UserAPI(gateway: gateway, token: token)
            #expect(try await api("PUT", "/settings", ["webhook_url": "https://127.0.0.1:\(port)/hook"]).status == 200)
            #expect(try await api("POST", "/whitelist", ["pattern": "+1900*", "list": "block"]).status == 201)
            let hook = try await api("GET", "/me/webhook")
            let secret = try #require(hook.object?["secret"] as? String)
            #expect(hook.object?["url"] as? String == "https://127.0.0.1:\(port)/hook")
            let blocked = try await Caller(gateway: gateway, sipPort: try #require(gateway.sipPort)).call(from: "+19005550000")
            #expect(blocked["status_code"] as? Int == 603, "\(blocked)")
            let second = inbox.appendingPathComponent("hook-2.json")
            try await gateway.process.waitUntilReady(timeout: .seconds(15)) { FileManager.default.fileExists(atPath: second.path) }
            let body = try Data(contentsOf: second)
            let summary = try #require(try JSONSerialization.jsonObject(with: body) as? [String: Any])
            #expect(summary["event"] as? String == "call.ended" && summary["caller"] as? String == "+19005550000" && summary["outcome"] as? String == "blocked")
            #expect(summary["decision"] as? String == "block" && (summary["reasons"] as? [String])?.contains("blocklist:manual:+1900*") == true, "\(summary)")
            // The receiver's check: HMAC-SHA256 under the user's secret of "<t>.<body>".
            let header = try String(contentsOf: inbox.appendingPathComponent("hook-2.sig"), encoding: .utf8)
            let parts = Dictionary(uniqueKeysWithValues: header.split(separator: ",").compactMap { part -> (String, String)? in
                let pair = part.split(separator: "=", maxSplits: 1)
                return pair.count == 2 ? (String(pair[0]), String(pair[1])) : nil
            })
            let time = try #require(parts["t"])
            let expected = HMAC<SHA256>.authenticationCode(for: Array("\(time).".utf8) + Array(body), using: SymmetricKey(data: Array(secret.utf8)))
            #expect(parts["v1"] == expected.map { String(format: "%02x", $0) }.joined(), "\(header)")
            #expect(abs((Double(time) ?? 0) - Date().timeIntervalSince1970) < 60)
            #expect(secret != userId && secret.count == 64)
            // The receiver writes its files before its 200 reaches the notifier, which counts the delivery then.
            try? await gateway.process.waitUntilReady(timeout: .seconds(5)) {
                (try? await gateway.get("/metrics").body)?.contains(#"webhook_deliveries_total{outcome="delivered"} 1"#) == true
            }
            let metrics = try await gateway.get("/metrics").body
            #expect(metrics.contains(#"webhook_deliveries_total{outcome="delivered"} 1"#), "\(metrics.split(separator: "\n").filter { $0.contains("webhook") })")
        }
    }

    /// The live events (`GET /api/v1/events`) `token`'s user receives in `seconds`: each `data:` line's frame.
    static func stream(_ gateway: AnswerNinjaProcess, token: String, seconds: Int) async throws -> [String] {
        let result = try await PeerEnvironment.run(
            "/usr/bin/curl", ["-sN", "--max-time", String(seconds), "-H", "Authorization: Bearer \(token)", gateway.baseURL + "/api/v1/events"],
            timeout: .seconds(seconds + 10)
        )
        #expect(result.output.hasPrefix(": connected"), "\(result.output.prefix(300))")
        return result.output.split(separator: "\n").filter { $0.hasPrefix("data: ") }.map { String($0.dropFirst(6)) }
    }

    @Test(.enabled(if: PeerEnvironment.available("baresip") && PeerEnvironment.available("sipp")), .timeLimit(.minutes(4)))
    func wantedCallersReachTheUsersSoftphoneAndTheRestFollowTheirRules() async throws {
        let password = "alice-pw-\(UInt32.random(in: 1_000_000...9_999_999))"
        let data = try PeerEnvironment.artifactsDirectory(named: "screening")
        let gateway = try await AnswerNinjaProcess.start(
            environment: [
                "ANSWER_NINJA_SIP_DEVICE_ACCOUNTS": "alice:\(password)", "ANSWER_NINJA_SIP_DEVICE_DIGEST_ALGORITHMS": "md5",
                "ANSWER_NINJA_API_BCRYPT_COST": "4", "ANSWER_NINJA_SIP_LEARN_AFTER": "2s",
            ],
            dataDirectory: data
        )
        try await withPeer(gateway) { gateway in
            // The user, an admin (to set global flags), owning the number.
            let (_, token) = try await gateway.makeOwner(of: "+14155550100")
            let api = UserAPI(gateway: gateway, token: token)
            #expect(try await api("PATCH", "/me", ["forwarding_target": "sip:alice@127.0.0.1"]).status == 200)
            #expect(try await api("POST", "/whitelist", ["pattern": "+14155550123", "label": "Mum"]).status == 201)
            #expect(try await api("POST", "/whitelist", ["pattern": "+1900*", "list": "block"]).status == 201)
            let caller = Caller(gateway: gateway, sipPort: try #require(gateway.sipPort))

            // A number no one owns: 404, and no record.
            let unowned = try await caller.call(from: "+14155550123", to: "+14155559999")
            #expect(unowned["answered"] as? Bool == false && unowned["status_code"] as? Int == 404, "\(unowned)")
            // The block list: 603.
            let blocked = try await caller.call(from: "+19005550000")
            #expect(blocked["answered"] as? Bool == false && blocked["status_code"] as? Int == 603, "\(blocked)")

            // A contact reaches the softphone: the caller hears ringing, the device answers, and each side hears the
            // other (our chirp up at the device, its chirp down at the caller), with digits passed on.
            let directory = try PeerEnvironment.artifactsDirectory(named: "screening-bridge")
            let up = AudioCorrelation.chirp(from: 400, to: 2400, seconds: 1.5), down = AudioCorrelation.chirp(from: 2400, to: 400, seconds: 1.5)
            let ours = directory.appendingPathComponent("caller.wav"), theirs = directory.appendingPathComponent("device.wav")
            try AudioCorrelation.writeWAV(AudioCorrelation.repeated(up, times: 3), to: ours)
            try AudioCorrelation.writeWAV(AudioCorrelation.repeated(down, times: 4), to: theirs)
            let phone = try await BaresipPeer.start(
                user: "alice", audioFile: theirs.path, registrar: .init(hostPort: "127.0.0.1:\(caller.sipPort)", password: password)
            )
            try await withPeer(phone) { phone in
                try await gateway.process.waitUntilReady(timeout: .seconds(20)) { !SIPScenarioTests.lines(gateway, containing: "device registered").isEmpty }
                let heard = directory.appendingPathComponent("heard.wav")
                let wanted = try await caller.call(from: "+14155550123", seconds: 5, extra: ["--play", ours.path, "--record", heard.path, "--dtmf", "159"])
                #expect(wanted["answered"] as? Bool == true && wanted["hangup_side"] as? String == "local", "\(wanted)")
                let bridged = SIPScenarioTests.lines(gateway, containing: #""msg":"bridged""#)
                #expect(bridged.count == 1, "the device answered and the legs were joined")
                #expect(bridged.first?.contains(#""media":"relay""#) == true, "PCMU on both legs: packets relayed, not transcoded: \(bridged)")
                let callerHeard = await AudioCorrelation.best(try AudioCorrelation.samples(ofWAV: heard), down)
                try await phone.waitUntilCallsEnded()
                let deviceHeard = await AudioCorrelation.best(try AudioCorrelation.samples(ofWAV: try #require(try phone.receivedAudio())), up)
                print("bridge: the caller heard the device at \(callerHeard), the device heard the caller at \(deviceHeard)")
                #expect(callerHeard >= 0.8 && deviceHeard >= 0.8)
                for digit in ["1", "5", "9"] { #expect(phone.process.log().contains("received event: '\(digit)' (end=1)"), "the device got \(digit)") }

                // The same contact from a phone system that requires reliable provisional responses (RFC 3262): a
                // reliable 180, the PRACK answered, the 200 once the device answers (prack-bridge.xml checks them).
                _ = try await SIPScenarioTests.run("prack-bridge.xml", against: gateway, service: "+14155550100")
                #expect(SIPScenarioTests.lines(gateway, containing: #""msg":"bridged""#).count == 2, "the device answered the 100rel caller")
                try await phone.waitUntilCallsEnded(2)

                // Settings changed in the API apply to the next call: with the AI off, an unknown caller is put
                // through too, and talking past `learn_after` (2 s here) puts them on the whitelist.
                #expect(try await api("PUT", "/settings", ["ai_enabled": false]).status == 200)
                let unknown = try await caller.call(from: "+14155550177", seconds: 4)
                #expect(unknown["answered"] as? Bool == true, "\(unknown)")
                try await gateway.process.waitUntilReady(timeout: .seconds(10)) {
                    (try? await api("GET", "/whitelist/check?number=%2B14155550177"))?.object?["decision"] as? String == "allow"
                }
                let learned = try await api("GET", "/whitelist")
                let entry = (learned.object?["entries"] as? [[String: Any]])?.first { $0["pattern"] as? String == "+14155550177" }
                #expect(entry?["source"] as? String == "learned" && (entry?["reason"] as? String)?.contains("call accepted") == true, "\(learned.text)")

                // The user's controls on a call the assistant holds (the AI is on again): a take-over rings the
                // device, which is bridged to the caller (the caller hears the device's chirp), then a hang-up. This
                // caller speaks Opus and the device PCMU: the bridge transcodes.
                // Meanwhile the user's live events stream (server-sent events), and another user's shows nothing.
                #expect(try await api("PUT", "/settings", [:]).status == 200)
                let (_, stranger) = try await gateway.makeOwner(of: "+14155550111", email: "stranger@example.com")
                let mine = Task { try await Self.stream(gateway, token: token, seconds: 14) }
                let theirs = Task { try await Self.stream(gateway, token: stranger, seconds: 14) }
                try await Task.sleep(for: .milliseconds(500))
                let taken = directory.appendingPathComponent("taken.wav")
                let held = Task { try await caller.callText(from: "+14155550199", seconds: 12, extra: ["--record", taken.path, "--codec", "opus"]) }
                var callId: String?
                try await gateway.process.waitUntilReady(timeout: .seconds(10)) {
                    let calls = (try? await api("GET", "/calls"))?.object?["calls"] as? [[String: Any]] ?? []
                    callId = calls.first { $0["caller"] as? String == "+14155550199" && $0["state"] as? String == "answered" }?["id"] as? String
                    return callId != nil
                }
                let id = try #require(callId).addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
                let takeover = try await api("POST", "/calls/\(id)/takeover")
                #expect(takeover.status == 202 && takeover.object?["status"] as? String == "ringing" && takeover.object?["devices"] as? Int == 1, "\(takeover.text)")
                try await gateway.process.waitUntilReady(timeout: .seconds(10)) { !SIPScenarioTests.lines(gateway, containing: #""msg":"taken over""#).isEmpty }
                let takenOver = SIPScenarioTests.lines(gateway, containing: #""msg":"taken over""#).first ?? ""
                #expect(takenOver.contains(#""media":"transcode""#), "Opus to PCMU: transcoded: \(takenOver)")
                #expect(try await api("POST", "/calls/\(id)/takeover").object.map { ($0["error"] as? [String: Any])?["code"] as? String } == "already_bridged")
                try await Task.sleep(for: .seconds(4))
                let hangup = try await api("POST", "/calls/\(id)/hangup")
                #expect(hangup.status == 202 && hangup.object?["status"] as? String == "done", "\(hangup.text)")
                let heldReport = try Caller.report(try await held.value)
                #expect(heldReport["answered"] as? Bool == true && heldReport["hangup_side"] as? String == "remote", "\(heldReport)")
                let afterTakeover = await AudioCorrelation.best(try AudioCorrelation.samples(ofWAV: taken), down)
                print("take-over: the caller heard the device at \(afterTakeover)")
                #expect(afterTakeover >= 0.8)
                #expect(try await api("POST", "/calls/\(id)/hangup").object.map { ($0["error"] as? [String: Any])?["code"] as? String } == "call_ended")
                let events = try await mine.value
                let frames = events.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
                let types = frames.compactMap { $0["type"] as? String }
                #expect(frames.compactMap { $0["seq"] as? Int } == Array(1...max(1, frames.count)), "numbered on this connection")
                #expect(types == ["call_started", "decision", "decision", "call_ended"], "\(events)")
                #expect(events.allSatisfy { $0.contains(id.removingPercentEncoding ?? id) }, "\(events)")
                #expect(events.last?.contains(#""outcome":"hung_up_by_user""#) == true && events.last?.contains(#""reason":"user_hangup""#) == true, "\(events)")
                #expect(events.dropFirst(2).first?.contains("takeover:by_user") == true, "\(events)")
                #expect(try await theirs.value.isEmpty, "another user's stream shows none of this")
                // The caller of a call goes on the whitelist from its record.
                let listed = try await api("POST", "/calls/\(id)/whitelist-caller")
                #expect(listed.status == 201 && listed.object?["pattern"] as? String == "+14155550199", "\(listed.text)")

                // The user's block action: answered with a goodbye, then hung up by the gateway.
                #expect(try await api("PUT", "/settings", ["block_action": "goodbye"]).status == 200)
                let goodbye = try await caller.call(from: "+19005550001", seconds: 15)
                #expect(goodbye["answered"] as? Bool == true && goodbye["hangup_side"] as? String == "remote", "\(goodbye)")

                // A global flag: the AI off for everyone puts an unknown caller through (the user's AI is on again).
                #expect(try await api("PUT", "/admin/settings/feature.ai_screening", ["value": false]).status == 200)
                let flagged = try await caller.call(from: "+14155550188", seconds: 2)
                #expect(flagged["answered"] as? Bool == true, "\(flagged)")
            }

            // Every call the user's number took has a record with its decision and reasons; the 404 has none.
            try await gateway.process.waitUntilReady(timeout: .seconds(10)) {
                ((try? await api("GET", "/calls"))?.object?["calls"] as? [[String: Any]])?.count == 7
            }
            let calls = try #require((try await api("GET", "/calls")).object?["calls"] as? [[String: Any]])
            func record(_ caller: String) -> [String: Any]? { calls.first { $0["caller"] as? String == caller } }
            #expect(record("+19005550000")?["decision"] as? String == "block" && record("+19005550000")?["outcome"] as? String == "blocked")
            #expect((record("+19005550000")?["reasons"] as? [String])?.contains("blocklist:manual:+1900*") == true)
            #expect(record("+14155550123")?["decision"] as? String == "connect", "\(calls)")
            #expect((record("+14155550123")?["reasons"] as? [String])?.contains("whitelist:manual:+14155550123") == true, "\(calls)")
            #expect((record("+14155550177")?["reasons"] as? [String])?.contains("settings:ai_off") == true, "\(calls)")
            #expect(record("+19005550001")?["outcome"] as? String == "blocked", "\(calls)")
            #expect((record("+14155550188")?["reasons"] as? [String])?.contains("flag:ai_screening_off") == true, "\(calls)")
            #expect(!calls.contains { $0["callee"] as? String == "+14155559999" })
            #expect(record("+14155550199")?["outcome"] as? String == "hung_up_by_user", "\(calls)")
            #expect((record("+14155550199")?["reasons"] as? [String])?.last == "takeover:by_user", "\(calls)")
        }
    }
}

/// A signed-in user's requests to the process's `/api/v1`.
struct UserAPI: Sendable {
    let gateway: AnswerNinjaProcess
    let token: String

    func callAsFunction(_ method: String, _ path: String, _ json: Any? = nil) async throws -> (status: Int, object: [String: Any]?, text: String) {
        try await gateway.api(method, "/api/v1" + path, json: json, token: token)
    }
}

extension AnswerNinjaProcess {
    /// Signs up a user through the API, makes them an admin in the database (the first admin has no one to promote
    /// them), and gives them `number` through the admin API; returns their id and access token.
    func makeOwner(of number: String, email: String = "owner@example.com") async throws -> (userId: String, token: String) {
        let signUp = try await api("POST", "/api/v1/auth/signup", json: ["email": email, "password": "correct horse battery"])
        let token = try #require(signUp.object?["access_token"] as? String, "\(signUp.text)")
        let userId = try #require((signUp.object?["user"] as? [String: Any])?["id"] as? String)
        let database = try await SQLiteDatabase.open(path: dataDirectory.appendingPathComponent("answer-ninja.sqlite").path)
        try await database.query("UPDATE users SET role = 'admin' WHERE id = $1", [.text(userId)])
        try await database.close()
        let assigned = try await api("POST", "/api/v1/admin/users/\(userId)/numbers", json: ["number": number], token: token)
        #expect(assigned.status == 201, "\(assigned.text)")
        return (userId, token)
    }
}
