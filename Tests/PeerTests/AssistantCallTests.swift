import AnswerNinjaCore
import AnswerNinjaTestSupport
import Foundation
import Store
import Testing

/// The assistant answering a real call on `serve` (`sip.answer_mode` assistant, the embedded engines): our `call`
/// tool is a scripted caller (`--script`: each line in espeak-ng's voice once the assistant's turn has ended) that
/// says scam lines and records what it hears.
@Suite(.serialized) struct AssistantCallTests {
    /// Root mean square of `samples[range]` (8 kHz).
    static func level(_ samples: [Int16], seconds: Range<Double>) -> Double {
        let slice = samples[min(samples.count, Int(max(0, seconds.lowerBound) * 8000))..<min(samples.count, Int(seconds.upperBound * 8000))]
        guard !slice.isEmpty else { return 0 }
        return (slice.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(slice.count)).squareRoot()
    }

    @Test(.timeLimit(.minutes(3)))
    func theAssistantAnswersListensAndReplies() async throws {
        let data = try PeerEnvironment.artifactsDirectory(named: "assistant")
        let gateway = try await AnswerNinjaProcess.start(
            environment: ["ANSWER_NINJA_SIP_ANSWER_MODE": "assistant", "ANSWER_NINJA_SPEECH_STT_DECODERS": "1"], dataDirectory: data
        )
        try await withPeer(gateway) { gateway in
            let directory = try PeerEnvironment.artifactsDirectory(named: "assistant-call")
            let script = directory.appendingPathComponent("caller.txt"), heard = directory.appendingPathComponent("heard.wav")
            try """
                # An IRS scam, line by line after the assistant's turns.
                > this is the internal revenue service there is a lawsuit filed against you for tax fraud call back immediately
                > your social security number has been suspended due to suspicious activity press one to speak with an officer
                """.write(to: script, atomically: true, encoding: .utf8)
            let sipPort = try #require(gateway.sipPort)
            let result = try await PeerEnvironment.run(
                try AnswerNinjaProcess.binary(),
                ["call", "sip:demo@127.0.0.1:\(sipPort)", "--from", "+14155550142", "--script", script.path, "--record", heard.path, "--duration", "60", "--json"],
                timeout: .seconds(90)
            )
            let report = try #require(try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any], "\(result.output)")
            #expect(report["answered"] as? Bool == true, "\(report)")
            let audio = try AudioCorrelation.samples(ofWAV: heard)
            let steps = try #require(report["turns"] as? [[String: Any]], "\(report)")
            print("assistant: report \(report)")
            // The assistant spoke first, and the caller's first line waited for its opening to end: the opening is in
            // what the caller heard, and the 800 ms before the line were quiet.
            try #require(!steps.isEmpty, "\(report)")
            let firstStart = try #require(steps[0]["start_ms"] as? Double) / 1000
            #expect(Self.level(audio, seconds: 0.5..<min(4, firstStart)) > 300, "the opening line was heard")
            #expect(Self.level(audio, seconds: (firstStart - 0.7)..<firstStart) < 100, "the line began after the opening ended")
            // Voice-to-voice at the caller, per line: from its end to the first reply above −40 dBFS. The last line
            // said is always answered (at least by the goodbye). Figures, not bounds: timing belongs to benchmarks.
            let latencies = try #require(report["voice_to_voice_ms"] as? [Any], "\(report)")
            print("assistant: voice-to-voice \(latencies) ms")
            #expect((latencies.last as? Double).map { $0 > 0 } == true, "\(latencies)")
            let turns = SIPScenarioTests.lines(gateway, containing: #""msg":"assistant turn""#)
            print((turns + SIPScenarioTests.lines(gateway, containing: "caller utterance") + SIPScenarioTests.lines(gateway, containing: "barge")).joined(separator: "\n"))
            #expect(turns.count >= 2, "the opening and at least one reply: \(gateway.process.logTail())")

            try await gateway.process.waitUntilReady(timeout: .seconds(15)) { !SIPScenarioTests.lines(gateway, containing: "call ended").isEmpty }
            // The dialog ran in the conversation role, reached over its WebSocket, and the connection closed with
            // the call.
            let opened = SIPScenarioTests.lines(gateway, containing: #""msg":"conversation opened""#)
            #expect(opened.count == 1 && opened.allSatisfy { $0.contains(#""where":"remote""#) }, "\(opened)")
            try await gateway.process.waitUntilReady(timeout: .seconds(10)) {
                let metrics = (try? await gateway.get("/metrics").body) ?? ""
                return Self.gauge(metrics, #"websocket_connections{role="media"}"#) == 0 && Self.gauge(metrics, #"websocket_connections{role="conversation"}"#) == 0
                    && metrics.contains(#"conversation_turns_total{action="hangup"} 1"#)
            }
            _ = await gateway.process.stop(signal: SIGTERM, timeout: .seconds(15))
            let database = try await SQLiteDatabase.open(path: data.appendingPathComponent("answer-ninja.sqlite").path)
            let record = try #require(try await CallRecordStore(database: database).records(userId: "user-demo").first)
            let full = try #require(try await CallRecordStore(database: database).record(id: record.id))
            try await database.close()
            #expect(full.decision == "screen" && full.turns.count >= 2, "\(full)")
            let replies = full.turns.filter { !$0.callerText.isEmpty }
            #expect(!replies.isEmpty, "the caller was heard: \(full.turns)")
            for turn in replies {
                #expect(Set(turn.latencies.keys) == ["stt_final", "reply", "tts_first", "rtp_first"], "\(turn.latencies)")
                #expect(turn.latencies.values.allSatisfy { $0 >= 0 }, "\(turn.latencies)")
                #expect(!turn.replyText.isEmpty || turn.intent != nil)
            }
            // A scam: one line that gives nothing away, then the assistant hangs up by itself.
            #expect(full.intent == "scam" && full.outcome == "hung_up_by_ai", "\(full)")
            #expect(report["hangup_side"] as? String == "remote", "the assistant hung up: \(report)")
            let transcript = try String(contentsOfFile: try #require(full.transcriptPath), encoding: .utf8)
            #expect(transcript.contains("Assistant: ") && transcript.contains("Caller: "), "\(transcript)")
        }
    }
}

extension AssistantCallTests {
    /// Two scripted callers at once — the pharmacy and the telemarketer of Fixtures/conversations — on one
    /// pocketsphinx decoder (`speech.stt_decoders` 1): both are heard line after line and answered, and each call's
    /// record is complete. (Before decoders were taken per utterance, the second call was deaf until the first
    /// ended.) The intents are printed, not asserted: pocketsphinx hears espeak-ng's voice poorly (docs/testing.md).
    @Test(.timeLimit(.minutes(4)))
    func twoCallersAtOnceShareOneDecoder() async throws {
        let data = try PeerEnvironment.artifactsDirectory(named: "assistant-two-calls")
        let gateway = try await AnswerNinjaProcess.start(
            environment: ["ANSWER_NINJA_SIP_ANSWER_MODE": "assistant", "ANSWER_NINJA_SPEECH_STT_DECODERS": "1"], dataDirectory: data
        )
        try await withPeer(gateway) { gateway in
            let sipPort = try #require(gateway.sipPort)
            let fixtures = AnswerNinjaProcess.packageRootFromSource() + "/Fixtures/conversations/"
            func call(_ script: String, from caller: String, seconds: Int) async throws -> [String: Any] {
                let result = try await PeerEnvironment.run(
                    try AnswerNinjaProcess.binary(),
                    ["call", "sip:demo@127.0.0.1:\(sipPort)", "--from", caller, "--script", fixtures + script, "--duration", String(seconds), "--json"],
                    timeout: .seconds(150)
                )
                return try #require(try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any], "\(result.output)")
            }
            // The telemarketer's nine lines would take 90 s: it is cut off after 45 s, while the pharmacy has its say.
            async let pharmacyCall = call("appointment_or_pharmacy.txt", from: "+14155550143", seconds: 100)
            async let telemarketerCall = call("telemarketing.txt", from: "+14155550144", seconds: 45)
            // While both calls go on, each holds its own WebSocket to the conversation role (serve speaks the
            // protocol over loopback): the media side's `websocket_connections`, the autoscaling metric, reads 2.
            var peak = 0
            let deadline = ContinuousClock.now + .seconds(40)
            while peak < 2, ContinuousClock.now < deadline {
                peak = max(peak, Self.gauge(try await gateway.get("/metrics").body, #"websocket_connections{role="media"}"#))
                try await Task.sleep(for: .milliseconds(250))
            }
            #expect(peak == 2, "one conversation connection per AI call")
            let (pharmacy, telemarketer) = try await (pharmacyCall, telemarketerCall)
            print("pharmacy: \(pharmacy)\ntelemarketer: \(telemarketer)")
            for report in [pharmacy, telemarketer] {
                #expect(report["answered"] as? Bool == true && report["hangup_side"] != nil, "\(report)")
                // Lines were answered: at least two replies timed at the caller.
                let replies = (report["voice_to_voice_ms"] as? [Any] ?? []).compactMap { $0 as? Double }
                #expect(replies.count >= 2, "\(report)")
            }
            // The pharmacy said all three lines and hung up itself: the assistant never hangs up on a wanted caller.
            #expect((pharmacy["turns"] as? [Any])?.count == 3 && pharmacy["hangup_side"] as? String == "local", "\(pharmacy)")

            try await gateway.process.waitUntilReady(timeout: .seconds(30)) { SIPScenarioTests.lines(gateway, containing: "call ended").count == 2 }
            _ = await gateway.process.stop(signal: SIGTERM, timeout: .seconds(15))
            let database = try await SQLiteDatabase.open(path: data.appendingPathComponent("answer-ninja.sqlite").path)
            let store = CallRecordStore(database: database)
            var records: [CallRecord] = []
            for summary in try await store.records(userId: "user-demo") { records.append(try #require(try await store.record(id: summary.id))) }
            try await database.close()
            try #require(records.count == 2, "\(records)")
            // The calls overlapped, and each caller was heard more than once while the other call went on.
            let (first, second) = (records[0], records[1])
            #expect(first.startedAt < (second.endedAt ?? .max) && second.startedAt < (first.endedAt ?? .max), "\(records)")
            for record in records {
                let heard = record.turns.filter { !$0.callerText.isEmpty }
                print("\(record.caller): intent \(record.intent ?? "none"), outcome \(record.outcome ?? "?"), heard \(heard.map(\.callerText))")
                #expect(heard.count >= 2, "\(record.caller): \(record.turns)")
                #expect(heard.allSatisfy { Set($0.latencies.keys) == ["stt_final", "reply", "tts_first", "rtp_first"] }, "\(heard)")
            }
            let pharmacyRecord = try #require(records.first { $0.caller == "+14155550143" })
            #expect(pharmacyRecord.outcome != "hung_up_by_ai", "\(pharmacyRecord)")
        }
    }

    /// The roles apart: `answer-ninja gateway` (SIP, media, speech) and `answer-ninja conversation` in two processes,
    /// the gateway reaching the conversation role at `conversation.url`. A call's dialog runs in the conversation
    /// process; with that process stopped, the next call is still answered, by a conversation in the gateway.
    @Test(.timeLimit(.minutes(4)))
    func theGatewayReachesASeparateConversationRoleAndCarriesOnWithoutIt() async throws {
        let (conversation, gateway) = try await Self.rolesApart()
        try await withPeer(gateway) { gateway in
            let sipPort = try #require(gateway.sipPort)
            let script = AnswerNinjaProcess.packageRootFromSource() + "/Fixtures/conversations/scam.txt"
            func call() async throws -> [String: Any] {
                let result = try await PeerEnvironment.run(
                    try AnswerNinjaProcess.binary(),
                    ["call", "sip:demo@127.0.0.1:\(sipPort)", "--from", "+14155550142", "--script", script, "--duration", "40", "--json"],
                    timeout: .seconds(90)
                )
                return try #require(try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any], "\(result.output)")
            }
            try await withPeer(conversation) { conversation in
                let report = try await call()
                let replies = (report["voice_to_voice_ms"] as? [Any] ?? []).compactMap { $0 as? Double }
                #expect(report["answered"] as? Bool == true && !replies.isEmpty, "\(report)")
                let opened = SIPScenarioTests.lines(gateway, containing: #""msg":"conversation opened""#)
                #expect(opened.count == 1 && opened.allSatisfy { $0.contains(#""where":"remote""#) }, "\(opened)")
                // The conversation process said the opening line and answered the caller.
                let metrics = try await conversation.get("/metrics").body
                #expect(metrics.contains(#"conversation_turns_total{action="continue"}"#), "\(metrics.split(separator: "\n").filter { $0.contains("conversation_") })")
                #expect(conversation.process.log().contains(#""msg":"conversation started""#))
            }
            // The conversation role is gone: the call is answered all the same, its dialog in the gateway.
            let report = try await call()
            let replies = (report["voice_to_voice_ms"] as? [Any] ?? []).compactMap { $0 as? Double }
            #expect(report["answered"] as? Bool == true && !replies.isEmpty, "\(report)")
            let opened = SIPScenarioTests.lines(gateway, containing: #""msg":"conversation opened""#)
            #expect(opened.count == 2 && opened.last?.contains(#""where":"local""#) == true, "\(opened)")
            #expect(!SIPScenarioTests.lines(gateway, containing: "conversation role not reached").isEmpty)
        }
    }

    /// The conversation role dies under a call (SIGKILL after the opening line): the gateway tries to resume, cannot,
    /// and the caller hears a goodbye of ours played to its end before the gateway hangs up, rather than silence and
    /// a sudden BYE.
    @Test(.timeLimit(.minutes(3)))
    func aCallWhoseConversationIsLostHearsAGoodbyeBeforeTheHangUp() async throws {
        let (conversation, gateway) = try await Self.rolesApart()
        try await withPeer(gateway) { gateway in
            let sipPort = try #require(gateway.sipPort)
            let script = AnswerNinjaProcess.packageRootFromSource() + "/Fixtures/conversations/scam.txt"
            let binary = try AnswerNinjaProcess.binary()
            let caller = Task {
                try await PeerEnvironment.run(
                    binary, ["call", "sip:demo@127.0.0.1:\(sipPort)", "--from", "+14155550142", "--script", script, "--duration", "40", "--json"],
                    timeout: .seconds(90)
                )
            }
            try await withPeer(conversation) { conversation in
                try await gateway.process.waitUntilReady(timeout: .seconds(45)) {
                    !SIPScenarioTests.lines(gateway, containing: #""msg":"assistant turn""#).isEmpty
                }
                _ = await conversation.process.stop(signal: SIGKILL)
            }
            let result = try await caller.value
            let report = try #require(try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any], "\(result.output)")
            #expect(report["answered"] as? Bool == true && report["hangup_side"] as? String == "remote", "the gateway hung up, before the caller's 40 s: \(report)")
            #expect(SIPScenarioTests.lines(gateway, containing: "conversation lost: no more resumes").count == 1)
            let turns = SIPScenarioTests.lines(gateway, containing: #""msg":"assistant turn""#)
            let goodbye = try #require(turns.last)
            #expect(goodbye.contains("Please call again later. Goodbye.") && goodbye.contains(#""action":"hangup""#), "played out, then the hang-up: \(turns)")
            let ended = SIPScenarioTests.lines(gateway, containing: #""msg":"call ended""#)
            #expect(ended.count == 1 && ended.first?.contains(#""hangup_side":"assistant""#) == true && ended.first?.contains("conversation lost") == true, "\(ended)")
        }
    }

    /// The link between the roles over TLS (a host-network gateway's conversations cross the node network, where no
    /// mesh encrypts them): the conversation role also serves its WebSocket on `conversation.tls_port`, and a gateway
    /// trusting the test CA (`conversation.tls_ca`) holds its call's conversation there. A gateway without that CA,
    /// or one that asks for a name the certificate does not carry (127.0.0.1, where it names localhost only), refuses
    /// the certificate and holds the conversation itself: nothing goes out unverified.
    @Test(.timeLimit(.minutes(3)))
    func theConversationLinkRunsOverTLSToAVerifiedRole() async throws {
        let certificates = try await TestCertificates.make(name: "conversation-tls", alternativeNames: ["DNS:localhost"])
        let tlsPort = try PeerEnvironment.freePort()
        let conversation = try await AnswerNinjaProcess.start(command: "conversation", environment: [
            "ANSWER_NINJA_CONVERSATION_TLS_PORT": String(tlsPort), "ANSWER_NINJA_CONVERSATION_TLS_CERTIFICATE": certificates.serverCertificate,
            "ANSWER_NINJA_CONVERSATION_TLS_PRIVATE_KEY": certificates.serverKey,
        ])
        try await withPeer(conversation) { conversation in
            #expect(conversation.process.log().contains("wss://127.0.0.1:\(tlsPort)/internal/conversation"), "\(conversation.process.logTail())")
            for (host, trusted) in [("localhost", true), ("localhost", false), ("127.0.0.1", true)] {
                let url = "wss://\(host):\(tlsPort)/internal/conversation"
                let verified = host == "localhost" && trusted
                let environment = ["ANSWER_NINJA_CONVERSATION_URL": url].merging(trusted ? ["ANSWER_NINJA_CONVERSATION_TLS_CA": certificates.caCertificate] : [:]) { $1 }
                try await Self.oneCall(throughGateway: environment) { gateway, opened in
                    #expect(opened.count == 1 && opened.first?.contains(verified ? #""where":"remote""# : #""where":"local""#) == true, "\(url), CA trusted \(trusted): \(opened)")
                    if !verified {
                        let refused = SIPScenarioTests.lines(gateway, containing: "conversation role not reached")
                        #expect(refused.count == 1, "the unverified role is not used: \(gateway.process.logTail())")
                        let metrics = try await gateway.get("/metrics").body
                        #expect(metrics.contains("conversation_fallbacks_total 1"), "\(metrics.split(separator: "\n").filter { $0.contains("fallback") })")
                    }
                }
            }
            // The conversation role held exactly the trusted gateway's conversation.
            #expect(conversation.process.log().components(separatedBy: #""msg":"conversation started""#).count - 1 == 1)
        }
    }

    /// Mutual TLS on the link: a conversation role with `conversation.tls_client_ca` holds the conversation of a
    /// gateway presenting a client certificate from that CA, and refuses one without (which then holds its call's
    /// conversation itself). In Kubernetes this, not only the NetworkPolicy, keeps other pods off port 8443.
    @Test(.timeLimit(.minutes(3)))
    func aConversationRoleAskingForClientCertificatesServesOnlyGatewaysThatHaveOne() async throws {
        let server = try await TestCertificates.make(name: "conversation-mtls", alternativeNames: ["DNS:localhost"])
        let client = try await TestCertificates.make(name: "gateway-client", alternativeNames: ["DNS:gateway"], usage: "clientAuth")
        let tlsPort = try PeerEnvironment.freePort()
        let conversation = try await AnswerNinjaProcess.start(command: "conversation", environment: [
            "ANSWER_NINJA_CONVERSATION_TLS_PORT": String(tlsPort), "ANSWER_NINJA_CONVERSATION_TLS_CERTIFICATE": server.serverCertificate,
            "ANSWER_NINJA_CONVERSATION_TLS_PRIVATE_KEY": server.serverKey, "ANSWER_NINJA_CONVERSATION_TLS_CLIENT_CA": client.caCertificate,
        ])
        try await withPeer(conversation) { conversation in
            for presents in [true, false] {
                let environment = [
                    "ANSWER_NINJA_CONVERSATION_URL": "wss://localhost:\(tlsPort)/internal/conversation", "ANSWER_NINJA_CONVERSATION_TLS_CA": server.caCertificate,
                ].merging(presents ? [
                    "ANSWER_NINJA_CONVERSATION_TLS_CLIENT_CERTIFICATE": client.serverCertificate, "ANSWER_NINJA_CONVERSATION_TLS_CLIENT_PRIVATE_KEY": client.serverKey,
                ] : [:]) { $1 }
                try await Self.oneCall(throughGateway: environment) { gateway, opened in
                    #expect(
                        opened.count == 1 && opened.first?.contains(presents ? #""where":"remote""# : #""where":"local""#) == true,
                        "client certificate \(presents): \(opened) \(SIPScenarioTests.lines(gateway, containing: "conversation role not reached"))"
                    )
                }
            }
            #expect(conversation.process.log().components(separatedBy: #""msg":"conversation started""#).count - 1 == 1, "only the gateway with a certificate")
        }
    }

    /// An `answer-ninja gateway` answering every call with the assistant, with `environment` besides.
    static func assistantGateway(_ environment: [String: String], command: String = "gateway") async throws -> AnswerNinjaProcess {
        try await AnswerNinjaProcess.start(
            command: command, environment: ["ANSWER_NINJA_SIP_ANSWER_MODE": "assistant", "ANSWER_NINJA_SPEECH_STT_DECODERS": "1"].merging(environment) { $1 }
        )
    }

    /// `answer-ninja conversation` and an assistant gateway that reaches it at `conversation.url`: two processes.
    static func rolesApart() async throws -> (conversation: AnswerNinjaProcess, gateway: AnswerNinjaProcess) {
        let conversation = try await AnswerNinjaProcess.start(command: "conversation")
        let gateway = try await assistantGateway(["ANSWER_NINJA_CONVERSATION_URL": "ws://127.0.0.1:\(conversation.httpPort)/internal/conversation"])
        return (conversation, gateway)
    }

    /// An assistant gateway (or `command`: `serve`) with `environment`, and one short call to it (answered); `body`
    /// gets the gateway and its `conversation opened` lines.
    static func oneCall(
        throughGateway environment: [String: String], command: String = "gateway", _ body: (AnswerNinjaProcess, [Substring]) async throws -> Void
    ) async throws {
        try await withPeer(try await assistantGateway(environment, command: command)) { gateway in
            let sipPort = try #require(gateway.sipPort)
            let result = try await PeerEnvironment.run(
                try AnswerNinjaProcess.binary(),
                ["call", "sip:demo@127.0.0.1:\(sipPort)", "--from", "+14155550142", "--say", "hello, who is this", "--duration", "5", "--json"],
                timeout: .seconds(60)
            )
            #expect(result.output.contains(#""answered":true"#), "\(result.output)")
            try await body(gateway, SIPScenarioTests.lines(gateway, containing: #""msg":"conversation opened""#))
        }
    }

    /// A gauge's value in a Prometheus scrape (-1 when it is not there).
    static func gauge(_ metrics: String, _ series: String) -> Int {
        guard let line = metrics.split(separator: "\n").first(where: { $0.hasPrefix(series + " ") }), let value = Double(line.split(separator: " ").last ?? "") else { return -1 }
        return Int(value)
    }
}
