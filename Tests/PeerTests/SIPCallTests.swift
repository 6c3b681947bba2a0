import AnswerNinjaCore
import AnswerNinjaTestSupport
import Foundation
import MediaDSP
import Testing

/// A real softphone calls `serve` through our own SIP stack: baresip dials the demo alias over UDP, the gateway
/// answers with SDP, plays its greeting (a rising chirp), and records the caller (a falling chirp); baresip hangs
/// up. Both directions are checked by cross-correlation of the audio each side wrote with what the other sent.
@Suite(.serialized) struct SIPCallTests {
    /// Over UDP with plain RTP, with SDES SRTP that baresip insists on (`mediaenc=srtp-mand`, answered with our
    /// native transform), over TCP (the 200 and our requests go back over baresip's connection), and over TLS with
    /// SRTP (the keys travel encrypted; baresip checks our certificate against the test CA); with Opus, plain and
    /// with SRTP. (baresip 1.0 offers one crypto line, AES_CM_128_HMAC_SHA1_80; the other suites are tested with
    /// baresip answering our softphone's offer, in `ourSoftphoneCallsBaresip`.)
    @Test(
        .enabled(if: PeerEnvironment.available("baresip")), .timeLimit(.minutes(2)),
        arguments: [
            (nil, "udp", "pcmu", nil), ("srtp-mand", "udp", "pcmu", nil), (nil, "tcp", "pcmu", nil), ("srtp-mand", "tls", "pcmu", nil),
            (nil, "udp", "opus", nil), ("srtp-mand", "udp", "opus", "AES_CM_128_HMAC_SHA1_80"),
        ] as [(String?, String, String, String?)]
    )
    func baresipCallsServeHearsTheGreetingAndIsRecorded(mediaEncryption: String?, transport: String, codec: String, suite: String?) async throws {
        // Over TLS: a test CA signs the gateway's certificate for 127.0.0.1, and baresip trusts that CA.
        let certificates = transport == "tls" ? try await TestCertificates.make() : nil
        let tlsPort = try PeerEnvironment.freePort()
        var environment = certificates.map {
            ["ANSWER_NINJA_SIP_TLS_PORT": String(tlsPort), "ANSWER_NINJA_SIP_TLS_CERTIFICATE": $0.serverCertificate, "ANSWER_NINJA_SIP_TLS_PRIVATE_KEY": $0.serverKey]
        } ?? [:]
        if let suite { environment["ANSWER_NINJA_MEDIA_SRTP_SUITES"] = suite }
        let gateway = try await AnswerNinjaProcess.start(environment: environment)
        try await withPeer(gateway) { gateway in
            let sipPort = try #require(gateway.sipPort, "serve prints its SIP port")
            // The caller says a falling chirp, 2,400 to 400 Hz, four times.
            let directory = try PeerEnvironment.artifactsDirectory(named: "sip-call")
            let callerChirp = AudioCorrelation.chirp(from: 2400, to: 400, seconds: 1.5)
            let callerAudio = AudioCorrelation.repeated(callerChirp, times: 4)
            let callerFile = directory.appendingPathComponent("caller.wav")
            try AudioCorrelation.writeWAV(callerAudio, to: callerFile)
            let phone = try await BaresipPeer.start(
                user: "caller", audioFile: callerFile.path, mediaEncryption: mediaEncryption, caFile: certificates?.caCertificate, codec: codec
            )
            try await withPeer(phone) { phone in
                switch transport {
                case "tls": try await phone.dial("sip:demo@127.0.0.1:\(tlsPort);transport=tls")
                case "tcp": try await phone.dial("sip:demo@127.0.0.1:\(sipPort);transport=tcp")
                default: try await phone.dial("sip:demo@127.0.0.1:\(sipPort)")
                }
                try await gateway.process.waitUntilReady(timeout: .seconds(15)) { gateway.process.log().contains("call answered") }
                try await Task.sleep(for: .seconds(5))
                try await phone.hangUp()
                try await gateway.process.waitUntilReady(timeout: .seconds(15)) { gateway.process.log().contains("call ended") }
                let log = gateway.process.log()
                #expect(log.contains("hangup_side=remote") || log.contains("\"hangup_side\":\"remote\""), "baresip hung up")
                #expect(log.contains("transport=\(transport)") || log.contains("\"transport\":\"\(transport)\""), "the call came over \(transport)")
                let srtpNone = log.contains("srtp=none") || log.contains("\"srtp\":\"none\"")
                #expect(srtpNone == (mediaEncryption == nil), "SRTP was negotiated exactly when baresip asked for it")
                // baresip offers no rtcp-mux: its RTCP comes to our RTCP port, the RTP port + 1 (RFC 3550 §11).
                let ended = log.split(separator: "\n").first { $0.contains("call ended") } ?? ""
                let rtcpReceived = ended.firstMatch(of: /"rtcp_received":"(\d+)"/).flatMap { Int($0.1) } ?? 0
                #expect(rtcpReceived >= 1, "baresip's RTCP reached our RTCP port: \(ended)")
                let answered = log.split(separator: "\n").first { $0.contains("call answered") } ?? ""
                #expect(answered.contains(#""codec":"\#(codec)""#), "\(answered)")
                if let suite { #expect(answered.contains(#""srtp":"\#(suite)""#), "\(answered)") }

                // What baresip received: our greeting, a rising chirp 400 to 2,400 Hz.
                try await phone.waitUntilCallsEnded()
                let received = try AudioCorrelation.samples(ofWAV: try #require(try phone.receivedAudio(), "baresip wrote what it received"))
                let greeting = AudioCorrelation.chirp(from: 400, to: 2400, seconds: 1.5)
                let heard = await AudioCorrelation.best(received, greeting)
                print("the caller heard our greeting: correlation \(heard)")
                #expect(heard >= 0.8)

                // What we recorded: the caller's chirp.
                let file = try #require(try await gateway.recordings().first)
                let recorded = try AudioCorrelation.samples(ofWAV: file, channel: 0)
                let caller = await AudioCorrelation.best(recorded, callerChirp)
                // The recording is stereo: the caller left, what we sent (the greeting) right.
                let ours = await AudioCorrelation.best(try AudioCorrelation.samples(ofWAV: file, channel: 1), greeting)
                print("we recorded the caller: correlation \(caller); our side: \(ours)")
                #expect(caller >= 0.8 && ours >= 0.8)
            }
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func theGatewayAnswersOptionsAndRefusesMalformedRequestsWithAReason() async throws {
        let gateway = try await AnswerNinjaProcess.start()
        try await withPeer(gateway) { gateway in
            let sipPort = try #require(gateway.sipPort)
            let options = try await UDPProbe.request(port: sipPort, payload: UDPProbe.options(to: sipPort, user: "demo"), timeout: .seconds(2))
            #expect(options?.hasPrefix("SIP/2.0 200 OK") == true && options?.contains("Allow: INVITE") == true)
            // RFC 4475's mismatch01: CSeq names INVITE on an OPTIONS request.
            let malformed = try String(contentsOfFile: AnswerNinjaProcess.packageRootFromSource() + "/Tests/SIPMessagesUnitTests/RFC4475/mismatch01.dat", encoding: .utf8)
            let refused = try await UDPProbe.request(port: sipPort, payload: malformed, timeout: .seconds(2))
            #expect(refused?.hasPrefix("SIP/2.0 400 Bad Request (CSeq method INVITE is not the request's method OPTIONS)") == true, "\(refused ?? "no reply")")
            #expect(refused?.contains("Call-ID: mismatch01.dj0234sxdfl3") == true, "the reply names the request")
            // An unknown method: 405 with Allow.
            let unknown = UDPProbe.options(to: sipPort, user: "demo").replacingOccurrences(of: "OPTIONS", with: "FROBNICATE")
            let refusedMethod = try await UDPProbe.request(port: sipPort, payload: unknown, timeout: .seconds(2))
            #expect(refusedMethod?.hasPrefix("SIP/2.0 405 Method Not Allowed") == true && refusedMethod?.contains("Allow:") == true)
            // Over TCP on the same port: a keep-alive ping gets its pong (RFC 5626 §4.4.1), OPTIONS its 200 on the
            // same connection, and a request without Content-Length (mandatory on a stream) a 400 before the close.
            #expect(try await TCPProbe.exchange(port: sipPort, payload: "\r\n\r\n") == "\r\n")
            let overTCP = try await TCPProbe.exchange(port: sipPort, payload: UDPProbe.options(to: sipPort, user: "demo").replacingOccurrences(of: "SIP/2.0/UDP", with: "SIP/2.0/TCP"))
            #expect(overTCP.hasPrefix("SIP/2.0 200 OK"), "\(overTCP)")
            let noLength = UDPProbe.options(to: sipPort, user: "demo").replacingOccurrences(of: "Content-Length: 0\r\n", with: "")
            let refusedOverTCP = try await TCPProbe.exchange(port: sipPort, payload: noLength)
            #expect(refusedOverTCP.hasPrefix("SIP/2.0 400 Bad Request (Content-Length is mandatory on a stream transport"), "\(refusedOverTCP)")
            // What /metrics says of it: the messages each way and the refusals by transport.
            let metrics = try await gateway.get("/metrics").body
            #expect(metrics.contains(#"sip_messages_total{direction="in",method="OPTIONS"} 2"#), "UDP and TCP OPTIONS counted")
            #expect(metrics.contains(#"sip_messages_total{direction="out",method="FROBNICATE"} 1"#), "the 405 counted by its CSeq method")
            #expect(metrics.contains(#"sip_parse_errors_total{transport="udp"} 1"#) && metrics.contains(#"sip_parse_errors_total{transport="tcp"} 1"#))

            // An INVITE for no one, never ACKed: its 404 is sent again at T1 doubling (every resend is a message
            // sent) but counts once as a response, so a refusal repeated on a lossy path is not several errors.
            let sdp = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 9 RTP/AVP 0\r\n"
            let invite = UDPProbe.options(to: sipPort, user: "nobody").replacingOccurrences(of: "OPTIONS", with: "INVITE")
                .replacingOccurrences(of: "Content-Length: 0\r\n", with: "Contact: <sip:probe@127.0.0.1:9>\r\nContent-Type: application/sdp\r\nContent-Length: \(sdp.utf8.count)\r\n") + sdp
            let trying = try await UDPProbe.request(port: sipPort, payload: invite, timeout: .seconds(2))
            #expect(trying?.hasPrefix("SIP/2.0 100 Trying") == true, "\(trying ?? "no reply")")
            func sent(_ pattern: Regex<(Substring, Substring)>) async throws -> Int {
                try await gateway.get("/metrics").body.firstMatch(of: pattern).flatMap { Int($0.1) } ?? 0
            }
            try await gateway.process.waitUntilReady(timeout: .seconds(5)) {
                try await sent(/sip_messages_total\{direction="out",method="INVITE"\} (\d+)/) >= 3
            }
            #expect(try await sent(/sip_responses_total\{direction="out",code="404"\} (\d+)/) == 1)
        }
    }

    /// Graceful shutdown drains: SIGTERM takes the gateway out of an edge's rotation (/ready 503, OPTIONS and new
    /// INVITEs 503 with Retry-After) while the call in progress runs to its end, and the process exits 0 after it.
    /// A second call still up when `shutdown.grace` runs out is hung up by us then.
    @Test(.timeLimit(.minutes(2)))
    func sigtermDrainsTheCallsInProgressThenStops() async throws {
        let gateway = try await AnswerNinjaProcess.start(environment: ["ANSWER_NINJA_SHUTDOWN_GRACE": "8s"])
        try await withPeer(gateway) { gateway in
            let sipPort = try #require(gateway.sipPort)
            let binary = try AnswerNinjaProcess.binary()
            func call(seconds: Int) async throws -> [String: Any] {
                let result = try await PeerEnvironment.run(binary, ["call", "sip:demo@127.0.0.1:\(sipPort)", "--duration", String(seconds), "--json"], timeout: .seconds(60))
                return try #require(try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any], "\(result.output)")
            }
            async let short = call(seconds: 5)
            async let long = call(seconds: 40)
            try await gateway.process.waitUntilReady(timeout: .seconds(20)) {
                (try? await gateway.get("/metrics").body.contains(#"concurrent_calls{role="gateway"} 2"#)) == true
            }
            let terminated = ContinuousClock.now
            kill(gateway.process.pid, SIGTERM)
            try await gateway.process.waitUntilReady(timeout: .seconds(5)) { (try? await gateway.get("/ready").status) == 503 }
            #expect(try await gateway.get("/metrics").body.contains("answer_ninja_draining 1"))
            let options = try await UDPProbe.request(port: sipPort, payload: UDPProbe.options(to: sipPort, user: "demo"), timeout: .seconds(2))
            #expect(options?.hasPrefix("SIP/2.0 503 Service Unavailable (draining)") == true && options?.contains("Retry-After: 30") == true, "\(options ?? "no reply")")
            let refused = try await call(seconds: 1)
            #expect(refused["answered"] as? Bool == false && refused["status_code"] as? Int == 503, "\(refused)")
            let metrics = try await gateway.get("/metrics").body
            #expect(metrics.contains(#"sip_calls_rejected_total{reason="draining"} 1"#))
            // The OPTIONS and the INVITE, each once (a resend of the INVITE's 503 before its ACK is not another).
            let refusals = metrics.firstMatch(of: /sip_responses_total\{direction="out",code="503"\} (\d+)/).flatMap { Int($0.1) } ?? 0
            #expect(refusals == 2, "\(refusals) 503s")

            // The short call ends as its caller decided; the long one is ours to end, when the grace runs out.
            let ended = try await short
            #expect(ended["answered"] as? Bool == true && ended["hangup_side"] as? String == "local", "\(ended)")
            let cut = try await long
            #expect(cut["answered"] as? Bool == true && cut["hangup_side"] as? String == "remote", "\(cut)")
            let status = await gateway.process.waitForExit(timeout: .seconds(20))
            let waited = ContinuousClock.now - terminated
            #expect(status == 0, "\(gateway.process.logTail())")
            #expect(waited >= .seconds(7) && waited < .seconds(30), "stopped after the grace (8 s), not at once: \(waited)")
            let log = gateway.process.log()
            #expect(log.contains(#""msg":"draining""#) && log.contains(#""msg":"drain timed out""#))
        }
    }

    /// SIPp (Debian's sip-tester), another real peer: its built-in UAC scenario places ten calls (INVITE, 200, ACK,
    /// a one-second pause, BYE, 200) at five per second; every one must succeed and be answered and ended here.
    @Test(.enabled(if: PeerEnvironment.available("sipp")), .timeLimit(.minutes(2)))
    func sippPlacesTenCallsAndAllSucceed() async throws {
        let gateway = try await AnswerNinjaProcess.start()
        try await withPeer(gateway) { gateway in
            let sipPort = try #require(gateway.sipPort)
            let sipp = try PeerEnvironment.require("sipp", package: "sip-tester")
            let localPort = try PeerEnvironment.freePort()
            let result = try await PeerEnvironment.run(
                sipp, ["-sn", "uac", "-s", "demo", "127.0.0.1:\(sipPort)", "-i", "127.0.0.1", "-p", String(localPort), "-mp", String(try PeerEnvironment.freePort()),
                       "-m", "10", "-r", "5", "-l", "10", "-d", "1000", "-nostdin", "-timeout", "60s", "-timeout_error"],
                timeout: .seconds(90)
            )
            #expect(result.status == 0, "SIPp: \(result.output.suffix(2000))")
            try await gateway.process.waitUntilReady(timeout: .seconds(10)) {
                gateway.process.log().components(separatedBy: "call ended").count - 1 == 10
            }
            #expect(gateway.process.log().components(separatedBy: "call answered").count - 1 == 10)
        }
    }

    /// Kamailio as the trunk: the gateway registers with digest (its first REGISTER is challenged), baresip calls
    /// the registered user through Kamailio, which record-routes the INVITE to the gateway; the call is answered,
    /// the caller is recorded, and baresip's BYE reaches the gateway by the route set. The trunk's
    /// P-Asserted-Identity is believed (it is the trunk), and its OPTIONS keep-alives are answered.
    @Test(.enabled(if: PeerEnvironment.available("kamailio") && PeerEnvironment.available("baresip")), .timeLimit(.minutes(2)))
    func theGatewayRegistersWithAKamailioTrunkAndReceivesACallThroughIt() async throws {
        let trunk = try await KamailioPeer.start(configuration: KamailioPeer.trunkConfiguration(password: "trunk-secret"))
        try await withPeer(trunk) { trunk in
            let gateway = try await AnswerNinjaProcess.start(environment: [
                "ANSWER_NINJA_SIP_TRUNK_REGISTRAR": "sip:127.0.0.1:\(trunk.port)",
                "ANSWER_NINJA_SIP_TRUNK_USERNAME": "demo",
                "ANSWER_NINJA_SIP_TRUNK_PASSWORD": "trunk-secret",
                "ANSWER_NINJA_SIP_TRUNK_KEEPALIVE": "1s",
            ])
            try await withPeer(gateway) { gateway in
                try await gateway.process.waitUntilReady(timeout: .seconds(15)) { gateway.process.log().contains("registered") }
                #expect(!gateway.process.log().contains("trunk-secret"), "the password never reaches the log")
                let directory = try PeerEnvironment.artifactsDirectory(named: "sip-trunk-call")
                let callerChirp = AudioCorrelation.chirp(from: 2400, to: 400, seconds: 1.5)
                let callerFile = directory.appendingPathComponent("caller.wav")
                try AudioCorrelation.writeWAV(AudioCorrelation.repeated(callerChirp, times: 3), to: callerFile)
                let phone = try await BaresipPeer.start(user: "caller", audioFile: callerFile.path)
                try await withPeer(phone) { phone in
                    try await phone.dial("sip:demo@127.0.0.1:\(trunk.port)")
                    try await gateway.process.waitUntilReady(timeout: .seconds(15)) { gateway.process.log().contains("call answered") }
                    let answered = gateway.process.log().split(separator: "\n").first { $0.contains("call answered") } ?? ""
                    #expect(answered.contains(#""asserted":"+15550100""#) && answered.contains(#""verstat":"TN-Validation-Passed""#), "\(answered)")
                    #expect(gateway.process.log().contains("trunk reachable"), "the keep-alive OPTIONS were answered")
                    try await Task.sleep(for: .seconds(4))
                    try await phone.hangUp()
                    try await gateway.process.waitUntilReady(timeout: .seconds(15)) { gateway.process.log().contains("call ended") }
                    let file = try #require(try await gateway.recordings().first)
                    let caller = await AudioCorrelation.best(try AudioCorrelation.samples(ofWAV: file, channel: 0), callerChirp)
                    print("through the trunk, we recorded the caller: correlation \(caller)")
                    #expect(caller >= 0.8)
                }
            }
        }
    }

    /// Our softphone (`answer-ninja call`) as the caller of a real softphone, baresip, which answers by itself:
    /// plain RTP, and every SRTP suite we do with baresip (`mediaenc=srtp-mand`) answering our offer of that suite
    /// alone (baresip offers only AES_CM_128_HMAC_SHA1_80 itself); the GCM call also runs Opus. What each side sent
    /// is found in what the other recorded. (Our softphone to our own gateway is below.)
    @Test(
        .enabled(if: PeerEnvironment.available("baresip")), .timeLimit(.minutes(2)),
        arguments: [
            (nil, "pcmu"), ("AEAD_AES_128_GCM", "opus"), ("AEAD_AES_256_GCM", "pcmu"), ("AES_CM_128_HMAC_SHA1_80", "pcmu"),
            ("AES_CM_128_HMAC_SHA1_32", "pcma"),
        ] as [(String?, String)]
    )
    func ourSoftphoneCallsBaresip(suite: String?, codec: String) async throws {
        let directory = try PeerEnvironment.artifactsDirectory(named: "call-tool")
        let ourChirp = AudioCorrelation.chirp(from: 2400, to: 400, seconds: 1.5)
        let ourFile = directory.appendingPathComponent("ours.wav")
        try AudioCorrelation.writeWAV(AudioCorrelation.repeated(ourChirp, times: 3), to: ourFile)
        let theirChirp = AudioCorrelation.chirp(from: 400, to: 2400, seconds: 1.5)
        let theirFile = directory.appendingPathComponent("theirs.wav")
        try AudioCorrelation.writeWAV(AudioCorrelation.repeated(theirChirp, times: 4), to: theirFile)
        let phone = try await BaresipPeer.start(
            user: "callee", audioFile: theirFile.path, mediaEncryption: suite == nil ? nil : "srtp-mand", codec: codec == "opus" ? "opus" : nil
        )
        try await withPeer(phone) { phone in
            let recording = directory.appendingPathComponent("received.wav")
            let security = suite.map { ["--srtp", "--srtp-suite", $0] } ?? []
            let result = try await PeerEnvironment.run(
                try AnswerNinjaProcess.binary(),
                ["call", phone.uri] + security + ["--codec", codec, "--play", ourFile.path, "--record", recording.path, "--duration", "5", "--json"],
                timeout: .seconds(60)
            )
            #expect(result.status == 0, "\(result.output)")
            let report = try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any]
            #expect(report?["answered"] as? Bool == true && report?["hangup_side"] as? String == "local" && report?["status_code"] as? Int == 200)
            #expect((report?["setup_ms"] as? Double).map { $0 > 0 && $0 < 5000 } == true)
            #expect(report?["srtp"] as? String == suite && report?["codec"] as? String == codec, "\(result.output)")
            let heard = await AudioCorrelation.best(try AudioCorrelation.samples(ofWAV: recording), theirChirp)
            try await phone.waitUntilCallsEnded()
            let theyHeard = await AudioCorrelation.best(try AudioCorrelation.samples(ofWAV: try #require(try phone.receivedAudio())), ourChirp)
            print("\(suite ?? "plain RTP") with \(codec): we heard \(heard), baresip heard \(theyHeard)")
            #expect(heard >= 0.8 && theyHeard >= 0.8)
        }
    }

    /// RFC 4733 digits from our softphone (`call --dtmf`): the gateway takes them from RTP (`dtmf_rtp` in `call
    /// ended`), over SRTP; and baresip, a real softphone, reports the same digits.
    @Test(.enabled(if: PeerEnvironment.available("baresip")), .timeLimit(.minutes(1)))
    func dtmfFromOurSoftphoneReachesTheGatewayAndBaresip() async throws {
        let gateway = try await AnswerNinjaProcess.start()
        try await withPeer(gateway) { gateway in
            let sipPort = try #require(gateway.sipPort)
            let result = try await PeerEnvironment.run(
                try AnswerNinjaProcess.binary(), ["call", "sip:demo@127.0.0.1:\(sipPort)", "--srtp", "--dtmf", "1234#*", "--duration", "3", "--json"],
                timeout: .seconds(30)
            )
            #expect(result.status == 0, "\(result.output)")
            #expect(result.output.contains(#""dtmf_sent":"1234#*""#), "\(result.output)")
            try await gateway.process.waitUntilReady(timeout: .seconds(10)) { gateway.process.log().contains("call ended") }
            let ended = gateway.process.log().split(separator: "\n").first { $0.contains("call ended") } ?? ""
            #expect(ended.contains(#""dtmf_rtp":"1234#*""#), "\(ended)")
        }
        let phone = try await BaresipPeer.start(user: "callee")
        try await withPeer(phone) { phone in
            let result = try await PeerEnvironment.run(
                try AnswerNinjaProcess.binary(), ["call", phone.uri, "--dtmf", "159", "--duration", "3", "--json"], timeout: .seconds(30)
            )
            #expect(result.status == 0, "\(result.output)")
            #expect(result.output.contains(#""dtmf_sent":"159""#), "\(result.output)")
            // baresip logs each RFC 4733 event it takes: `received event: '1' (end=0)`, then `(end=1)`.
            let log = phone.process.log()
            for digit in ["1", "5", "9"] {
                #expect(log.contains("received event: '\(digit)' (end=1)"), "baresip received \(digit)")
            }
            #expect(!log.contains("received event: '2'"), "nothing else")
        }
    }

    /// `call --say`: the line, in espeak-ng's voice, reaches the gateway, which records the caller. The reference is
    /// the espeak-ng program's own rendering of the same text (22.05 kHz, brought to 8 kHz), found in the recording.
    /// Bad combinations are refused before anything is dialled.
    @Test(.timeLimit(.minutes(1)))
    func ourSoftphoneSaysALine() async throws {
        let line = "hello this is dana from the dentist office calling about your appointment"
        let directory = try PeerEnvironment.artifactsDirectory(named: "call-say")
        let reference = directory.appendingPathComponent("espeak.wav")
        let espeak = try await PeerEnvironment.run(try PeerEnvironment.require("espeak-ng", package: "espeak-ng"), ["-v", "en-us", "-s", "165", "-w", reference.path, line])
        #expect(espeak.status == 0, "\(espeak.output)")
        var narrow: [Int16] = []
        try Resampler(from: .espeak, to: .narrowband).process(try AudioCorrelation.samples(ofWAV: reference), into: &narrow)
        // A second of speech from its middle: enough to be unique, cheap to search for.
        let middle = narrow.count / 2
        let probe = narrow[max(0, middle - 4000)..<min(narrow.count, middle + 4000)].map { Float($0) / 32768 }

        let gateway = try await AnswerNinjaProcess.start()
        try await withPeer(gateway) { gateway in
            let sipPort = try #require(gateway.sipPort)
            let result = try await PeerEnvironment.run(
                try AnswerNinjaProcess.binary(), ["call", "sip:demo@127.0.0.1:\(sipPort)", "--say", line, "--duration", "6", "--json"], timeout: .seconds(30)
            )
            #expect(result.status == 0, "\(result.output)")
            try await gateway.process.waitUntilReady(timeout: .seconds(10)) { gateway.process.log().contains("call ended") }
            let file = try #require(try await gateway.recordings().first)
            let found = await AudioCorrelation.best(try AudioCorrelation.samples(ofWAV: file, channel: 0), probe)
            print("call --say: the line found in the gateway's recording with correlation \(found)")
            #expect(found >= 0.8)
        }
        for (arguments, code) in [
            (["--say", "   "], "invalid_value"), (["--say", "hi", "--play", reference.path], "invalid_value"), (["--script", "/nonexistent/script.txt"], "unreadable_script"),
        ] {
            let refused = try await PeerEnvironment.run(try AnswerNinjaProcess.binary(), ["call", "sip:demo@127.0.0.1:9", "--json"] + arguments, timeout: .seconds(20))
            #expect(refused.status != 0 && refused.output.contains(#""code":"\#(code)""#), "\(arguments): \(refused.output)")
        }
        let badScript = directory.appendingPathComponent("bad.txt")
        try "> hello\nsing a song\n".write(to: badScript, atomically: true, encoding: .utf8)
        let refused = try await PeerEnvironment.run(try AnswerNinjaProcess.binary(), ["call", "sip:demo@127.0.0.1:9", "--script", badScript.path, "--json"], timeout: .seconds(20))
        #expect(refused.status == 2 && refused.output.contains(#""code":"invalid_script""#) && refused.output.contains("line 2"), "\(refused.output)")
    }

    @Test(.timeLimit(.minutes(1)), arguments: ["udp", "tcp", "tls"])
    func ourSoftphoneCallsTheGatewayWithSRTP(transport: String) async throws {
        let certificates = transport == "tls" ? try await TestCertificates.make() : nil
        let tlsPort = try PeerEnvironment.freePort()
        let gateway = try await AnswerNinjaProcess.start(environment: certificates.map {
            ["ANSWER_NINJA_SIP_TLS_PORT": String(tlsPort), "ANSWER_NINJA_SIP_TLS_CERTIFICATE": $0.serverCertificate, "ANSWER_NINJA_SIP_TLS_PRIVATE_KEY": $0.serverKey]
        } ?? [:])
        try await withPeer(gateway) { gateway in
            let sipPort = try #require(gateway.sipPort)
            let recording = try PeerEnvironment.artifactsDirectory(named: "call-tool-srtp").appendingPathComponent("greeting.wav")
            let target = transport == "tls" ? "sip:demo@127.0.0.1:\(tlsPort)" : "sip:demo@127.0.0.1:\(sipPort)"
            let result = try await PeerEnvironment.run(
                try AnswerNinjaProcess.binary(),
                ["call", target, "--transport", transport, "--record", recording.path, "--duration", "3", "--srtp", "--json"]
                    + (certificates.map { ["--ca", $0.caCertificate] } ?? []),
                timeout: .seconds(30)
            )
            #expect(gateway.process.log().contains(#""transport":"\#(transport)""#), "the call came over \(transport)")
            if certificates != nil {
                // Without the test CA the gateway's certificate is not trusted: no call.
                let untrusted = try await PeerEnvironment.run(
                    try AnswerNinjaProcess.binary(), ["call", target, "--transport", "tls", "--duration", "1", "--json"], timeout: .seconds(30)
                )
                #expect(untrusted.status != 0 && untrusted.output.contains("unreachable"), "\(untrusted.output)")
            }
            #expect(result.status == 0, "\(result.output)")
            let report = try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any]
            #expect(report?["srtp"] as? String == "AEAD_AES_128_GCM", "our first suite, GCM, both ends")
            let greeting = await AudioCorrelation.best(try AudioCorrelation.samples(ofWAV: recording), AudioCorrelation.chirp(from: 400, to: 2400, seconds: 1.5))
            #expect(greeting >= 0.8, "the greeting, through SRTP both ways: \(greeting)")
        }
    }

    /// A lost first ACK (RFC 3261 §13.3.1.4), with SIPp as the caller (Tests/PeerTests/SIPp/lost-first-ack.xml):
    /// it withholds its ACK for two seconds; the gateway resends the 200 meanwhile (at 0.5 s and 1.5 s), the late
    /// ACK is taken, and every call then ends normally.
    @Test(.enabled(if: PeerEnvironment.available("sipp")), .timeLimit(.minutes(1)))
    func aLostFirstAckIsMadeUpForByResendingThe200() async throws {
        let gateway = try await AnswerNinjaProcess.start()
        try await withPeer(gateway) { gateway in
            let sipPort = try #require(gateway.sipPort)
            let scenario = AnswerNinjaProcess.packageRootFromSource() + "/Tests/PeerTests/SIPp/lost-first-ack.xml"
            let result = try await PeerEnvironment.run(
                try PeerEnvironment.require("sipp", package: "sip-tester"),
                ["-sf", scenario, "-s", "demo", "127.0.0.1:\(sipPort)", "-i", "127.0.0.1", "-p", String(try PeerEnvironment.freePort()),
                 "-m", "3", "-r", "3", "-nostdin", "-timeout", "30s", "-timeout_error"],
                timeout: .seconds(45)
            )
            #expect(result.status == 0, "SIPp: \(result.output.suffix(1500))")
            // The 200's line on SIPp's final screen: messages, then retransmissions.
            let line = result.output.split(separator: "\n").last { $0.contains("200 <----------") && $0.contains("E-RTD1") } ?? ""
            let counts = line.split(separator: " ").drop { $0 != "E-RTD1" }.dropFirst().compactMap { Int($0) }
            #expect(counts.count >= 2 && counts[0] == 3 && counts[1] >= 3, "every call saw its 200 again: \(line)")
            try await gateway.process.waitUntilReady(timeout: .seconds(10)) {
                gateway.process.log().components(separatedBy: "hangup_side").count - 1 == 3
            }
        }
    }

    /// tshark reads a whole call between our softphone and our gateway (SIP, RTP and RTCP, found by heuristics),
    /// finds a sender report from each side, and no malformed packet and no warning.
    @Test(.enabled(if: PeerEnvironment.available("tshark")), .timeLimit(.minutes(1)))
    func tsharkFindsNothingMalformedInOurTraffic() async throws {
        let gateway = try await AnswerNinjaProcess.start()
        try await withPeer(gateway) { gateway in
            let sipPort = try #require(gateway.sipPort)
            let capture = try await TsharkCapture.start(filter: "udp port \(sipPort) or udp portrange 20000-39999")
            try await withPeer(capture) { capture in
                try await capture.warmUp(port: sipPort)
                let result = try await PeerEnvironment.run(
                    try AnswerNinjaProcess.binary(), ["call", "sip:demo@127.0.0.1:\(sipPort)", "--duration", "2", "--json"], timeout: .seconds(30)
                )
                #expect(result.status == 0, "\(result.output)")
                try await Task.sleep(for: .milliseconds(500))
                await capture.stop()
                let sip = try await capture.fields(["sip.CSeq"], displayFilter: "sip")
                let rtp = try await capture.fields(["rtp.seq"], displayFilter: "rtp")
                #expect(sip.count >= 6, "INVITE, 100, 200, ACK, BYE, 200: \(sip)")
                #expect(rtp.count >= 150, "two seconds of RTP both ways, got \(rtp.count) packets")
                let reports = try await capture.fields(
                    ["rtcp.senderssrc"], displayFilter: "rtcp.pt == 200", preferences: ["rtp.heuristic_rtp:TRUE", "rtcp.heuristic_rtcp:TRUE"]
                )
                #expect(Set(reports).count >= 2, "a sender report from each side (RTCP muxed on the RTP port): \(reports)")
                let executable = try PeerEnvironment.require("tshark", package: "tshark")
                let problems = try await PeerEnvironment.run(executable, [
                    "-r", capture.file.path, "-o", "rtp.heuristic_rtp:TRUE", "-Y", "(_ws.malformed || _ws.expert.severity >= warning) && !(udp.length == 15)",
                ])
                let lines = problems.output.split(separator: "\n").filter { !$0.hasPrefix("Running as user") }
                #expect(problems.status == 0 && lines.isEmpty, "malformed or suspicious packets: \(lines.prefix(5))")
            }
        }
    }

    /// sipvicious (PyPI) scans the gateway and finds nothing: scanners are dropped without a reply. A flood of
    /// OPTIONS from 127.0.0.2 gets that source dropped silently (a 503 would amplify it), while 127.0.0.1 is still
    /// answered and its calls still complete.
    @Test(.enabled(if: PeerEnvironment.available("sipvicious_svmap", extra: [AnswerNinjaProcess.packageRootFromSource() + "/.venv/bin"])), .timeLimit(.minutes(1)))
    func scannersFindNothingAndAFloodIsDroppedWhileOthersGoOn() async throws {
        let gateway = try await AnswerNinjaProcess.start()
        try await withPeer(gateway) { gateway in
            let sipPort = try #require(gateway.sipPort)
            let svmap = try PeerEnvironment.require("sipvicious_svmap", package: "sipvicious (PyPI, tools/setup)", extra: [AnswerNinjaProcess.packageRootFromSource() + "/.venv/bin"])
            let scan = try await PeerEnvironment.run(svmap, ["127.0.0.1", "-p", String(sipPort)], timeout: .seconds(30))
            #expect(scan.output.contains("found nothing"), "svmap: \(scan.output.suffix(500))")
            #expect(gateway.process.log().contains("scanner at 127.0.0.1 ignored"))

            try UDPProbe.send(port: sipPort, payload: Array(UDPProbe.options(to: sipPort, user: "demo").utf8), count: 2000, sourceHost: 2)
            try await gateway.process.waitUntilReady(timeout: .seconds(10)) { gateway.process.log().contains("flood from 127.0.0.2") }
            let flooder = try await UDPProbe.request(port: sipPort, payload: UDPProbe.options(to: sipPort, user: "demo"), timeout: .seconds(1), sourceHost: 2)
            #expect(flooder == nil, "the flooding source gets no reply")
            let other = try await UDPProbe.request(port: sipPort, payload: UDPProbe.options(to: sipPort, user: "demo"), timeout: .seconds(2))
            #expect(other?.hasPrefix("SIP/2.0 200") == true, "another source is still answered")
            let call = try await PeerEnvironment.run(try AnswerNinjaProcess.binary(), ["call", "sip:demo@127.0.0.1:\(sipPort)", "--duration", "1", "--json"], timeout: .seconds(30))
            #expect(call.status == 0 && call.output.contains("\"answered\":true"), "calls from other sources still complete: \(call.output)")
        }
    }
}

