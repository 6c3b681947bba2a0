import AnswerNinjaCore
import AnswerNinjaTestSupport
import Foundation
import NIOCore
import NIOPosix
import Store
import Synchronization
import Testing

/// The gateway and the media role in two processes (`answer-ninja gateway` with `media.control_url`, and
/// `answer-ninja media`), over the control channel's WebSocket: the media role answers the SDP of a call the
/// assistant screens, runs its RTP, speech and assistant, and reports back; the gateway keeps SIP and the record.
@Suite(.serialized) struct MediaRoleTests {
    static let assistant = ["ANSWER_NINJA_SIP_ANSWER_MODE": "assistant", "ANSWER_NINJA_SPEECH_STT_DECODERS": "1"]

    /// Speech recognition by the STT API's double at `url` (TranscriptionDouble).
    static func speech(_ url: String) -> [String: String] {
        ["ANSWER_NINJA_SPEECH_STT_PROVIDER": "openai", "ANSWER_NINJA_SPEECH_PROVIDER_URL": url, "ANSWER_NINJA_SPEECH_PROVIDER_KEY": "test-key",
         "ANSWER_NINJA_SPEECH_PROVIDER_TIMEOUT": "20s"]
    }

    @Test(.timeLimit(.minutes(3)))
    func theAssistantsCallHasItsMediaInTheMediaRole() async throws {
        // What the assistant hears comes from a double of the cloud STT API, scripted with the fixture's lines: this test
        // is about the split, not about pocketsphinx hearing espeak-ng on a loaded machine (a CI run once heard the scam
        // too late for the assistant to hang up before the caller did).
        let transcriber = TranscriptionDouble.scripted([
            "this is officer james from the internal revenue service, there is a warrant for your arrest for unpaid taxes",
            "you must pay immediately with gift cards or the police will come to your house", "give me your social security number to verify your identity",
        ])
        try await transcriber.run { url in
            let data = try PeerEnvironment.artifactsDirectory(named: "media-role")
            // The conversation runs in the media role's process (no conversation role here); the two processes share the
            // data directory, as the recordings volume is shared in Kubernetes.
            let media = try await AnswerNinjaProcess.start(
                command: "media", environment: Self.assistant.merging(["ANSWER_NINJA_CONVERSATION_URL": ""].merging(Self.speech(url)) { $1 }) { $1 }, dataDirectory: data
            )
            try await withPeer(media) { media in
                #expect(media.process.log().contains("/internal/media-control"), "\(media.process.logTail())")
                let gateway = try await AnswerNinjaProcess.start(
                    command: "gateway",
                    environment: Self.assistant.merging(["ANSWER_NINJA_MEDIA_CONTROL_URL": "ws://127.0.0.1:\(media.httpPort)/internal/media-control"]) { $1 },
                    dataDirectory: data
                )
                try await withPeer(gateway) { gateway in
                    try await gateway.process.waitUntilReady(timeout: .seconds(15)) { !SIPScenarioTests.lines(gateway, containing: "media role connected").isEmpty }
                    let sipPort = try #require(gateway.sipPort)
                    let heard = data.appendingPathComponent("heard.wav")
                    let script = AnswerNinjaProcess.packageRootFromSource() + "/Fixtures/conversations/scam.txt"
                    let result = try await PeerEnvironment.run(
                        try AnswerNinjaProcess.binary(),
                        ["call", "sip:demo@127.0.0.1:\(sipPort)", "--from", "+14155550142", "--script", script, "--record", heard.path, "--duration", "45", "--json"],
                        timeout: .seconds(90)
                    )
                    let report = try #require(try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any], "\(result.output)")
                    print("media role: call report \(report); the STT double heard \(transcriber.heard)")
                    #expect(!transcriber.heard.isEmpty, "the media role's recogniser is the double")
                    // The assistant heard the caller, answered, and hung up (a scam): its BYE came from the gateway, asked
                    // for by the media role.
                    #expect(report["answered"] as? Bool == true && report["hangup_side"] as? String == "remote", "\(report)")
                    let audio = try AudioCorrelation.samples(ofWAV: heard)
                    #expect(AssistantCallTests.level(audio, seconds: 0.5..<3) > 300, "the opening line was heard from the media role's RTP port")
                    let latencies = try #require(report["voice_to_voice_ms"] as? [Any], "\(report)")
                    #expect(!latencies.isEmpty, "\(report)")

                    try await gateway.process.waitUntilReady(timeout: .seconds(15)) { !SIPScenarioTests.lines(gateway, containing: #""msg":"call ended""#).isEmpty }
                    let ended = SIPScenarioTests.lines(gateway, containing: #""msg":"call ended""#)
                    #expect(ended.count == 1 && ended.first?.contains(#""hangup_side":"assistant""#) == true, "\(ended)")
                    // The media ran in the media role: its session, the assistant's turns and the release are in its log,
                    // none in the gateway's.
                    #expect(SIPScenarioTests.lines(media, containing: #""msg":"media session opened""#).count == 1, "\(media.process.logTail())")
                    let turns = SIPScenarioTests.lines(media, containing: #""msg":"assistant turn""#)
                    #expect(turns.count >= 2 && turns.last?.contains(#""action":"hangup""#) == true, "\(turns)")
                    #expect(SIPScenarioTests.lines(gateway, containing: #""msg":"assistant turn""#).isEmpty)
                    try await media.process.waitUntilReady(timeout: .seconds(10)) {
                        !SIPScenarioTests.lines(media, containing: #""msg":"media session released""#).isEmpty
                    }
                    let released = SIPScenarioTests.lines(media, containing: #""msg":"media session released""#)
                    #expect(released.first?.contains(#""reason":"assistant_hangup""#) == true, "\(released)")
                    let metrics = try await gateway.get("/metrics").body
                    #expect(metrics.contains(#"calls_total{decision="screen",outcome="hung_up_by_ai"} 1"#), "\(metrics.split(separator: "\n").filter { $0.hasPrefix("calls_total") })")

                    _ = await gateway.process.stop(signal: SIGTERM, timeout: .seconds(15))
                    // The record, kept by the gateway from the media role's reports: the decision, the turns with their
                    // stage times, the intent, and the recording the media role wrote.
                    let database = try await SQLiteDatabase.open(path: data.appendingPathComponent("answer-ninja.sqlite").path)
                    let records = try await CallRecordStore(database: database).records(userId: "user-demo")
                    let record = try #require(records.first)
                    let full = try #require(try await CallRecordStore(database: database).record(id: record.id))
                    try await database.close()
                    #expect(records.count == 1 && full.decision == "screen" && full.outcome == "hung_up_by_ai", "\(full)")
                    #expect(full.intent == "scam", "\(full)")
                    let replies = full.turns.filter { !$0.callerText.isEmpty }
                    #expect(full.turns.count >= 2 && !replies.isEmpty, "\(full.turns)")
                    for turn in replies { #expect(Set(turn.latencies.keys) == ["stt_final", "reply", "tts_first", "rtp_first"], "\(turn.latencies)") }
                    let recording = try #require(full.recordingPath, "\(full)")
                    let samples = try AudioCorrelation.samples(ofWAV: URL(fileURLWithPath: recording))
                    #expect(samples.count > 8000, "the media role's recording of the call: \(samples.count) samples")
                }
            }
        }
    }

    /// `serve` takes the path a deployment takes: the assistant's call goes from its gateway to its own media role over
    /// the control channel's WebSocket on loopback (`media.loopback`), which only the process itself may open (the route
    /// is on the HTTP listener: an upgrade without the process's token is refused).
    @Test(.timeLimit(.minutes(2)))
    func serveSendsTheAssistantsCallsToItsOwnMediaRoleOverLoopback() async throws {
        try await AssistantCallTests.oneCall(throughGateway: [:], command: "serve") { serve, _ in
            #expect(SIPScenarioTests.lines(serve, containing: "media role connected").first?.contains(#""url":"loopback""#) == true, "\(serve.process.logTail())")
            // The session was the media engine's, opened through the channel, and released through it at the end.
            #expect(SIPScenarioTests.lines(serve, containing: #""msg":"media session opened""#).count == 1, "\(serve.process.logTail())")
            try await serve.process.waitUntilReady(timeout: .seconds(10)) {
                SIPScenarioTests.lines(serve, containing: #""msg":"media session released""#).first?.contains(#""reason":"caller_hangup""#) == true
            }
            #expect(SIPScenarioTests.lines(serve, containing: #""msg":"media control connection opened""#).first?.contains(#""where":"loopback""#) == true)
            // A WebSocket upgrade without the token, or with another, is refused (Hummingbird answers a refused upgrade
            // with 400); the same request to the conversation WebSocket is taken (101), so the request itself is sound.
            for (path, extra, status) in [
                ("/internal/media-control", [String](), "400"), ("/internal/media-control", ["-H", "X-Answer-Ninja-Media-Token: 00"], "400"),
                ("/internal/conversation", [], "101"),
            ] {
                let answered = try await PeerEnvironment.run(try PeerEnvironment.require("curl", package: "curl"), [
                    "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "3", "-H", "Connection: Upgrade", "-H", "Upgrade: websocket",
                    "-H", "Sec-WebSocket-Version: 13", "-H", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
                ] + extra + ["http://127.0.0.1:\(serve.httpPort)\(path)"], timeout: .seconds(15))
                #expect(answered.output == status, "\(path) \(extra): \(answered.output)")
            }
        }
        // And with media.loopback off, the gateway runs the call's RTP itself: no session of the media engine.
        try await AssistantCallTests.oneCall(throughGateway: ["ANSWER_NINJA_MEDIA_LOOPBACK": "off"], command: "serve") { serve, _ in
            #expect(SIPScenarioTests.lines(serve, containing: #""msg":"media session opened""#).isEmpty)
            #expect(SIPScenarioTests.lines(serve, containing: "media role connected").isEmpty)
        }
    }

    /// A media role (its conversation in its own process) and a gateway that sends it the assistant's calls, connected;
    /// `body` gets both.
    static func withRolesApart(data: URL? = nil, _ body: (_ media: AnswerNinjaProcess, _ gateway: AnswerNinjaProcess) async throws -> Void) async throws {
        let media = try await AnswerNinjaProcess.start(command: "media", environment: assistant.merging(["ANSWER_NINJA_CONVERSATION_URL": ""]) { $1 }, dataDirectory: data)
        try await withPeer(media) { media in
            let gateway = try await AnswerNinjaProcess.start(
                command: "gateway",
                environment: assistant.merging(["ANSWER_NINJA_MEDIA_CONTROL_URL": "ws://127.0.0.1:\(media.httpPort)/internal/media-control"]) { $1 },
                dataDirectory: data
            )
            try await withPeer(gateway) { gateway in
                try await gateway.process.waitUntilReady(timeout: .seconds(15)) { !SIPScenarioTests.lines(gateway, containing: "media role connected").isEmpty }
                try await body(media, gateway)
            }
        }
    }

    /// Hold and resume (re-INVITEs with a=sendonly, then a=sendrecv) on a call whose media is in the media role: the
    /// role answers each re-offer from the same port (recvonly, then sendrecv: SIPp checks); a digit the caller sends
    /// in an INFO reaches the assistant there; and the call goes on to the caller's BYE.
    @Test(.enabled(if: PeerEnvironment.available("sipp")), .timeLimit(.minutes(2)))
    func aReOfferIsAnsweredByTheMediaRole() async throws {
        try await Self.withRolesApart { media, gateway in
            _ = try await SIPScenarioTests.run("hold-remote-caller.xml", against: gateway)
            try await gateway.process.waitUntilReady(timeout: .seconds(10)) { !SIPScenarioTests.lines(gateway, containing: #""msg":"call ended""#).isEmpty }
            let ended = SIPScenarioTests.lines(gateway, containing: #""msg":"call ended""#)
            #expect(ended.count == 1 && ended.first?.contains(#""hangup_side":"remote""#) == true, "\(ended)")
            let opened = SIPScenarioTests.lines(media, containing: #""msg":"media session opened""#)
            #expect(opened.count == 1, "one session, its port kept across the re-offers: \(media.process.logTail())")
            // The digit in the INFO crossed the control channel to the assistant.
            let digits = SIPScenarioTests.lines(media, containing: #""msg":"dtmf""#)
            #expect(digits.count == 1 && digits.first?.contains(#""digits":"5""#) == true && digits.first?.contains(#""to":"assistant""#) == true,
                    "\(media.process.logTail())")
            try await media.process.waitUntilReady(timeout: .seconds(10)) {
                SIPScenarioTests.lines(media, containing: #""msg":"media session released""#).first?.contains(#""reason":"caller_hangup""#) == true
            }
        }
    }

    /// A caller whose re-INVITE moves its media to another port is followed there: by the gateway's own RTP session
    /// (`serve` with `media.loopback` off), by the media role of `serve` over loopback, and by a media role apart. The
    /// test listens on the new port and counts what arrives.
    @Test(.enabled(if: PeerEnvironment.available("sipp")), .timeLimit(.minutes(2)), arguments: ["gateway", "loopback", "apart"])
    func aCallerThatMovesItsMediaIsFollowed(media where: String) async throws {
        let media = `where` == "apart"
            ? try await AnswerNinjaProcess.start(command: "media", environment: Self.assistant.merging(["ANSWER_NINJA_CONVERSATION_URL": ""]) { $1 })
            : nil
        var environment = Self.assistant
        if let media { environment["ANSWER_NINJA_MEDIA_CONTROL_URL"] = "ws://127.0.0.1:\(media.httpPort)/internal/media-control" }
        if `where` == "gateway" { environment["ANSWER_NINJA_MEDIA_LOOPBACK"] = "off" }
        let gateway = try await AnswerNinjaProcess.start(command: media != nil ? "gateway" : "serve", environment: environment)
        try await withPeer(gateway) { gateway in
            if `where` != "gateway" {
                try await gateway.process.waitUntilReady(timeout: .seconds(15)) { !SIPScenarioTests.lines(gateway, containing: "media role connected").isEmpty }
            }
            let counter = try await UDPCounter.bind()
            let port = counter.port
            _ = try await SIPScenarioTests.run("move-caller.xml", against: gateway, extra: ["-key", "moved_port", String(port)])
            let arrived = counter.count
            await counter.close()
            // Two seconds on the new port before the BYE: about 100 packets of 20 ms.
            #expect(arrived > 25, "RTP packets at the port the re-INVITE gave: \(arrived)")
            let moved = SIPScenarioTests.lines(media ?? gateway, containing: "the far end's media moved")
            #expect(moved.count == 1 && moved.first?.contains(":\(port)\"") == true, "\(moved)")
            // Who followed: the gateway's session (its log names the SIP call), or the media engine's (the media call).
            #expect(moved.first?.contains(`where` == "gateway" ? #""call_id""# : #""media_call_id""#) == true, "\(moved)")
        }
        if let media { await media.process.stop() }
    }

    /// A UDP port on loopback that counts the datagrams it receives.
    final class UDPCounter: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = AddressedEnvelope<ByteBuffer>
        private let received = Mutex(0)
        private var channel: (any Channel)?

        static func bind() async throws -> UDPCounter {
            let counter = UDPCounter()
            counter.channel = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .channelInitializer { channel in channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(counter) } }
                .bind(host: "127.0.0.1", port: 0).get()
            return counter
        }

        var port: Int { channel?.localAddress?.port ?? 0 }
        var count: Int { received.withLock { $0 } }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            received.withLock { $0 += 1 }
        }

        func close() async { try? await channel?.close() }
    }

    /// A media host that stops answering without closing TCP (here SIGSTOP; in production a lost node) is noticed by
    /// the gateway's WebSocket pings, with no command waiting to time out; once it answers again the channel is resumed.
    @Test(.timeLimit(.minutes(2)))
    func aMediaRoleThatStopsAnsweringIsNoticedByThePings() async throws {
        try await Self.withRolesApart { media, gateway in
            kill(media.process.pid, SIGSTOP)
            defer { kill(media.process.pid, SIGCONT) }
            // Pings go every 5 s; one still unanswered at the next closes the connection.
            try await gateway.process.waitUntilReady(timeout: .seconds(25)) {
                !SIPScenarioTests.lines(gateway, containing: "media control connection dropped").isEmpty
            }
            kill(media.process.pid, SIGCONT)
            try await gateway.process.waitUntilReady(timeout: .seconds(20)) {
                !SIPScenarioTests.lines(gateway, containing: "media control channel resumed").isEmpty
            }
            #expect(SIPScenarioTests.lines(gateway, containing: "media control channel lost").isEmpty, "\(gateway.process.logTail())")
        }
    }

    /// The control channel over mutual TLS (in Kubernetes neither host-network side has a sidecar): the media role
    /// serves it again on `media.tls_port` and asks for a client certificate from `media.tls_client_ca`; a gateway
    /// trusting its CA and presenting one has its call answered there, one without gets no channel (503).
    @Test(.timeLimit(.minutes(3)))
    func theControlChannelRunsOverMutualTLS() async throws {
        let server = try await TestCertificates.make(name: "media-tls", alternativeNames: ["DNS:localhost"])
        let client = try await TestCertificates.make(name: "gateway-media-client", alternativeNames: ["DNS:gateway"], usage: "clientAuth")
        let tlsPort = try PeerEnvironment.freePort()
        let media = try await AnswerNinjaProcess.start(command: "media", environment: Self.assistant.merging([
            "ANSWER_NINJA_CONVERSATION_URL": "", "ANSWER_NINJA_MEDIA_TLS_PORT": String(tlsPort), "ANSWER_NINJA_MEDIA_TLS_CERTIFICATE": server.serverCertificate,
            "ANSWER_NINJA_MEDIA_TLS_PRIVATE_KEY": server.serverKey, "ANSWER_NINJA_MEDIA_TLS_CLIENT_CA": client.caCertificate,
        ]) { $1 })
        try await withPeer(media) { media in
            #expect(media.process.log().contains("wss://127.0.0.1:\(tlsPort)/internal/media-control"), "\(media.process.logTail())")
            // A gateway presenting its certificate; one without; and one going round the TLS listener to plain HTTP,
            // where the channel is not served once client certificates are asked for.
            for (presents, url) in [(true, "wss://localhost:\(tlsPort)"), (false, "wss://localhost:\(tlsPort)"), (true, "ws://127.0.0.1:\(media.httpPort)")] {
                let environment = Self.assistant.merging([
                    "ANSWER_NINJA_MEDIA_CONTROL_URL": "\(url)/internal/media-control", "ANSWER_NINJA_MEDIA_CONTROL_TLS_CA": server.caCertificate,
                ].merging(presents ? [
                    "ANSWER_NINJA_MEDIA_CONTROL_TLS_CLIENT_CERTIFICATE": client.serverCertificate, "ANSWER_NINJA_MEDIA_CONTROL_TLS_CLIENT_PRIVATE_KEY": client.serverKey,
                ] : [:]) { $1 }) { $1 }
                try await withPeer(try await AnswerNinjaProcess.start(command: "gateway", environment: environment)) { gateway in
                    let sipPort = try #require(gateway.sipPort)
                    let result = try await PeerEnvironment.run(
                        try AnswerNinjaProcess.binary(),
                        ["call", "sip:demo@127.0.0.1:\(sipPort)", "--from", "+14155550142", "--say", "hello, who is this", "--duration", "4", "--json"],
                        timeout: .seconds(60)
                    )
                    if presents, url.hasPrefix("wss") {
                        #expect(result.output.contains(#""answered":true"#), "\(result.output) \(gateway.process.logTail())")
                    } else {
                        #expect(result.output.contains(#""answered":false"#) && result.output.contains("503"), "\(result.output)")
                    }
                }
            }
            #expect(SIPScenarioTests.lines(media, containing: #""msg":"media session opened""#).count == 1, "only the gateway with a certificate")
        }
    }

    /// Several media roles (`media.control_url` a list), one of them down: the gateway's calls go to those it
    /// reaches, each call to the one holding the fewest of its calls, so two calls at once land one on each.
    @Test(.timeLimit(.minutes(3)))
    func callsAreSpreadOverTheReachableMediaRoles() async throws {
        let environment = Self.assistant.merging(["ANSWER_NINJA_CONVERSATION_URL": ""]) { $1 }
        try await withPeer(try await AnswerNinjaProcess.start(command: "media", environment: environment)) { first in
            try await withPeer(try await AnswerNinjaProcess.start(command: "media", environment: environment)) { second in
                let down = try PeerEnvironment.freePort()
                let urls = [down, first.httpPort, second.httpPort].map { "ws://127.0.0.1:\($0)/internal/media-control" }.joined(separator: ",")
                let gateway = try await AnswerNinjaProcess.start(command: "gateway", environment: Self.assistant.merging(["ANSWER_NINJA_MEDIA_CONTROL_URL": urls]) { $1 })
                try await withPeer(gateway) { gateway in
                    try await gateway.process.waitUntilReady(timeout: .seconds(15)) { SIPScenarioTests.lines(gateway, containing: "media role connected").count == 2 }
                    let sipPort = try #require(gateway.sipPort)
                    let binary = try AnswerNinjaProcess.binary()
                    let calls = (0..<2).map { index in
                        Task {
                            try await PeerEnvironment.run(
                                binary, ["call", "sip:demo@127.0.0.1:\(sipPort)", "--from", "+1415555014\(index)", "--say", "hello, who is this", "--duration", "5", "--json"],
                                timeout: .seconds(60)
                            )
                        }
                    }
                    for call in calls {
                        let output = try await call.value.output
                        #expect(output.contains(#""answered":true"#), "\(output)")
                    }
                    for media in [first, second] {
                        let opened = SIPScenarioTests.lines(media, containing: #""msg":"media session opened""#)
                        #expect(opened.count == 1, "one call on each media role: \(media.process.logTail())")
                    }
                }
            }
        }
    }

    /// A gateway whose media role cannot be reached answers the assistant's calls with 503 and Retry-After (an edge
    /// proxy tries another gateway), rather than ringing into silence.
    @Test(.timeLimit(.minutes(2)))
    func aGatewayWithoutItsMediaRoleRefusesTheAssistantsCallsWith503() async throws {
        let closed = try PeerEnvironment.freePort()
        let gateway = try await AnswerNinjaProcess.start(
            command: "gateway", environment: Self.assistant.merging(["ANSWER_NINJA_MEDIA_CONTROL_URL": "ws://127.0.0.1:\(closed)/internal/media-control"]) { $1 }
        )
        try await withPeer(gateway) { gateway in
            let sipPort = try #require(gateway.sipPort)
            let result = try await PeerEnvironment.run(
                try AnswerNinjaProcess.binary(),
                ["call", "sip:demo@127.0.0.1:\(sipPort)", "--from", "+14155550142", "--say", "hello", "--duration", "5", "--json"],
                timeout: .seconds(60)
            )
            print("media role unreachable: \(result.output)")
            #expect(result.output.contains(#""answered":false"#) && result.output.contains("503"), "\(result.output)")
            #expect(SIPScenarioTests.lines(gateway, containing: "media role did not answer").count == 1, "\(gateway.process.logTail())")
        }
    }
}
