import AnswerNinjaCore
import Codecs
import Foundation
import MediaDSP
import MediaTransport
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import SDP
import SIPAuth
import SIPDialogs
import SIPMessages
import SIPTransactions
import SIPTransport
import SRTP

/// `answer-ninja call`: a softphone in one command, on our own SIP and media stack. It calls a SIP URI over UDP, TCP
/// or TLS (the URI's `transport` parameter or `transport`; TLS checks the server against `caFile`),
/// offers G.711 (with SDES SRTP if asked), plays a file paced at 20 ms, records what comes back, and hangs up after
/// `duration` unless the far end does first. It reports whether and how fast the call was answered.
public actor SIPCallClient {
    public struct Options: Sendable {
        public var target: String
        public var play: [Int16]
        public var duration: Duration
        public var srtp: Bool
        public var rtpPorts: ClosedRange<Int>
        /// `udp`, `tcp` or `tls`; nil: the URI's `transport` parameter, else UDP.
        public var transport: String?
        /// PEM file of the CA that signs the server's certificate, for TLS (the system's trust store otherwise).
        public var caFile: String?
        /// `pcmu`, `pcma` or `opus`: offer that codec alone; nil: PCMU, PCMA and Opus.
        public var codec: String?
        /// With `srtp`, the one suite to offer (as SDES names it); nil: every suite we do, GCM first.
        public var srtpSuite: String?
        /// Digits to send as RFC 4733 events once the call is answered.
        public var dtmf: String
        /// The user part of our From (a caller number such as +15551230001, or a name).
        public var from: String
        /// The digest password of `from`, for a 401 or 407 (a gateway or PBX that authenticates its devices).
        public var password: String?
        /// A scripted caller in place of `play`: each step once the other side's turn has ended (`ScriptedTurns`);
        /// the call is hung up after the reply to the last step, or after `duration`.
        public var script: CallScript?

        public init(
            target: String, play: [Int16], duration: Duration, srtp: Bool, rtpPorts: ClosedRange<Int> = 30000...39999, transport: String? = nil,
            caFile: String? = nil, codec: String? = nil, srtpSuite: String? = nil, dtmf: String = "", from: String = "answer-ninja",
            script: CallScript? = nil, password: String? = nil
        ) {
            self.script = script
            self.password = password
            self.dtmf = dtmf
            self.from = from
            self.codec = codec
            self.srtpSuite = srtpSuite
            self.target = target
            self.play = play
            self.duration = duration
            self.srtp = srtp
            self.rtpPorts = rtpPorts
            self.transport = transport
            self.caFile = caFile
        }
    }

    public struct Report: Codable, Sendable, CommandOutput {
        public var answered: Bool
        public var statusCode: Int?
        public var reason: String?
        /// INVITE sent → 2xx received, at our socket.
        public var setupMs: Double?
        /// `local` (we hung up), `remote` (they did), nil when never answered.
        public var hangupSide: String?
        public var codec: String?
        public var srtp: String?
        public var packetsSent: Int
        public var packetsReceived: Int
        public var recordedSeconds: Double
        /// Digits sent, and received, as RFC 4733 events.
        public var dtmfSent: String?
        public var dtmfReceived: String?
        /// With `--play`: per utterance played, milliseconds from its end to the first reply heard above −40 dBFS
        /// (null: no reply before the next utterance); `VoiceToVoice`.
        public var voiceToVoiceMs: [Double?]?
        /// With a script: each step taken, in order.
        public var turns: [ScriptTurn]?
        /// Early media: milliseconds from a provisional response with SDP (183) to the answer, during which what the
        /// far end sent was played (and recorded, at the start of `--record`); nil when none came.
        public var earlyMediaMs: Double?
        /// Re-INVITEs with an offer the far end sent in the call, answered (it moved its media, held or resumed); nil
        /// when none came.
        public var reoffers: Int?

        public var humanReadable: String {
            guard answered else { return "not answered: \(statusCode.map(String.init) ?? "no response") \(reason ?? "")" }
            var text = String(format: "answered in %.1f ms (%@%@), hung up by the %@ side; %d packets sent, %d received, %.1f s recorded",
                              setupMs ?? 0, codec ?? "?", srtp.map { ", " + $0 } ?? "", hangupSide ?? "?", packetsSent, packetsReceived, recordedSeconds)
            for turn in turns ?? [] {
                let reply = turn.voiceToVoiceMs.map { String(format: ", reply after %.0f ms", $0) } ?? ""
                text += String(format: "\n  %7.2f s %@ %@%@", turn.startMs / 1000, turn.step, turn.text, reply)
            }
            return text
        }
    }

    /// One step of a script as it went: when it started and ended (milliseconds from the answer), and its reply.
    public struct ScriptTurn: Codable, Sendable, Equatable {
        /// `say`, `dtmf` or `wait`.
        public var step: String
        public var text: String
        public var startMs: Double
        public var endMs: Double?
        /// From the end of the step to the first frame heard above −40 dBFS, before the next step (nil: none).
        public var voiceToVoiceMs: Double?
    }

    private let options: Options
    private let group: any EventLoopGroup
    /// How our SIP leaves: a UDP socket and the target's address, or a TCP/TLS connection to it.
    private enum Link {
        case udp(SIPUDPTransport, SocketAddress)
        case stream(SIPTCPConnection)
    }

    private var link: Link?
    private var session: RTPCallSession?
    private let pool: RTPPortPool
    private var offer: SDPOfferer.Offer?
    /// What we answer a re-offer with (the codecs and SRTP of our offer), and the version of our SDP so far.
    private var capabilities: MediaCapabilities?
    private var sdpVersion: UInt64 = 0
    /// Our last answer to a re-offer (its keys and session carry over to the next), and the 200s of re-INVITEs by
    /// CSeq: a retransmitted re-INVITE gets the same 200, which is resent until its ACK (RFC 3261 §13.3.1.4).
    private var lastNegotiation: SDPAnswerer.Negotiation?
    private var reofferAnswers: [String: SIPResponse] = [:]
    private var invite: SIPRequest?
    /// Our INVITE answered a challenge already: a second one is a refusal.
    private var challenged = false
    private var transactions: [SIPTransactionKey: SIPClientTransaction] = [:]
    private var dialog: SIPDialog?
    private var destination: SocketAddress?
    /// The address we write in Via and Contact.
    private var advertisedHost = "127.0.0.1"
    private var started = ContinuousClock.now
    /// The SDP of a provisional response that started early media, and when.
    private var early: (sdp: String, at: ContinuousClock.Instant)?
    private var report = Report(answered: false, packetsSent: 0, packetsReceived: 0, recordedSeconds: 0)
    private var recorded: [Int16] = []
    private var finished: CheckedContinuation<Void, Never>?
    private var done = false
    private var timers: [String: Task<Void, Never>] = [:]
    /// A script's turn-taking, fed on the session's event loop.
    private var scriptTurns: NIOLockedValueBox<ScriptedTurns>?

    /// `pool`: RTP ports shared with other clients of this process (many calls at once, as `bench calls` places
    /// them); nil: a pool of its own over `options.rtpPorts`, which other clients would pick the same ports from.
    public init(options: Options, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, pool: RTPPortPool? = nil) {
        self.options = options
        self.group = group
        self.pool = pool ?? RTPPortPool(range: options.rtpPorts, quarantine: .zero, spread: true)
    }

    /// Places the call and waits until it is over; returns the report and the recorded audio (8 kHz).
    public func run() async throws -> (Report, [Int16]) {
        guard let uri = try? SIPURI(parsing: options.target[...]) else { throw CoreError.invalidValue("\(options.target) is not a sip: URI") }
        guard let host = uri.host.ipAddress else {
            throw CoreError.invalidValue("call needs an IP address in the URI for now (RFC 3263 lookups come later)")
        }
        let transportName = (options.transport ?? (uri.parameters["transport"] ?? nil) ?? "udp").lowercased()
        guard ["udp", "tcp", "tls"].contains(transportName) else { throw CoreError.invalidValue("transport must be udp, tcp or tls, not \(transportName)") }
        let remote = try SocketAddress(ipAddress: host, port: uri.port ?? (transportName == "tls" ? 5061 : 5060))
        destination = remote
        let localHost = host.hasPrefix("127.") || host == "::1" ? host : "0.0.0.0"
        if transportName == "udp" {
            let transport = try await SIPUDPTransport.bind(host: localHost, port: 0, group: group) { [weak self] incoming in
                guard let self else { return }
                Task { await self.receive(incoming) }
            }
            link = .udp(transport, remote)
        } else {
            var tls: NIOSSLContext?
            if transportName == "tls" {
                var configuration = TLSConfiguration.makeClientConfiguration()
                if let caFile = options.caFile { configuration.trustRoots = .file(caFile) }
                tls = try NIOSSLContext(configuration: configuration)
            }
            let connection = try await SIPTCPConnection.connect(to: remote, group: group, tls: tls, serverHostname: nil) { [weak self] message in
                guard let self else { return }
                Task { await self.receive(SIPIncoming(message: message, flow: .udp(remote))) }
            }
            link = .stream(connection)
        }
        let now = MediaInstant(.now())
        let session = try await RTPCallSession.open(pool: pool, host: localHost, group: group, now: now)
        self.session = session
        let advertised = localHost == "0.0.0.0" ? "127.0.0.1" : localHost
        advertisedHost = advertised
        let codecs = options.codec.flatMap { MediaCapabilities.Codec(rawValue: $0.lowercased()) }.map { [$0] } ?? [.pcmu, .pcma, .opus]
        var capabilities = MediaCapabilities(codecs: codecs, srtp: options.srtp ? .mandatory : .off)
        if let suite = options.srtpSuite.flatMap({ SRTPCryptoSuite(rawValue: $0.uppercased()) }) { capabilities.suites = [suite] }
        let offerer = SDPOfferer(capabilities: capabilities, localAddress: advertised)
        let offer = offerer.offer(localPort: session.localPort)
        self.offer = offer
        self.capabilities = capabilities
        sdpVersion = offer.description.origin.sessionVersion
        let localPort = localSIPPort
        var headers = SIPHeaders()
        headers.add("Via", SIPVia.outgoing(transport: linkTransport, host: advertised, port: localPort).serialized)
        headers.add("Max-Forwards", "70")
        headers.add("From", "<sip:\(options.from)@\(advertised)>;tag=\(SIPToken.random())")
        headers.add("To", "<\(uri.serialized)>")
        headers.add("Call-ID", SIPToken.random() + "@" + advertised)
        headers.add("CSeq", "1 INVITE")
        headers.add("Contact", "<sip:answer-ninja@\(advertised):\(localPort)\(linkTransport == "UDP" ? "" : ";transport=" + linkTransport.lowercased())>")
        headers.add("Content-Type", "application/sdp")
        let request = SIPRequest(method: "INVITE", uri: .sip(uri), headers: headers, body: ByteBuffer(string: offer.description.serialized))
        invite = request
        started = .now
        start(SIPClientTransaction(request: request, reliable: linkTransport != "UDP"))
        schedule("give-up", after: .seconds(60)) { client in await client.finish(reason: "gave up waiting") }
        await withCheckedContinuation { continuation in
            if done { continuation.resume() } else { finished = continuation }
        }
        if let session = self.session {
            let media = await session.stop(pool: pool, now: MediaInstant(.now()))
            report.packetsSent = media.packetsSent
            report.packetsReceived = media.packetsReceived
            report.dtmfReceived = media.digits
            recorded = media.recorded
            report.recordedSeconds = Double(recorded.count) / 8000
        }
        if let script = options.script, let scriptTurns {
            let taken = scriptTurns.withLockedValue { $0.turns }
            report.turns = zip(script.steps, taken).map { step, turn in
                ScriptTurn(step: step.name, text: step.text, startMs: Double(turn.startFrame) * 20, endMs: turn.endFrame.map { Double($0) * 20 },
                           voiceToVoiceMs: turn.voiceToVoiceMs)
            }
            report.voiceToVoiceMs = zip(script.steps, taken).compactMap { step, turn in step.isWait ? nil : .some(turn.voiceToVoiceMs) }
        }
        for task in timers.values { task.cancel() }
        switch link {
        case .udp(let transport, _): await transport.close()
        case .stream(let connection): await connection.close()
        case nil: break
        }
        return (report, recorded)
    }

    // MARK: Messages

    private func receive(_ incoming: SIPIncoming) async {
        switch incoming.message {
        case .response(let response):
            guard let key = SIPTransactionKey.client(response), var transaction = transactions[key] else {
                // A retransmitted 2xx after its transaction ended: ACK it again (RFC 3261 §13.2.2.4).
                if response.statusCode >= 200 && response.statusCode < 300, response.headers.first("CSeq")?.hasSuffix("INVITE") == true { sendACK() }
                return
            }
            let actions = transaction.receive(response)
            transactions[key] = transaction
            await perform(actions, key: key)
        case .request(let request):
            await answerRequest(request, from: incoming.flow)
        }
    }

    private func answerRequest(_ request: SIPRequest, from source: SIPFlow) async {
        if request.method == "ACK" {
            // The ACK of a re-INVITE's 200: its resends stop.
            if let cseq = request.headers.cseq { timers.removeValue(forKey: "reoffer|\(cseq.sequence)")?.cancel() }
            return
        }
        var response = SIPServerTransaction.response(to: request, statusCode: 200, reasonPhrase: "OK")
        if request.method == "BYE", dialog != nil {
            send(.response(response))
            report.hangupSide = "remote"
            finish(reason: nil)
            return
        }
        if request.method == "INVITE", dialog != nil, request.body.readableBytes > 0, let cseq = request.headers.cseq {
            if let answered = reofferAnswers["\(cseq.sequence)"] {
                send(.response(answered))  // a retransmission: the same answer, negotiated once
                return
            }
            let response = await reoffered(request)
            send(.response(response))
            guard response.statusCode == 200 else { return }
            reofferAnswers["\(cseq.sequence)"] = response
            resendUntilACK(response, sequence: cseq.sequence)
            return
        }
        if request.method != "OPTIONS" && request.method != "INFO" {
            response = SIPServerTransaction.response(to: request, statusCode: 481, reasonPhrase: "Call/Transaction Does Not Exist")
        }
        send(.response(response))
    }

    /// Resends a re-INVITE's 200 at T1, then doubling up to T2 (4 s), until its ACK; at most 10 times (RFC 3261
    /// §13.3.1.4).
    private func resendUntilACK(_ response: SIPResponse, sequence: UInt32, attempt: Int = 0) {
        guard attempt < 10 else { return }
        schedule("reoffer|\(sequence)", after: .milliseconds(min(500 << attempt, 4000))) { client in
            await client.send(.response(response))
            await client.resendUntilACK(response, sequence: sequence, attempt: attempt + 1)
        }
    }

    /// A re-INVITE with an offer in our call (the far end moves its media, holds, resumes): answered from our port,
    /// our SDP's session one version on (RFC 3264 §8), and the session sent to where the offer says.
    private func reoffered(_ request: SIPRequest) async -> SIPResponse {
        guard let session, let capabilities, let offer else {
            return SIPServerTransaction.response(to: request, statusCode: 481, reasonPhrase: "Call/Transaction Does Not Exist")
        }
        do {
            let reoffer = try SessionDescription(parsing: String(decoding: request.body.readableBytesView, as: UTF8.self))
            var negotiation = try SDPAnswerer(capabilities: capabilities, localAddress: advertisedHost).answer(reoffer, localPort: session.localPort, previous: lastNegotiation)
            sdpVersion += 1
            negotiation.answer.origin = offer.description.origin
            negotiation.answer.origin.sessionVersion = sdpVersion
            lastNegotiation = negotiation
            let audio = negotiation.audio
            try await session.prepare(for: audio, remote: try SocketAddress(ipAddress: audio.remoteAddress, port: audio.remotePort))
            var response = SIPServerTransaction.response(to: request, statusCode: 200, reasonPhrase: "OK")
            response.headers.add("Contact", "<sip:answer-ninja@\(advertisedHost):\(localSIPPort)\(linkTransport == "UDP" ? "" : ";transport=" + linkTransport.lowercased())>")
            response.headers.add("Content-Type", "application/sdp")
            response.body = ByteBuffer(string: negotiation.answer.serialized)
            report.reoffers = (report.reoffers ?? 0) + 1
            return response
        } catch {
            return SIPServerTransaction.response(to: request, statusCode: 488, reasonPhrase: "Not Acceptable Here")
        }
    }

    private func perform(_ actions: [SIPTransactionAction], key: SIPTransactionKey) async {
        for action in actions {
            switch action {
            case .send(let message): send(message)
            case .startTimer(let timer, let duration):
                schedule("\(key)|\(timer.rawValue)", after: duration) { client in await client.timerFired(key, timer) }
            case .cancelTimer(let timer): timers.removeValue(forKey: "\(key)|\(timer.rawValue)")?.cancel()
            case .deliver(.response(let response)): await delivered(response)
            case .timedOut: if !report.answered { finish(reason: "no final response (timer B)") } else { finish(reason: nil) }
            case .terminated: transactions[key] = nil
            case .deliver, .ackNotReceived: break
            }
        }
    }

    private func delivered(_ response: SIPResponse) async {
        let method = response.headers.cseq?.method
        if method == "BYE", response.statusCode >= 200 {
            finish(reason: nil)
            return
        }
        if method == "INVITE", response.statusCode > 100, response.statusCode < 200, response.body.readableBytes > 0 {
            await earlyMedia(response)
            return
        }
        guard method == "INVITE", response.statusCode >= 200 else { return }
        if response.statusCode == 401 || response.statusCode == 407, !challenged, dialog == nil, authenticate(response) { return }
        report.statusCode = response.statusCode
        guard response.statusCode < 300 else {
            report.reason = response.reasonPhrase
            finish(reason: response.reasonPhrase)
            return
        }
        // A retransmitted 2xx (our ACK was lost): ACK it again (RFC 3261 §13.2.2.4).
        if dialog != nil {
            sendACK()
            return
        }
        guard let invite, let offer, let session else { return }
        // Answered: from here `duration` (or the far end, or the script) ends the call.
        timers.removeValue(forKey: "give-up")?.cancel()
        let elapsed = ContinuousClock.now - started
        report.setupMs = elapsed.milliseconds
        do {
            dialog = try SIPDialog(uac: invite, response: response)
            sendACK()
            let answer = try SessionDescription(parsing: String(decoding: response.body.readableBytesView, as: UTF8.self))
            let audio = try SDPOfferer(localAddress: "127.0.0.1").accept(answer, for: offer)
            let remote = try SocketAddress(ipAddress: audio.remoteAddress, port: audio.remotePort)
            // Early media on the same SDP: its session goes on as it is.
            if let early {
                report.earlyMediaMs = (ContinuousClock.now - early.at).milliseconds
            }
            if early?.sdp != String(decoding: response.body.readableBytesView, as: UTF8.self) { try await session.prepare(for: audio, remote: remote) }
            if let script = options.script {
                follow(script, on: session)
                if script.digits.isEmpty == false { report.dtmfSent = audio.telephoneEventPayloadType != nil ? script.digits : "" }
            }
            session.start(playing: options.play)
            if !options.dtmf.isEmpty {
                if audio.telephoneEventPayloadType != nil {
                    session.send(digits: options.dtmf)
                    report.dtmfSent = options.dtmf
                } else {
                    report.dtmfSent = ""  // the far end did not agree to telephone-event
                }
            }
            report.answered = true
            report.codec = audio.codec.rawValue
            report.srtp = audio.keys?.suite.rawValue
            schedule("hang-up", after: options.duration) { client in await client.hangUp() }
        } catch {
            report.reason = "the answer could not be used: \(error)"
            // Without a dialog there is nothing to hang up: the call is over here (the give-up timer is gone).
            if dialog == nil { finish(reason: report.reason) } else { hangUp() }
        }
    }

    /// A provisional response with SDP before the answer (early media): the session starts on it, playing nothing of
    /// ours yet, and records what the far end plays. One that cannot be used is ignored.
    private func earlyMedia(_ response: SIPResponse) async {
        guard early == nil, dialog == nil, let offer, let session else { return }
        let sdp = String(decoding: response.body.readableBytesView, as: UTF8.self)
        do {
            let audio = try SDPOfferer(localAddress: "127.0.0.1").accept(try SessionDescription(parsing: sdp), for: offer)
            try await session.prepare(for: audio, remote: try SocketAddress(ipAddress: audio.remoteAddress, port: audio.remotePort))
            early = (sdp, .now)
            session.start(playing: [])
        } catch {
            // Not usable as early media: the answer will say how the call goes.
        }
    }

    /// Takes the script's steps as `ScriptedTurns` says, on the session's loop (each heard frame), and hangs up
    /// after the last one's reply.
    private func follow(_ script: CallScript, on session: RTPCallSession) {
        let turns = NIOLockedValueBox(ScriptedTurns(steps: script.steps.map(\.turnStep), gapMs: script.gapMs, patienceMs: script.patienceMs))
        scriptTurns = turns
        session.listen { [weak self] heard in
            switch turns.withLockedValue({ $0.process(heard: heard.samples[...], speaking: heard.speaking) }) {
            case .start(let index):
                switch script.steps[index] {
                case .say(_, let audio): session.enqueue(audio)
                case .dtmf(let digits): session.send(digits: digits)
                case .wait: break
                }
            case .hangUp:
                Task { await self?.hangUp() }
            case nil:
                break
            }
        }
    }

    /// The INVITE again with digest credentials for the challenge in `response` (CSeq one higher, a new branch);
    /// false without a password or a challenge we can read.
    private func authenticate(_ response: SIPResponse) -> Bool {
        guard let password = options.password, let invite else { return false }
        var digest = DigestClient(username: options.from, password: password)
        let via = SIPVia.outgoing(transport: linkTransport, host: advertisedHost, port: localSIPPort)
        guard let retry = digest.authorize(invite, answering: response, via: via) else { return false }
        self.invite = retry
        challenged = true
        start(SIPClientTransaction(request: retry, reliable: linkTransport != "UDP"))
        return true
    }

    private func sendACK() {
        guard var dialog, link != nil else { return }
        let via = SIPVia.outgoing(transport: linkTransport, host: advertisedHost, port: localSIPPort)
        let ack = dialog.makeRequest(method: "ACK", via: via, contact: "", sequence: invite?.headers.cseq?.sequence ?? 1)
        self.dialog = dialog
        send(.request(ack))
    }

    private func hangUp() {
        guard var dialog, link != nil, report.hangupSide == nil else { return }
        report.hangupSide = "local"
        let via = SIPVia.outgoing(transport: linkTransport, host: advertisedHost, port: localSIPPort)
        let bye = dialog.makeRequest(method: "BYE", via: via, contact: "")
        self.dialog = dialog
        start(SIPClientTransaction(request: bye, reliable: linkTransport != "UDP"))
        schedule("bye-timeout", after: .seconds(5)) { client in await client.finish(reason: nil) }
    }

    /// Sends on the link: to the target over UDP (answers to its requests go there too: it is the only peer), or
    /// over the connection.
    private func send(_ message: SIPMessage) {
        switch link {
        case .udp(let transport, let destination): transport.send(message, to: destination)
        case .stream(let connection): connection.send(message)
        case nil: break
        }
    }

    private var linkTransport: String {
        switch link {
        case .stream(let connection): connection.secure ? "TLS" : "TCP"
        default: "UDP"
        }
    }

    private var localSIPPort: Int {
        switch link {
        case .udp(let transport, _): transport.localAddress.port ?? 0
        case .stream(let connection): connection.localAddress.port ?? 0
        case nil: 0
        }
    }

    private func start(_ transaction: SIPClientTransaction) {
        guard let key = SIPTransactionKey.client(transaction.request) else { return }
        transactions[key] = transaction
        let actions = transaction.start()
        Task { await perform(actions, key: key) }
    }

    private func timerFired(_ key: SIPTransactionKey, _ timer: SIPTimer) async {
        guard var transaction = transactions[key] else { return }
        let actions = transaction.timerFired(timer)
        transactions[key] = transaction
        await perform(actions, key: key)
    }

    private func finish(reason: String?) {
        guard !done else { return }
        done = true
        if report.reason == nil { report.reason = reason }
        finished?.resume()
        finished = nil
    }

    private func schedule(_ name: String, after duration: Duration, _ body: @escaping @Sendable (SIPCallClient) async -> Void) {
        timers[name]?.cancel()
        timers[name] = Task { [weak self] in
            try? await Task.sleep(for: duration)
            guard !Task.isCancelled, let self else { return }
            await body(self)
        }
    }

}
