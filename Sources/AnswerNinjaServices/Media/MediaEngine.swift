import AnswerNinjaCore
import Foundation
import Logging
import MediaTransport
import NIOCore
import SDP
import SRTP
import Speech

/// The media role's sessions, as `MediaControlServer` drives them for gateways in other processes: each `offer` of
/// a `terminate` leg opens an RTP session from the role's port range and answers the caller's SDP (addresses, ports,
/// codec and SRTP keys are written here; the gateway never builds them); `startConversation` puts the assistant on
/// it (speech recognition and synthesis run here, the dialog in the conversation role); its requests to hang up or
/// take over, and its turns, go back as events, to the gateway that keeps the call's record.
///
/// Bridged (`relay`) legs are not served here yet: a gateway bridges wanted callers with media of its own.
actor MediaEngine: MediaSessionProvider {
    struct Settings: Sendable {
        /// Where RTP sockets bind.
        var host: String
        /// What our SDP names (`media.public_address`, else the bind address).
        var advertisedHost: String
        var capabilities: MediaCapabilities
        var recordings: URL

        /// As the configuration says, with SDP naming `advertisedHost` (`media.public_address` when set).
        init(configuration: NinjaConfiguration, advertisedHost: String) {
            host = configuration.sip.host
            self.advertisedHost = configuration.media.publicAddress ?? advertisedHost
            capabilities = MediaCapabilities(
                codecs: configuration.media.codecs.compactMap(MediaCapabilities.Codec.init(rawValue:)),
                suites: configuration.media.srtpSuites.compactMap(SRTPCryptoSuite.init(rawValue:))
            )
            recordings = URL(fileURLWithPath: configuration.dataDirectory).appendingPathComponent("recordings")
        }
    }

    nonisolated let events: AsyncStream<MediaControlMessage.Event>
    private let sink: AsyncStream<MediaControlMessage.Event>.Continuation
    private let settings: Settings
    private let pool: RTPPortPool
    private let group: any EventLoopGroup
    private let answerer: SDPAnswerer
    /// The assistant's engines; nil in the greeting mode.
    private let loader: AssistantLoader?
    private let writer: RecordingWriter
    private let metrics: GatewayMetrics
    private let logger: Logger

    /// One call leg: its RTP session and what offer/answer agreed.
    private struct Leg {
        var session: RTPCallSession
        var negotiation: SDPAnswerer.Negotiation
        var started = false
        var assistant: AssistantCall?
        var recording: RecordingStream?
    }

    private var legs: [CallID: Leg] = [:]
    /// Offers whose port is still opening: a repeated offer for the same call waits for the first.
    private var opening: [CallID: Task<MediaSessionDescription, any Error>] = [:]

    init(settings: Settings, pool: RTPPortPool, group: any EventLoopGroup, loader: AssistantLoader?, metrics: GatewayMetrics, logger: Logger) {
        self.settings = settings
        self.pool = pool
        self.group = group
        self.loader = loader
        self.metrics = metrics
        self.logger = logger
        answerer = SDPAnswerer(capabilities: settings.capabilities, localAddress: settings.advertisedHost)
        writer = RecordingWriter(directory: settings.recordings)
        (events, sink) = AsyncStream.makeStream(of: MediaControlMessage.Event.self)
    }

    /// Sessions open now.
    var sessionCount: Int { legs.count }

    /// Releases every session (shutdown).
    func shutdown() async {
        for callId in Array(legs.keys) { _ = try? await release(.init(requestId: "shutdown-\(callId)", callId: callId, reason: .shutdown)) }
        sink.finish()
        await writer.shutdown()
    }

    // MARK: MediaSessionProvider

    func offer(_ offer: MediaControlMessage.Offer) async throws -> MediaSessionDescription {
        guard offer.mode == .terminate else {
            throw MediaTransportError.refused(code: "not_supported", message: "relay legs are not served by a separate media role yet: the gateway bridges them itself")
        }
        if let leg = legs[offer.callId] { return MediaSessionDescription(sdp: leg.negotiation.answer.serialized) }
        if let pending = opening[offer.callId] { return try await pending.value }
        let task = Task { try await self.open(offer) }
        opening[offer.callId] = task
        defer { opening[offer.callId] = nil }
        return try await task.value
    }

    private func open(_ offer: MediaControlMessage.Offer) async throws -> MediaSessionDescription {
        let description: SessionDescription
        do {
            description = try SessionDescription(parsing: offer.sdp)
        } catch {
            throw MediaTransportError.refused(code: "bad_sdp", message: error.message)
        }
        guard let audio = description.media.first(where: { $0.type == "audio" && $0.port != 0 }), let address = (audio.connection ?? description.connection)?.address,
              let remote = try? SocketAddress(ipAddress: address, port: audio.port)
        else {
            throw MediaTransportError.refused(code: "not_acceptable", message: "no audio stream in the offer")
        }
        var negotiation: SDPAnswerer.Negotiation
        do {
            negotiation = try answerer.answer(description, localPort: 0)
        } catch {
            throw Self.refusal(error)
        }
        let session: RTPCallSession
        do {
            session = try await RTPCallSession.open(pool: pool, host: settings.host, group: group, now: Self.now())
        } catch {
            throw MediaTransportError.refused(code: "no_port", message: "no RTP port free: \(error)")
        }
        do {
            try await session.prepare(for: negotiation.audio, remote: remote)
        } catch {
            _ = await session.stop(pool: pool, now: Self.now())
            throw MediaTransportError.refused(code: "not_acceptable", message: "the codec could not start: \(error)")
        }
        negotiation.setLocalPort(session.localPort)
        legs[offer.callId] = Leg(session: session, negotiation: negotiation)
        metrics.portsInUse(pool.inUseCount)
        metrics.watchPacing(session)
        logger.info("media session opened", metadata: [
            "media_call_id": "\(offer.callId)", "codec": "\(negotiation.audio.codec.rawValue)", "srtp": "\(negotiation.audio.keys?.suite.rawValue ?? "none")",
            "rtp_port": "\(session.localPort)", "remote": "\(remote)",
        ])
        return MediaSessionDescription(sdp: negotiation.answer.serialized)
    }

    /// Not needed for `terminate` legs, the only ones served here.
    func answer(_ answer: MediaControlMessage.Answer) async throws -> MediaSessionDescription {
        throw MediaTransportError.refused(code: "not_supported", message: "relay legs are not served by a separate media role yet")
    }

    /// A re-offer (hold, resume, a session refresh, a far end that moved): answered from the same port and keys, the
    /// version raised; the session follows a far end that moved or changed codec or keys.
    func update(_ offer: MediaControlMessage.Offer) async throws -> MediaSessionDescription {
        guard let leg = legs[offer.callId] else { throw MediaTransportError.refused(code: "no_session", message: "no session for call \(offer.callId)") }
        var negotiation: SDPAnswerer.Negotiation
        do {
            negotiation = try answerer.answer(try SessionDescription(parsing: offer.sdp), localPort: leg.session.localPort, previous: leg.negotiation)
        } catch {
            throw Self.refusal(error)
        }
        // A far end that moved, or changed codec or keys: the session follows it before the answer goes back (the
        // gateway sends one re-offer of a call at a time).
        let followed: Bool
        do {
            followed = try await leg.session.follow(from: leg.negotiation.audio, to: negotiation.audio)
        } catch {
            throw MediaTransportError.refused(code: "not_acceptable", message: "the session could not take the new codec: \(error)")
        }
        negotiation.audio = negotiation.audio.keepingFarEnd(of: leg.negotiation.audio)
        if followed {
            logger.info("the far end's media moved", metadata: [
                "media_call_id": "\(offer.callId)", "remote": "\(negotiation.audio.remoteAddress):\(negotiation.audio.remotePort)",
                "codec": "\(negotiation.audio.codec.rawValue)",
            ])
        }
        // Released while the session was being prepared: nothing to keep.
        guard var current = legs[offer.callId] else { throw MediaTransportError.refused(code: "no_session", message: "call \(offer.callId) was released") }
        current.negotiation = negotiation
        legs[offer.callId] = current
        return MediaSessionDescription(sdp: negotiation.answer.serialized)
    }

    func play(_ request: MediaControlMessage.Play) async throws {
        let session = try startedSession(request.callId)
        let audio: [Int16]
        switch request.source {
        case .silence(let milliseconds): audio = [Int16](repeating: 0, count: max(0, milliseconds) * 8)
        case .phrase("greeting"): audio = Greeting.tones()
        case .phrase(let key): throw MediaTransportError.refused(code: "unknown_phrase", message: "no phrase \"\(key)\" (known: greeting)")
        case .text(let text, _):
            guard let loader else { throw MediaTransportError.refused(code: "no_speech", message: "this media role has no synthesizer (sip.answer_mode greeting)") }
            audio = try await loader.services().synthesizer.synthesizeAll(text, rate: .narrowband)
        case .file: throw MediaTransportError.refused(code: "not_supported", message: "playing files is not supported")
        }
        session.enqueue(audio)
        let sink = sink, callId = request.callId, playbackId = request.playbackId, heard = audio.count / 8
        session.whenPlayedOut {
            sink.yield(.init(callId: callId, event: .playbackDone(playbackId: playbackId, completed: true, heardMilliseconds: heard)))
        }
    }

    func stopPlayback(_ request: MediaControlMessage.StopPlayback) async throws {
        guard let leg = legs[request.callId] else { throw MediaTransportError.refused(code: "no_session", message: "no session for call \(request.callId)") }
        leg.session.flushPlayback()
    }

    /// Streams both sides to `recordings/<call>.wav` (stereo: the caller left, us right); the path goes back as a
    /// `recording` event once the file exists.
    func record(_ request: MediaControlMessage.Record) async throws {
        guard var leg = legs[request.callId] else { throw MediaTransportError.refused(code: "no_session", message: "no session for call \(request.callId)") }
        guard request.enabled else { throw MediaTransportError.refused(code: "not_supported", message: "a recording runs to the end of the call") }
        guard leg.recording == nil else { return }
        let file = settings.recordings.appendingPathComponent(SIPUserAgent.uniqueFileName(for: request.callId.rawValue) + ".wav")
        let sink = sink, callId = request.callId, logger = logger
        let stream = writer.stream(to: file) { opened in
            if opened {
                sink.yield(.init(callId: callId, event: .recording(path: file.path)))
            } else {
                logger.error("recording not started", metadata: ["media_call_id": "\(callId)", "file": "\(file.path)"])
            }
        }
        leg.session.record { stream.append($0) }
        leg.recording = stream
        legs[request.callId] = leg
    }

    func bridge(_ request: MediaControlMessage.Bridge) async throws {
        throw MediaTransportError.refused(code: "not_supported", message: "bridging is not served by a separate media role yet: the gateway bridges with media of its own")
    }

    /// Puts the assistant on the leg: it says its opening line, listens, and answers through the conversation role.
    func startConversation(_ request: MediaControlMessage.StartConversation) async throws {
        guard let loader else { throw MediaTransportError.refused(code: "no_speech", message: "this media role runs no assistant (sip.answer_mode greeting)") }
        guard var leg = legs[request.callId] else { throw MediaTransportError.refused(code: "no_session", message: "no session for call \(request.callId)") }
        guard leg.assistant == nil else { return }
        let session = try startedSession(request.callId)
        let sink = sink, callId = request.callId
        let context = AssistantCall.Context(
            callId: request.start.callId.rawValue, userId: request.start.userId.isEmpty ? nil : request.start.userId, startedAt: 0, start: request.start,
            greeting: request.greeting
        )
        let actions = AssistantCall.Actions(
            hangUp: { text in sink.yield(.init(callId: callId, event: .hangupRequested(reason: .assistantHangup, text: text))) },
            takeOver: { announcement in sink.yield(.init(callId: callId, event: .transferRequested(target: nil, announcement: announcement))) }
        )
        let assistant = AssistantCall(
            context: context, session: session, loader: loader, actions: actions,
            report: { report in sink.yield(.init(callId: callId, event: .assistant(report))) }, metrics: metrics, logger: logger
        )
        leg = legs[request.callId] ?? leg
        leg.assistant = assistant
        legs[request.callId] = leg
        Task { await assistant.start() }
    }

    /// Digits the gateway took from SIP INFO, handed to the leg's assistant as RFC 4733 digits are.
    func digits(_ request: MediaControlMessage.Digits) async throws {
        guard let leg = legs[request.callId] else { throw MediaTransportError.refused(code: "no_session", message: "no session for call \(request.callId)") }
        guard request.digits.allSatisfy({ "0123456789*#ABCD".contains($0) }), !request.digits.isEmpty else {
            throw MediaTransportError.refused(code: "bad_value", message: "digits must be 0-9 * # A-D, got \"\(request.digits)\"")
        }
        guard let assistant = leg.assistant else { throw MediaTransportError.refused(code: "no_assistant", message: "no assistant on call \(request.callId)") }
        for digit in request.digits { await assistant.digit(String(digit)) }
        logger.info("dtmf", metadata: ["media_call_id": "\(request.callId)", "digits": "\(request.digits)", "via": "info", "to": "assistant"])
    }

    func release(_ request: MediaControlMessage.Delete) async throws {
        // An offer still opening finishes first, so that its session is released too (not left behind it).
        _ = try? await opening[request.callId]?.value
        guard let leg = legs.removeValue(forKey: request.callId) else { return }
        await leg.assistant?.stop(request.reason)
        let report = await leg.session.stop(pool: pool, now: Self.now())
        metrics.portsInUse(pool.inUseCount)
        metrics.packets(report)
        var recording = "none"
        if let stream = leg.recording {
            recording = await stream.close() ? stream.path : "incomplete"
        }
        logger.info("media session released", metadata: [
            "media_call_id": "\(request.callId)", "reason": "\(request.reason.rawValue)", "packets_received": "\(report.packetsReceived)",
            "packets_sent": "\(report.packetsSent)", "recording": "\(recording)",
        ])
    }

    func statistics(_ request: MediaControlMessage.Query) async throws -> MediaStatistics {
        guard let leg = legs[request.callId] else { throw MediaTransportError.refused(code: "no_session", message: "no session for call \(request.callId)") }
        let report = await leg.session.snapshot()
        return MediaStatistics(
            packetsReceived: UInt64(report.packetsReceived), packetsSent: UInt64(report.packetsSent), packetsLost: Int64(report.packetsLost),
            packetsDropped: UInt64(report.malformed + report.unauthenticated + report.otherPayloadType + report.droppedFromOtherSources),
            jitterMilliseconds: report.jitterSeconds * 1000, codec: leg.negotiation.audio.codec.rawValue
        )
    }

    // MARK: Private

    /// The leg's session, its 20 ms clock started (on the first thing played or said).
    private func startedSession(_ callId: CallID) throws -> RTPCallSession {
        guard var leg = legs[callId] else { throw MediaTransportError.refused(code: "no_session", message: "no session for call \(callId)") }
        if !leg.started {
            leg.started = true
            legs[callId] = leg
            leg.session.start(playing: [])
        }
        return leg.session
    }

    /// An SDP the offer/answer refused: `not_acceptable` (the gateway answers 488) or `bad_sdp` (400).
    static func refusal(_ error: SDPError) -> MediaTransportError {
        .refused(code: error.sipStatus == 488 ? "not_acceptable" : "bad_sdp", message: error.message)
    }

    static func now() -> MediaInstant { MediaInstant(.now()) }
}
