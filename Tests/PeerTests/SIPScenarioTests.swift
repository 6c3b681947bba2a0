import AnswerNinjaTestSupport
import Foundation
import Testing

/// SIPp (Debian's sip-tester) as a trunk running the call flows of RFC 3262, 4028, 3326 and 3261 §9 against
/// `serve`, one scenario file each in Tests/PeerTests/SIPp/. A scenario fails (non-zero exit) when a message is
/// missing, unexpected, or lacks a header it checks.
@Suite(.serialized) struct SIPScenarioTests {
    /// Runs `scenario` once against `gateway`; returns SIPp's output after checking it passed.
    static func run(_ scenario: String, against gateway: AnswerNinjaProcess, calls: Int = 1, service: String = "demo", extra: [String] = []) async throws -> String {
        let sipPort = try #require(gateway.sipPort)
        let file = AnswerNinjaProcess.packageRootFromSource() + "/Tests/PeerTests/SIPp/\(scenario)"
        let result = try await PeerEnvironment.run(
            try PeerEnvironment.require("sipp", package: "sip-tester"),
            ["-sf", file, "-s", service, "127.0.0.1:\(sipPort)", "-i", "127.0.0.1", "-p", String(try PeerEnvironment.freePort()),
             "-m", String(calls), "-r", "1", "-nostdin", "-timeout", "30s", "-timeout_error"] + extra,
            timeout: .seconds(45)
        )
        #expect(result.status == 0, "SIPp \(scenario): \(result.output.suffix(2000))")
        return result.output
    }

    /// A user owning +1 415 555 0100 who forwards to alice's device, with +1 415 555 0123 (Mum) on the whitelist: the
    /// wanted caller of the bridge tests; the user's API.
    static func wantedCaller(of gateway: AnswerNinjaProcess) async throws -> UserAPI {
        let (_, token) = try await gateway.makeOwner(of: "+14155550100")
        let api = UserAPI(gateway: gateway, token: token)
        #expect(try await api("PATCH", "/me", ["forwarding_target": "sip:alice@127.0.0.1"]).status == 200)
        #expect(try await api("POST", "/whitelist", ["pattern": "+14155550123", "label": "Mum"]).status == 201)
        return api
    }

    /// `serve` with alice as a device account (MD5 first: SIPp answers nothing else), plus `environment`.
    static func registrar(_ environment: [String: String] = [:]) async throws -> AnswerNinjaProcess {
        try await AnswerNinjaProcess.start(environment: [
            "ANSWER_NINJA_SIP_DEVICE_ACCOUNTS": "alice:alice-pw-8731", "ANSWER_NINJA_SIP_DEVICE_DIGEST_ALGORITHMS": "md5",
        ].merging(environment) { $1 })
    }

    /// SIPp as alice's softphone: registers over one TCP connection (`-t t1`, nothing listening) and stays `seconds`,
    /// answering what the gateway sends it with `answering` (an out-of-call scenario of Tests/PeerTests/SIPp, or an
    /// absolute path); the run, as a task. SIPp's exit status does not count the out-of-call scenario, so its error
    /// log does: any error there (an unexpected message, a failed check) makes the status 99, with the errors in the
    /// output.
    static func deviceOverTCP(_ gateway: AnswerNinjaProcess, answering: String, seconds: Int) throws -> Task<(status: Int32, output: String), any Error> {
        let sipPort = try #require(gateway.sipPort)
        let directory = try PeerEnvironment.artifactsDirectory(named: "device")
        let users = directory.appendingPathComponent("users.csv")
        let errors = directory.appendingPathComponent("errors.log")
        try "SEQUENTIAL\nalice;\n".write(to: users, atomically: true, encoding: .utf8)
        let scenarios = AnswerNinjaProcess.packageRootFromSource() + "/Tests/PeerTests/SIPp/"
        let arguments = [
            "-sf", scenarios + "register-and-wait.xml", "-oocsf", answering.hasPrefix("/") ? answering : scenarios + answering, "-inf", users.path, "-au", "alice", "-ap", "alice-pw-8731",
            "127.0.0.1:\(sipPort)", "-i", "127.0.0.1", "-p", String(try PeerEnvironment.freePort()), "-mp", String(try PeerEnvironment.freePort()),
            "-t", "t1", "-m", "1", "-d", String(seconds * 1000), "-nostdin", "-timeout", "\(seconds + 30)s", "-timeout_error",
            "-trace_err", "-error_file", errors.path,
        ]
        let sipp = try PeerEnvironment.require("sipp", package: "sip-tester")
        return Task {
            let result = try await PeerEnvironment.run(sipp, arguments, timeout: .seconds(seconds + 40))
            // The log also notes each out-of-call INVITE taken by the scenario: only failures count.
            let logged = (try? String(contentsOf: errors, encoding: .utf8)) ?? ""
            let failed = ["abort", "unexpected", "did not match", "failed", "timeout"].contains { logged.lowercased().contains($0) }
            return failed ? (99, result.output + "\nSIPp errors:\n" + logged) : result
        }
    }

    /// The calls of a `/internal/devices/{user}/call` reply.
    static func deviceCalls(_ body: String) -> [[String: Any]] {
        (try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any])?["calls"] as? [[String: Any]] ?? []
    }

    /// The log lines of `gateway` that contain `text`.
    static func lines(_ gateway: AnswerNinjaProcess, containing text: String) -> [Substring] {
        gateway.process.log().split(separator: "\n").filter { $0.contains(text) }
    }

    /// A trunk that requires 100rel and session timers: reliable 180, PRACK, then the 200 with Session-Expires and
    /// Require: timer (its P-Asserted-Identity ignored: SIPp is no trusted trunk); DTMF 4 and # in INFO; REFER declined 603; an UPDATE refresh answered with the timer; the
    /// caller's BYE with its Reason logged.
    @Test(.enabled(if: PeerEnvironment.available("sipp")), .timeLimit(.minutes(1)))
    func prackInfoReferAndUpdate() async throws {
        let gateway = try await AnswerNinjaProcess.start()
        try await withPeer(gateway) { gateway in
            _ = try await Self.run("prack-info-update.xml", against: gateway)
            try await gateway.process.waitUntilReady(timeout: .seconds(10)) { !Self.lines(gateway, containing: "call ended").isEmpty }
            let ended = try #require(Self.lines(gateway, containing: "call ended").first)
            #expect(ended.contains(#""dtmf":"4#""#), "both digits, * and # mapped from events 10/11: \(ended)")
            #expect(ended.contains(#""hangup_side":"remote""#) && ended.contains("Normal call clearing"), "the caller's Reason: \(ended)")
            let answered = try #require(Self.lines(gateway, containing: "call answered").first)
            #expect(answered.contains(#""session_expires":"1800s""#) && answered.contains(#""caller":"+15550199""#), "\(answered)")
            #expect(answered.contains(#""asserted":"""#) && answered.contains(#""verstat":"""#), "an untrusted sender's P-Asserted-Identity is ignored: \(answered)")
        }
    }

    /// The gateway as refresher: with Min-SE lowered to 2 s, a 4 s session is refreshed every 2 s, by UPDATE when
    /// the caller allows it, else by re-INVITE (ACKed).
    @Test(.enabled(if: PeerEnvironment.available("sipp")), .timeLimit(.minutes(1)), arguments: [("session-refresh.xml", "UPDATE"), ("session-refresh-reinvite.xml", "INVITE")])
    func theGatewayRefreshesTheSession(scenario: String, method: String) async throws {
        let gateway = try await AnswerNinjaProcess.start(environment: ["ANSWER_NINJA_SIP_MIN_SESSION_EXPIRES": "2s"])
        try await withPeer(gateway) { gateway in
            _ = try await Self.run(scenario, against: gateway)
            try await gateway.process.waitUntilReady(timeout: .seconds(10)) { !Self.lines(gateway, containing: "call ended").isEmpty }
            #expect(Self.lines(gateway, containing: "session refreshed").count == 2, "two refreshes answered 200")
            #expect(Self.lines(gateway, containing: "session refresh sent").allSatisfy { $0.contains(#""method":"\#(method)""#) })
        }
    }

    /// A 422 with Min-SE for a too-short interval, then a caller that never refreshes: the gateway ends the call
    /// itself, with a BYE whose Reason says the session timer expired.
    @Test(.enabled(if: PeerEnvironment.available("sipp")), .timeLimit(.minutes(1)))
    func a422ThenTheSessionExpires() async throws {
        let gateway = try await AnswerNinjaProcess.start(environment: ["ANSWER_NINJA_SIP_MIN_SESSION_EXPIRES": "2s"])
        try await withPeer(gateway) { gateway in
            _ = try await Self.run("session-expiry.xml", against: gateway)
            try await gateway.process.waitUntilReady(timeout: .seconds(10)) { !Self.lines(gateway, containing: "call ended").isEmpty }
            let ended = try #require(Self.lines(gateway, containing: "call ended").first)
            #expect(ended.contains(#""hangup_side":"local""#) && ended.contains("Session timer expired"), "\(ended)")
        }
    }

    /// CANCEL on both sides of the answer: before it (the 200 held for a PRACK), 200 + 487 and the call released;
    /// after it, 200 and no effect, the call ends by BYE; a CANCEL for no INVITE, 481.
    @Test(.enabled(if: PeerEnvironment.available("sipp")), .timeLimit(.minutes(1)))
    func cancelRacesOnBothSidesOfTheAnswer() async throws {
        let gateway = try await AnswerNinjaProcess.start()
        try await withPeer(gateway) { gateway in
            _ = try await Self.run("cancel-before-answer.xml", against: gateway, calls: 2)
            #expect(Self.lines(gateway, containing: "call cancelled").count == 2)
            #expect(Self.lines(gateway, containing: "call answered").isEmpty, "a cancelled call is never answered")
            _ = try await Self.run("cancel-after-answer.xml", against: gateway, calls: 2)
            try await gateway.process.waitUntilReady(timeout: .seconds(10)) { Self.lines(gateway, containing: "call ended").count == 2 }
            #expect(Self.lines(gateway, containing: "call ended").allSatisfy { $0.contains(#""hangup_side":"remote""#) })
        }
    }

    /// A lost first ACK through a lossy UDP relay the test owns (SIPp's standard caller behind it): the relay drops
    /// the first ACK, the gateway resends its 200 (RFC 3261 §13.3.1.4), SIPp ACKs the resent 200, and the call
    /// lives on to its BYE.
    @Test(.enabled(if: PeerEnvironment.available("sipp")), .timeLimit(.minutes(1)))
    func aFirstAckLostOnTheWireIsMadeUpFor() async throws {
        let gateway = try await AnswerNinjaProcess.start()
        try await withPeer(gateway) { gateway in
            let sipPort = try #require(gateway.sipPort)
            let acks = Counter()
            let relay = try await LossyUDPRelay.start(target: sipPort) { direction, text in
                direction == .toTarget && text.hasPrefix("ACK ") && acks.next() == 1
            }
            defer { Task { await relay.stop() } }
            let result = try await PeerEnvironment.run(
                try PeerEnvironment.require("sipp", package: "sip-tester"),
                ["-sn", "uac", "-s", "demo", "127.0.0.1:\(relay.port)", "-i", "127.0.0.1", "-p", String(try PeerEnvironment.freePort()),
                 "-mp", String(try PeerEnvironment.freePort()), "-m", "1", "-d", "3000", "-nostdin", "-timeout", "30s", "-timeout_error"],
                timeout: .seconds(45)
            )
            #expect(result.status == 0, "SIPp: \(result.output.suffix(1500))")
            let datagrams = relay.datagrams
            let oks = datagrams.filter { $0.direction == .toClient && $0.text.hasPrefix("SIP/2.0 200") && $0.text.contains(" INVITE\r\n") }
            let sentAcks = datagrams.filter { $0.direction == .toTarget && $0.text.hasPrefix("ACK ") }
            #expect(sentAcks.first?.dropped == true && sentAcks.dropFirst().contains { !$0.dropped }, "the first ACK lost, a later one through")
            #expect(oks.count >= 2, "the 200 was resent: \(oks.count)")
            try await gateway.process.waitUntilReady(timeout: .seconds(10)) { !Self.lines(gateway, containing: "call ended").isEmpty }
            #expect(Self.lines(gateway, containing: "call ended").first?.contains(#""hangup_side":"remote""#) == true, "the caller's BYE ended it")
        }
    }

    /// Keys and digests never reach our logs or JSON: `serve` at trace level registers with a digest password and
    /// takes an SRTP call from our softphone through a relay that reads both SDPs; neither the password, nor an
    /// Authorization, nor any SDES key of the call appears in the gateway's log or the softphone's output.
    @Test(.enabled(if: PeerEnvironment.available("kamailio")), .timeLimit(.minutes(1)))
    func keysAndDigestsNeverReachTheLogs() async throws {
        let password = "trunk-secret-\(UInt32.random(in: 1_000_000...9_999_999))"
        let trunk = try await KamailioPeer.start(configuration: KamailioPeer.trunkConfiguration(password: password))
        try await withPeer(trunk) { trunk in
            let gateway = try await AnswerNinjaProcess.start(environment: [
                "ANSWER_NINJA_SIP_TRUNK_REGISTRAR": "sip:127.0.0.1:\(trunk.port)", "ANSWER_NINJA_SIP_TRUNK_USERNAME": "demo",
                "ANSWER_NINJA_SIP_TRUNK_PASSWORD": password, "ANSWER_NINJA_LOG_LEVEL": "trace",
            ])
            try await withPeer(gateway) { gateway in
                try await gateway.process.waitUntilReady(timeout: .seconds(15)) { gateway.process.log().contains("registered") }
                let relay = try await LossyUDPRelay.start(target: try #require(gateway.sipPort)) { _, _ in false }
                let call = try await PeerEnvironment.run(
                    try AnswerNinjaProcess.binary(), ["call", "sip:demo@127.0.0.1:\(relay.port)", "--srtp", "--duration", "1", "--json"], timeout: .seconds(30)
                )
                await relay.stop()
                #expect(call.status == 0, "\(call.output)")
                let keys = relay.datagrams.flatMap { datagram in
                    datagram.text.split(whereSeparator: \.isNewline).filter { $0.hasPrefix("a=crypto:") }.compactMap { line in
                        line.split(separator: "inline:").last.map { String($0.prefix { $0 != "|" && $0 != "\r" && $0 != " " }) }
                    }
                }
                #expect(Set(keys).count >= 2, "the offer's key and the answer's: \(keys)")
                for (name, text) in [("gateway log", gateway.process.log()), ("softphone output", call.output)] {
                    for secret in [password, "Authorization:", "response=\""] + keys + keys.map { String($0.prefix(16)) } {
                        #expect(!text.contains(secret), "\(name) shows \(secret.prefix(6))…")
                    }
                }
            }
        }
    }

    /// `answer-ninja load` places held calls with a G.711 stream each; while they are up, /metrics counts them in
    /// `concurrent_calls`; when all are over, every call completed, the gauge is back at 0, and the RTP both ways
    /// is counted.
    @Test(.timeLimit(.minutes(1)))
    func theLoadToolCompletesEveryCallAndTheMetricsFollow() async throws {
        let gateway = try await AnswerNinjaProcess.start(environment: ["ANSWER_NINJA_SIP_TRUSTED_SOURCES": "127.0.0.1"])
        try await withPeer(gateway) { gateway in
            let sipPort = try #require(gateway.sipPort)
            async let run = PeerEnvironment.run(
                try AnswerNinjaProcess.binary(),
                ["load", "--target", "127.0.0.1:\(sipPort)", "--rate", "20", "--calls", "30", "--hold", "1.5", "--media", "g711", "--json"], timeout: .seconds(40)
            )
            // The gauge, sampled while the calls are up (30 calls over 1.5 s, each held 1.5 s: about 20 at once at the peak).
            var peak = 0.0
            for _ in 0..<50 where peak < 10 {
                let metrics = try await gateway.get("/metrics").body
                let value = metrics.split(separator: "\n").first { $0.hasPrefix(#"concurrent_calls{role="gateway"}"#) }.flatMap { Double($0.split(separator: " ").last ?? "") } ?? 0
                peak = max(peak, value)
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(peak >= 10, "many calls up at once: \(peak)")
            let result = try await run
            #expect(result.status == 0, "\(result.output)")
            // The progress lines (standard error) come first; the report is the last line.
            let json = result.output.split(separator: "\n").last { $0.hasPrefix("{") } ?? ""
            #expect(result.output.contains("load: "), "a progress line")
            let report = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
            #expect(report["completed"] as? Int == 30 && report["failed"] as? Int == 0, "\(report)")
            try await gateway.process.waitUntilReady(timeout: .seconds(10)) { Self.lines(gateway, containing: "call ended").count == 30 }
            let after = try await gateway.get("/metrics").body
            #expect(after.contains(#"concurrent_calls{role="gateway"} 0"#))
            let received = after.split(separator: "\n").first { $0.hasPrefix(#"rtp_packets_total{direction="received"}"#) }.flatMap { Double($0.split(separator: " ").last ?? "") } ?? 0
            #expect(received >= 30 * 50, "the generator's 20 ms streams reached the gateway: \(received)")
        }
    }

    /// Admission control: with `sip.max_calls` at 2, five held calls placed at once get two answered and three
    /// refused at once with 503 and Retry-After, counted in `sip_calls_rejected_total`.
    @Test(.timeLimit(.minutes(1)))
    func callsBeyondTheLimitGet503() async throws {
        let gateway = try await AnswerNinjaProcess.start(environment: ["ANSWER_NINJA_SIP_TRUSTED_SOURCES": "127.0.0.1", "ANSWER_NINJA_SIP_MAX_CALLS": "2"])
        try await withPeer(gateway) { gateway in
            let sipPort = try #require(gateway.sipPort)
            let result = try await PeerEnvironment.run(
                try AnswerNinjaProcess.binary(), ["load", "--target", "127.0.0.1:\(sipPort)", "--rate", "50", "--calls", "5", "--hold", "1", "--json"], timeout: .seconds(40)
            )
            #expect(result.status == 1, "some calls failed: \(result.output)")
            let json = result.output.split(separator: "\n").last { $0.hasPrefix("{") } ?? ""
            let report = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
            #expect(report["completed"] as? Int == 2, "\(report)")
            #expect((report["failures"] as? [String: Int])?["503 Service Unavailable (at capacity)"] == 3, "\(report)")
            let metrics = try await gateway.get("/metrics").body
            #expect(metrics.contains(#"sip_calls_rejected_total{reason="at_capacity"} 3"#))
        }
    }

    /// The registrar, with SIPp as users' softphones (`Tests/PeerTests/SIPp/register*.xml`): over UDP a device is
    /// challenged, registers with digest and unregisters (Expires: 0); over TCP another registers and quits, and its
    /// binding goes with its connection; a wrong password is refused 403. The password is in no log.
    @Test(.enabled(if: PeerEnvironment.available("sipp")), .timeLimit(.minutes(1)))
    func devicesRegisterWithDigestAndLeave() async throws {
        let password = "alice-secret-\(UInt32.random(in: 1_000_000...9_999_999))"
        // SIPp answers only MD5, and only the first challenge: MD5 goes first here.
        let gateway = try await AnswerNinjaProcess.start(environment: [
            "ANSWER_NINJA_SIP_DEVICE_ACCOUNTS": "alice:\(password),bob:other", "ANSWER_NINJA_SIP_DEVICE_DIGEST_ALGORITHMS": "md5,sha256",
        ])
        try await withPeer(gateway) { gateway in
            let sipPort = try #require(gateway.sipPort)
            let users = try PeerEnvironment.artifactsDirectory(named: "registrar").appendingPathComponent("users.csv")
            try "SEQUENTIAL\nalice;\n".write(to: users, atomically: true, encoding: .utf8)
            let sipp = try PeerEnvironment.require("sipp", package: "sip-tester")
            func register(_ scenario: String, transport: String, password: String) async throws -> (status: Int32, output: String) {
                try await PeerEnvironment.run(sipp, [
                    "-sf", AnswerNinjaProcess.packageRootFromSource() + "/Tests/PeerTests/SIPp/\(scenario)", "-inf", users.path, "-au", "alice", "-ap", password,
                    "127.0.0.1:\(sipPort)", "-i", "127.0.0.1", "-p", String(try PeerEnvironment.freePort()), "-t", transport,
                    "-m", "1", "-nostdin", "-timeout", "20s", "-timeout_error",
                ], timeout: .seconds(30))
            }
            let overUDP = try await register("register.xml", transport: "u1", password: password)
            #expect(overUDP.status == 0, "\(overUDP.output.suffix(1500))")
            try? await gateway.process.waitUntilReady(timeout: .seconds(5)) { Self.lines(gateway, containing: "device registered").count >= 2 }
            let udp = Self.lines(gateway, containing: "device registered")
            #expect(udp.count == 2 && udp[0].contains(#""transport":"udp""#) && udp[1].contains(#""bindings":"0""#), "bound, then unbound: \(udp)")

            let overTCP = try await register("register-and-leave.xml", transport: "t1", password: password)
            #expect(overTCP.status == 0, "\(overTCP.output.suffix(1500))")
            #expect(Self.lines(gateway, containing: "device registered").last?.contains(#""transport":"tcp""#) == true)
            try await gateway.process.waitUntilReady(timeout: .seconds(10)) { !Self.lines(gateway, containing: "device flow closed").isEmpty }
            #expect(Self.lines(gateway, containing: "device flow closed").first?.contains(#""bindings_removed":"1""#) == true)

            let intruder = try await register("register.xml", transport: "u1", password: "guess")
            #expect(intruder.status != 0, "a wrong password gets 403, which the scenario does not expect")
            #expect(!Self.lines(gateway, containing: "device registration refused").isEmpty)
            #expect(!gateway.process.log().contains(password), "the password never reaches the log")
        }
    }

    /// A device registered over TCP is called back over that connection a minute later (RFC 5626/5923: behind NAT
    /// nothing else reaches it). SIPp registers with `-t t1` (one connection, nothing listening) and answers the
    /// out-of-call INVITE (answer-device.xml); the gateway plays the greeting to it and hangs up after 2 s. SIPp
    /// stays 90 s (its -d pause), long enough for a slow start on a loaded machine.
    @Test(.enabled(if: PeerEnvironment.available("sipp")), .timeLimit(.minutes(3)))
    func aDeviceRegisteredOverTCPIsCalledBackOverItsConnection() async throws {
        let gateway = try await Self.registrar()
        try await withPeer(gateway) { gateway in
            let device = try Self.deviceOverTCP(gateway, answering: "answer-device.xml", seconds: 90)
            try await gateway.process.waitUntilReady(timeout: .seconds(15)) { !Self.lines(gateway, containing: "device registered").isEmpty }
            try await Task.sleep(for: .seconds(60))
            let (status, body, _) = try await HTTPProbe.post(url: gateway.baseURL + "/internal/devices/alice/call?seconds=2")
            #expect(status == 200, "\(body)")
            let calls = Self.deviceCalls(body)
            #expect(calls.count == 1 && calls.first?["answered"] as? Bool == true, "\(body)")
            #expect((calls.first?["flow"] as? String)?.hasPrefix("tcp ") == true, "over the registration's connection: \(body)")
            try await gateway.process.waitUntilReady(timeout: .seconds(15)) { !Self.lines(gateway, containing: "call ended").isEmpty }
            let ended = try #require(Self.lines(gateway, containing: "call ended").first)
            #expect(ended.contains(#""hangup_side":"local""#), "\(ended)")
            let sent = ended.split(separator: ",").first { $0.contains("packets_sent") }.flatMap { Int($0.filter(\.isNumber)) } ?? 0
            #expect(sent >= 80, "2 s of greeting went to the device: \(ended)")
            let result = try await device.value
            #expect(result.status == 0, "the device saw INVITE, ACK and BYE as expected: \(result.output.suffix(1500))")
            let missing = try await HTTPProbe.post(url: gateway.baseURL + "/internal/devices/bob/call")
            #expect(missing.status == 404 && missing.body.contains("not_registered"))
        }
    }

    /// Hold mapped across the bridge (B2BUA): the wanted caller holds and resumes the call; the gateway answers each
    /// re-INVITE (recvonly, then sendrecv: hold-caller.xml checks) and offers the device's leg the same directions in
    /// re-INVITEs of its own (a=sendonly, then a=sendrecv), so the user's phone shows the hold. A digit the caller
    /// sends in INFO is passed on to the device in an INFO of ours. Then the user holds the caller from the phone, and
    /// the caller's leg gets our re-INVITE (a=sendonly).
    @Test(.enabled(if: PeerEnvironment.available("sipp")), .timeLimit(.minutes(2)))
    func holdAndINFODigitsAreMappedAcrossTheBridge() async throws {
        try await Self.bridgedSIPpCall(caller: "hold-caller.xml", device: "hold-device.xml", deviceSeconds: 12) { gateway in
            #expect(Self.lines(gateway, containing: #""msg":"bridged""#).count == 1)
            // What the device and the caller answered: held and resumed by the caller (mapped onto the device's leg),
            // then held by the phone (mapped onto the caller's leg); the digit's INFO taken by the device.
            let taken = Self.lines(gateway, containing: #""msg":"hold taken""#)
            #expect(taken.count == 3, "\(taken)")
            #expect(taken.map { $0.contains(#""direction":"sendonly""#) } == [true, false, true], "\(taken)")
            #expect(taken.count == 3 && taken[1].contains(#""direction":"sendrecv""#) && taken[0].contains("call_id") && taken[2].contains("call_id"), "\(taken)")
            let relayed = Self.lines(gateway, containing: #""msg":"dtmf relayed""#)
            #expect(relayed.count == 1 && relayed.first?.contains(#""status":"200""#) == true, "\(relayed)")
        }
    }

    /// A hold that crosses the hang-up: the caller holds and hangs up at once; the device answers our hold re-INVITE
    /// only after the call's BYE. Its 2xx is still ACKed (RFC 3261 §13.2.2.4), which hold-late-device.xml waits for.
    @Test(.enabled(if: PeerEnvironment.available("sipp")), .timeLimit(.minutes(2)))
    func aHoldAnsweredAfterTheHangUpIsStillAcknowledged() async throws {
        try await Self.bridgedSIPpCall(caller: "hold-late-caller.xml", device: "hold-late-device.xml", deviceSeconds: 10) { gateway in
            #expect(Self.lines(gateway, containing: #""msg":"hold mapped""#).count == 1)
        }
    }

    /// Glare and a refused hold on the device's leg (RFC 3261 §14.1, §14.2): the caller holds; the gateway's hold
    /// re-INVITE to the device crosses the phone's own re-INVITE, so the gateway answers the phone's with 491, and the
    /// phone answers the gateway's with 491; the gateway (which placed that leg) tries again 2.1 to 4 s later, and
    /// the phone refuses that with 488. The leg stays as it was, nothing is retried after a refusal, and the call goes
    /// on to the caller's BYE (glare-caller.xml, glare-device.xml check each message).
    @Test(.enabled(if: PeerEnvironment.available("sipp")), .timeLimit(.minutes(2)))
    func holdGlareIsTriedAgainAndARefusedHoldLeavesTheLegAsItWas() async throws {
        try await Self.bridgedSIPpCall(caller: "glare-caller.xml", device: "glare-device.xml", deviceSeconds: 16) { gateway in
            let mapped = Self.lines(gateway, containing: #""msg":"hold mapped""#)
            #expect(mapped.count == 2, "the hold and its one retry after the 491: \(mapped)")
            #expect(mapped.allSatisfy { $0.contains(#""direction":"sendonly""#) }, "\(mapped)")
            // The retry waited 2.1 to 4 s (this leg is one the gateway placed): by the log lines' own times.
            let format = ISO8601DateFormatter()
            format.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            let times = mapped.compactMap { line in
                (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["ts"] as? String
            }.compactMap { format.date(from: $0) }
            if times.count == 2 {
                let waited = times[1].timeIntervalSince(times[0])
                #expect(waited >= 2.0 && waited <= 4.5, "the retry came \(waited) s after the first hold")
            } else {
                Issue.record("the hold lines carry no readable times: \(mapped)")
            }
            let refused = Self.lines(gateway, containing: #""msg":"hold not taken""#)
            #expect(refused.count == 1 && refused.first?.contains(#""status":"488""#) == true, "\(refused)")
            #expect(Self.lines(gateway, containing: #""msg":"hold taken""#).isEmpty)
            let metrics = try await HTTPProbe.get(url: gateway.baseURL + "/metrics")
            func count(_ direction: String) -> Substring? {
                metrics.body.split(separator: "\n").first { $0.hasPrefix("sip_responses_total{") && $0.contains(#"code="491""#) && $0.contains(#"direction="\#(direction)""#) }
            }
            #expect(count("out").map { $0.hasSuffix(" 1") } == true, "one 491 sent, to the phone's crossing re-INVITE: \(count("out") ?? "none")")
            #expect(count("in").map { $0.hasSuffix(" 1") } == true, "one 491 received, for our re-INVITE: \(count("in") ?? "none")")
            let ended = Self.lines(gateway, containing: #""msg":"call ended""#)
            #expect(ended.count == 2, "both legs ended by the caller's BYE: \(ended)")
        }
    }

    /// The wanted caller (SIPp playing `caller`) put through to alice's device (SIPp over TCP answering with
    /// `device`, for `deviceSeconds`); `body` reads the gateway afterwards, and the device's scenario must have run
    /// through (`deviceOverTCP` fails it on SIPp's error log).
    static func bridgedSIPpCall(caller: String, device: String, deviceSeconds: Int, _ body: (AnswerNinjaProcess) async throws -> Void) async throws {
        let gateway = try await Self.registrar(["ANSWER_NINJA_API_BCRYPT_COST": "4"])
        try await withPeer(gateway) { gateway in
            _ = try await Self.wantedCaller(of: gateway)
            let phone = try Self.deviceOverTCP(gateway, answering: device, seconds: deviceSeconds)
            try await gateway.process.waitUntilReady(timeout: .seconds(15)) { !Self.lines(gateway, containing: "device registered").isEmpty }
            _ = try await Self.run(caller, against: gateway, service: "+14155550100")
            try await body(gateway)
            let run = try await phone.value
            #expect(run.status == 0, "the device's scenario \(device) ran through: \(run.output.suffix(1500))")
        }
    }

    /// A device registered through an edge proxy (Kamailio with `add_path_received`, as deploy/kamailio does) is
    /// called through it: the gateway keeps the REGISTER's Path (RFC 3327) and sends the INVITE to the edge with that
    /// Path as its Route, and the edge's `loose_route` takes it to the device by the `received` address. baresip,
    /// registered with the edge as its registrar, answers; the call and its BYE cross the edge (it record-routes).
    @Test(.enabled(if: PeerEnvironment.available("kamailio") && PeerEnvironment.available("baresip")), .timeLimit(.minutes(2)))
    func aDeviceRegisteredThroughAnEdgeIsCalledThroughItsPath() async throws {
        let gateway = try await Self.registrar()
        try await withPeer(gateway) { gateway in
            let sipPort = try #require(gateway.sipPort)
            let edge = try await KamailioPeer.start { port in Self.pathEdge(port: port, gateway: sipPort) }
            try await withPeer(edge) { edge in
                let phone = try await BaresipPeer.start(user: "alice", registrar: .init(hostPort: "127.0.0.1:\(edge.port)", password: "alice-pw-8731"))
                try await withPeer(phone) { phone in
                    try await gateway.process.waitUntilReady(timeout: .seconds(20)) { !Self.lines(gateway, containing: "device registered").isEmpty }
                    let registered = try #require(Self.lines(gateway, containing: "device registered").last)
                    #expect(registered.contains(#""path":"1""#), "the edge's Path came with the REGISTER: \(registered)")
                    let (status, body, _) = try await HTTPProbe.post(url: gateway.baseURL + "/internal/devices/alice/call?seconds=2")
                    #expect(status == 200, "\(body)")
                    let calls = Self.deviceCalls(body)
                    #expect(calls.count == 1 && calls.first?["answered"] as? Bool == true, "\(body)")
                    #expect((calls.first?["flow"] as? String)?.contains(":\(edge.port)") == true, "sent to the edge: \(body)")
                    try await phone.waitUntilCallsEnded()
                    let routed = edge.process.log()
                    #expect(routed.contains("edge: INVITE to the device by Path"), "\(edge.process.logTail())")
                    #expect(routed.contains("edge: BYE in dialog"), "the BYE followed the edge's Record-Route: \(edge.process.logTail())")
                }
            }
        }
    }

    /// An edge as deploy/kamailio/kamailio.cfg is for devices: REGISTERs go to the gateway with a Path naming the
    /// edge and the device's address; requests routed by that Path, and in-dialog requests, are relayed.
    static func pathEdge(port: Int, gateway: Int) -> String {
        """
            \(KamailioPeer.preamble(port: port, tcp: false))
            loadmodule "sl.so"
            loadmodule "tm.so"
            loadmodule "rr.so"
            loadmodule "pv.so"
            loadmodule "path.so"
            loadmodule "siputils.so"
            loadmodule "textops.so"
            loadmodule "xlog.so"
            modparam("path", "use_received", 1)
            request_route {
                if (is_method("OPTIONS") && uri == myself && !has_totag()) {
                    sl_send_reply("200", "Answer Ninja test edge");
                    exit;
                }
                if (has_totag()) {
                    if (loose_route()) {
                        xlog("L_INFO", "edge: $rm in dialog\n");
                        t_relay();
                        exit;
                    }
                    if (is_method("ACK") && t_check_trans()) { t_relay(); }
                    exit;
                }
                if (is_method("CANCEL")) {
                    if (t_check_trans()) { t_relay(); }
                    exit;
                }
                if (is_method("REGISTER")) {
                    add_path_received();
                    $du = "sip:127.0.0.1:\(gateway)";
                    t_relay();
                    exit;
                }
                # A Path naming only this edge is a preloaded local route: loose_route removes it and is false,
                # and the path module's callback has set the destination from its received parameter.
                loose_route();
                if ($du != $null) {
                    xlog("L_INFO", "edge: $rm to the device by Path ($du)\n");
                    record_route();
                    t_relay();
                    exit;
                }
                sl_send_reply("404", "Not here");
            }
            """
    }

    /// The flood guard on TCP: 300 OPTIONS pipelined on one connection from 127.0.0.2 run its bucket dry (50 a second,
    /// bursts of 100); it is answered about 100 times, then its connection is closed, and a new one from it gets
    /// nothing while it is blocked. 127.0.0.1 is still answered over TCP meanwhile.
    @Test(.timeLimit(.minutes(1)))
    func aTCPFloodIsCutOffWhileOthersGoOn() async throws {
        let gateway = try await AnswerNinjaProcess.start()
        try await withPeer(gateway) { gateway in
            let sipPort = try #require(gateway.sipPort)
            let one = { UDPProbe.options(to: sipPort, user: "demo").replacingOccurrences(of: "SIP/2.0/UDP", with: "SIP/2.0/TCP") }
            let flood = (0..<300).map { _ in one() }.joined()
            let answered = try await TCPProbe.exchange(port: sipPort, payload: flood, timeout: .seconds(2), sourceHost: 2)
            let answers = answered.components(separatedBy: "SIP/2.0 200 OK").count - 1
            #expect(answers >= 90 && answers < 200, "the burst is answered, the rest is not: \(answers)")
            try await gateway.process.waitUntilReady(timeout: .seconds(10)) { gateway.process.log().contains("flood from 127.0.0.2") }
            let again = try await TCPProbe.exchange(port: sipPort, payload: one(), timeout: .seconds(1), sourceHost: 2)
            #expect(again.isEmpty, "a blocked source's new connection gets nothing: \(again.prefix(80))")
            let other = try await TCPProbe.exchange(port: sipPort, payload: one(), timeout: .seconds(2))
            #expect(other.hasPrefix("SIP/2.0 200 OK"), "another source is still answered: \(other.prefix(80))")
        }
    }

    /// A device that rings and never answers is cancelled after `sip.device_ring_timeout`: CANCEL (200), the INVITE's
    /// 487 ACKed by the transaction, and the call reported unanswered (ring-device.xml answers for the device). One
    /// that stays at 100 Trying is cancelled the same way, not left to timer B (trying-device.xml).
    @Test(.enabled(if: PeerEnvironment.available("sipp")), .timeLimit(.minutes(1)), arguments: ["ring-device.xml", "trying-device.xml"])
    func aDeviceThatRingsTooLongIsCancelled(scenario: String) async throws {
        let gateway = try await Self.registrar(["ANSWER_NINJA_SIP_DEVICE_RING_TIMEOUT": "2s"])
        try await withPeer(gateway) { gateway in
            let device = try Self.deviceOverTCP(gateway, answering: scenario, seconds: 10)
            try await gateway.process.waitUntilReady(timeout: .seconds(15)) { !Self.lines(gateway, containing: "device registered").isEmpty }
            let (status, body, _) = try await HTTPProbe.post(url: gateway.baseURL + "/internal/devices/alice/call")
            #expect(status == 200, "\(body)")
            let call = Self.deviceCalls(body).first
            #expect(call?["answered"] as? Bool == false && call?["status_code"] as? Int == 487, "\(body)")
            #expect(!Self.lines(gateway, containing: "device call cancelled").isEmpty)
            let result = try await device.value
            #expect(result.status == 0, "the device saw the CANCEL and the ACK of its 487: \(result.output.suffix(1500))")
        }
    }

    /// Forking to two devices of one user: the first answer wins. Device A answers; device B, which only rings,
    /// gets a CANCEL with `Reason: SIP;cause=200;text="Call completed elsewhere"` (ring-elsewhere.xml checks it),
    /// and its 487 is ACKed; the reply lists one answered call and one 487.
    @Test(.enabled(if: PeerEnvironment.available("sipp")), .timeLimit(.minutes(1)))
    func theFirstDeviceToAnswerWinsTheFork() async throws {
        let gateway = try await Self.registrar()
        try await withPeer(gateway) { gateway in
            let winner = try Self.deviceOverTCP(gateway, answering: "answer-device.xml", seconds: 15)
            let loser = try Self.deviceOverTCP(gateway, answering: "ring-elsewhere.xml", seconds: 15)
            try await gateway.process.waitUntilReady(timeout: .seconds(15)) { Self.lines(gateway, containing: "device registered").count == 2 }
            let (status, body, _) = try await HTTPProbe.post(url: gateway.baseURL + "/internal/devices/alice/call?seconds=2")
            #expect(status == 200, "\(body)")
            let calls = Self.deviceCalls(body)
            #expect(calls.count == 2, "\(body)")
            #expect(calls.filter { $0["answered"] as? Bool == true }.count == 1, "\(body)")
            #expect(calls.contains { $0["answered"] as? Bool == false && $0["status_code"] as? Int == 487 }, "\(body)")
            #expect(Self.lines(gateway, containing: "device call cancelled").first?.contains("Call completed elsewhere") == true)
            let lost = try await loser.value
            #expect(lost.status == 0, "the losing device saw the CANCEL with its Reason: \(lost.output.suffix(1500))")
            let won = try await winner.value
            #expect(won.status == 0, "the winner saw INVITE, ACK and BYE: \(won.output.suffix(1500))")
        }
    }
}

/// A thread-safe counter for callbacks on event loops.
final class Counter: @unchecked Sendable {
    // Guarded by `lock`.
    private let lock = NSLock()
    private var value = 0

    func next() -> Int { lock.withLock { value += 1; return value } }
}

/// Shedding under overload: a burst of distinct INVITEs from a trusted trunk (no per-source limit) backs up the SIP
/// socket's receive queue; the gateway sees it (`SO_MEMINFO`), answers new INVITEs 503 "overloaded" with
/// Retry-After while it drains, then takes calls again.
@Suite(.serialized) struct SIPOverloadTests {
    @Test(.timeLimit(.minutes(2)))
    func aBackedUpReceiveQueueShedsNewCallsUntilItDrains() async throws {
        let gateway = try await AnswerNinjaProcess.start(environment: [
            "ANSWER_NINJA_SIP_TRUSTED_SOURCES": "127.0.0.1", "ANSWER_NINJA_SIP_MAX_CALLS": "100000",
        ])
        try await withPeer(gateway) { gateway in
            let sipPort = try #require(gateway.sipPort)
            let sdp = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 9 RTP/AVP 0\r\n"
            let invites = (0..<3000).map { index -> [UInt8] in
                Array("""
                    INVITE sip:demo@127.0.0.1:\(sipPort) SIP/2.0\r
                    Via: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK-burst-\(index)\r
                    Max-Forwards: 70\r
                    From: <sip:burst@127.0.0.1>;tag=b\(index)\r
                    To: <sip:demo@127.0.0.1>\r
                    Call-ID: burst-\(index)@127.0.0.1\r
                    CSeq: 1 INVITE\r
                    Contact: <sip:burst@127.0.0.1:9>\r
                    Content-Type: application/sdp\r
                    Content-Length: \(sdp.utf8.count)\r
                    \r
                    \(sdp)
                    """.utf8)
            }
            try UDPProbe.send(port: sipPort, payloads: invites)
            try await gateway.process.waitUntilReady(timeout: .seconds(30)) { gateway.process.log().contains("overload: shedding new calls") }
            try await gateway.process.waitUntilReady(timeout: .seconds(60)) { gateway.process.log().contains("overload over: taking new calls") }
            let metrics = try await gateway.get("/metrics").body
            let shed = metrics.split(separator: "\n").first { $0.hasPrefix(#"sip_calls_rejected_total{reason="overload"}"#) }
            #expect((shed?.split(separator: " ").last.flatMap { Double($0) } ?? 0) > 0, "some INVITEs were shed: \(shed ?? "none")")
            let call = try await PeerEnvironment.run(
                try AnswerNinjaProcess.binary(), ["call", "sip:demo@127.0.0.1:\(sipPort)", "--duration", "1", "--json"], timeout: .seconds(30)
            )
            #expect(call.status == 0 && call.output.contains(#""answered":true"#), "a call after the overload is answered: \(call.output)")
        }
    }
}
