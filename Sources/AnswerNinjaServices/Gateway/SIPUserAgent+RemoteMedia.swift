import AnswerNinjaCore
import Foundation
import MediaTransport
import NIOCore
import SDP
import SIPDialogs
import SIPIdentity
import SIPMessages
import SIPTransactions
import SIPTransport

/// Calls whose media runs in a media role of another process (`media.control_url`): the gateway keeps the SIP side,
/// the record and the live view; the media role answers the SDP, runs RTP, speech and the assistant, and reports
/// back over the control channel. Used for the calls the assistant screens; bridged (wanted) callers keep media of
/// this process, since the media role does not relay legs yet.
extension SIPUserAgent {
    /// Answers an INVITE the assistant screens with the media role's session: its SDP answer in our 200.
    func answerRemote(
        _ request: SIPRequest, key: SIPTransactionKey, source: SIPFlow, identity: SIPCallIdentity, stir: STIRVerification?, screened: CallScreener.Screening,
        timer: SIPSessionTimer.Negotiation
    ) async {
        let callID = request.headers.first("Call-ID") ?? ""
        let mediaId = CallID.random()
        let fromTag = request.headers.first("From").flatMap { try? SIPNameAddress(parsing: $0[...]) }?.tag ?? ""
        let answer: SessionDescription
        var chosen = false
        do {
            let (remoteMedia, provider) = try await chooseMediaRole()
            // Counted for the next call's choice at once, before the offer is answered.
            remoteLegs[mediaId] = RemoteLeg(
                id: SIPDialog.ID(callID: callID, localTag: "", remoteTag: fromTag), media: remoteMedia, userId: screened.userId, startedAt: 0, owned: true
            )
            chosen = true
            let offer = MediaControlMessage.Offer(
                requestId: "offer-\(mediaId)", callId: mediaId, fromTag: fromTag, sdp: String(decoding: request.body.readableBytesView, as: UTF8.self),
                mode: .terminate, flags: ["record"]
            )
            answer = try SessionDescription(parsing: try await provider.offer(offer).sdp)
        } catch let error as MediaTransportError where ["not_acceptable", "bad_sdp"].contains(error.codeName) {
            // Refused: nothing was opened.
            remoteLegs[mediaId] = nil
            let refused = error.codeName == "not_acceptable"
            respond(withTag(Self.response(to: request, refused ? 488 : 400, (refused ? "Not Acceptable Here" : "Bad Request") + " (\(error.message))")), key: key)
            return
        } catch {
            // A time-out may still have opened a session there: deleting an unknown one is not an error.
            let media = remoteLegs[mediaId]?.media.url ?? "none reached"
            if chosen { Task { _ = await releaseRemote(mediaId, reason: .error) } }
            logger.warning("media role did not answer", metadata: ["call_id": "\(callID)", "media": "\(media)", "error": "\(error)"])
            var busy = Self.response(to: request, 503, "Service Unavailable (media role not reached)")
            busy.headers.add("Retry-After", "5")
            respond(busy, key: key)
            transport.metrics.rejected("no_media_role")
            return
        }
        guard let audio = Self.audio(answeredBy: answer) else {
            Task { _ = await releaseRemote(mediaId, reason: .error) }
            respond(withTag(Self.response(to: request, 488, "Not Acceptable Here (the media role answered no audio)")), key: key)
            return
        }
        let (response, sessionTimer) = answered(request, source: source, timer: timer, sdp: answer)
        // The actor may have handled a CANCEL while the media role answered: answer only a pending INVITE.
        guard let dialog = try? SIPDialog(uas: request, response: response), let entry = transactions[key], entry.transaction.state == .proceeding else {
            Task { _ = await releaseRemote(mediaId, reason: .callerHangup) }
            if transactions[key]?.transaction.state == .proceeding { respond(Self.response(to: request, 400, "Bad Request (no Contact)"), key: key) }
            return
        }
        let call = Call(
            dialog: dialog, source: source, media: .remote(mediaId), retransmission: SIPResponseRetransmission(response: response), negotiation: nil,
            localSDP: answer, audio: audio, identity: identity, stir: stir, sessionTimer: sessionTimer,
            peerAllowsUpdate: request.headers.list("Allow").contains { $0.uppercased() == "UPDATE" }, screening: screened
        )
        remoteLegs[mediaId]?.id = dialog.id
        if Self.requires100rel(request) {
            ringReliably(request, key: key, call: call, ok: response)
        } else {
            accept(key: key, call: call)
        }
    }

    /// What the media role's answer agreed, as the gateway keeps it for the call (its codec and keys are the media
    /// role's business; the gateway logs them).
    static func audio(answeredBy answer: SessionDescription) -> NegotiatedAudio? {
        guard let media = answer.media.first(where: { $0.type == "audio" && $0.port != 0 }), let format = media.formats.first, let payloadType = Int(format) else {
            return nil
        }
        let encoding = media.rtpmap(payloadType)?.encoding.lowercased() ?? (payloadType == 8 ? "pcma" : "pcmu")
        guard let codec = MediaCapabilities.Codec(rawValue: encoding) else { return nil }
        let events = media.formats.compactMap(Int.init).first { media.rtpmap($0)?.encoding.lowercased() == "telephone-event" }
        return NegotiatedAudio(
            codec: codec, payloadType: payloadType, telephoneEventPayloadType: events, ptime: media.ptime ?? 20, direction: media.direction,
            remoteAddress: "", remotePort: 0, localPort: media.port, rtcpMux: media.rtcpMux, keys: nil
        )
    }

    /// A re-INVITE or UPDATE with an offer on a call whose media is in the media role: the role answers it from the
    /// same port (hold, resume, a refresh), then the 2xx goes out as for any refresh.
    func refreshRemote(_ request: SIPRequest, id: SIPDialog.ID, key: SIPTransactionKey, source: SIPFlow, mediaId: CallID, timer: SIPSessionTimer.Negotiation) {
        guard let remoteMedia = remoteLegs[mediaId]?.media, calls[id] != nil else { return }
        // One offer at a time (RFC 3261 §14.2, RFC 3311 §5.2): another while the media role answers is tried again.
        guard !remoteOffers.contains(id) else {
            var busy = Self.response(to: request, 500, "Server Internal Error (an offer is being answered)")
            busy.headers.add("Retry-After", String(Int.random(in: 1...10)))
            respond(busy, key: key)
            return
        }
        remoteOffers.insert(id)
        let offerText = String(decoding: request.body.readableBytesView, as: UTF8.self)
        let fromTag = id.remoteTag, requestId = "update-\(mediaId)-\(request.headers.first("CSeq") ?? "")"
        Task {
            let answer: Result<SessionDescription, any Error>
            do {
                let provider = try await remoteMedia.provider()
                let sdp = try await provider.update(.init(requestId: requestId, callId: mediaId, fromTag: fromTag, sdp: offerText, mode: .terminate))
                answer = .success(try SessionDescription(parsing: sdp.sdp))
            } catch {
                logger.info("re-offer not answered by the media role", metadata: ["call_id": "\(id.callID)", "error": "\(error)"])
                answer = .failure(error)
            }
            self.refreshedRemote(request, id: id, key: key, source: source, timer: timer, answer: answer)
        }
    }

    private func refreshedRemote(
        _ request: SIPRequest, id: SIPDialog.ID, key: SIPTransactionKey, source: SIPFlow, timer: SIPSessionTimer.Negotiation,
        answer: Result<SessionDescription, any Error>
    ) {
        remoteOffers.remove(id)
        guard var call = calls[id] else {
            respond(Self.response(to: request, 481, "Call/Transaction Does Not Exist"), key: key)
            return
        }
        let description: SessionDescription
        switch answer {
        case .success(let answered): description = answered
        case .failure(let error as MediaTransportError) where ["not_acceptable", "bad_sdp"].contains(error.codeName):
            respond(Self.response(to: request, 488, "Not Acceptable Here (\(error.message))"), key: key)
            return
        case .failure:
            // Not reached, or no answer in time: the offer may be sent again.
            var busy = Self.response(to: request, 500, "Server Internal Error (the media role did not answer)")
            busy.headers.add("Retry-After", "2")
            respond(busy, key: key)
            return
        }
        guard let audio = Self.audio(answeredBy: description), let offer = try? Self.offer(in: request) else {
            respond(Self.response(to: request, 488, "Not Acceptable Here"), key: key)
            return
        }
        let answer = description
        call.localSDP = answer
        call.audio = audio
        call.remoteDirection = Self.heldDirection(of: offer)
        var response = Self.response(to: request, 200, "OK")
        response.headers.add("Content-Type", "application/sdp")
        response.body = ByteBuffer(string: answer.serialized)
        completeRefresh(request, id: id, key: key, source: source, timer: timer, call: call, response: response)
    }

    /// Asks the media role to record the call; the path comes back as a `recording` event.
    func recordRemote(_ mediaId: CallID) {
        guard let remoteMedia = remoteLegs[mediaId]?.media else { return }
        let logger = logger
        Task {
            do {
                try await remoteMedia.provider().record(.init(requestId: "record-\(mediaId)", callId: mediaId, enabled: true))
            } catch {
                logger.error("recording not started by the media role", metadata: ["media_call_id": "\(mediaId)", "error": "\(error)"])
            }
        }
    }

    /// Puts the assistant on a call whose media is in the media role.
    func startRemoteAssistant(_ mediaId: CallID, start: ConversationMessage.Start, greeting: String?) {
        guard let remoteMedia = remoteLegs[mediaId]?.media else { return }
        let logger = logger
        Task {
            do {
                try await remoteMedia.provider().startConversation(.init(requestId: "converse-\(mediaId)", callId: mediaId, tag: "", start: start, greeting: greeting))
            } catch {
                logger.error("assistant not started by the media role", metadata: ["media_call_id": "\(mediaId)", "error": "\(error)"])
            }
        }
    }

    /// Digits from SIP INFO for the assistant in the media role (RFC 4733 digits reach it in the RTP). The request id
    /// comes from the INFO's CSeq, so that a retransmitted INFO is not pressed twice.
    func remoteDigits(_ mediaId: CallID, _ digits: String, requestId: String) {
        guard let remoteMedia = remoteLegs[mediaId]?.media, remoteLegs[mediaId]?.moved != true else { return }
        let logger = logger
        // One at a time per call, each after the last one's result: the media role carries commands out concurrently.
        remoteDigitsSent.run(mediaId) {
            do {
                try await remoteMedia.provider().digits(.init(requestId: requestId, callId: mediaId, tag: "", digits: digits))
            } catch {
                logger.warning("digits not handed to the media role", metadata: ["media_call_id": "\(mediaId)", "error": "\(error)"])
            }
        }
    }

    /// Releases the media role's session; returns its last statistics as a report (zeros when not reached).
    func releaseRemote(_ mediaId: CallID, reason: ReleaseReason) async -> RTPCallSession.Report {
        // Reports the media role sent before its release (the last turn, the intent) still reach the record: the
        // leg is forgotten a little after the delete, not before it.
        remoteDigitsSent.forget(mediaId)
        defer {
            scheduleTimer("remote|\(mediaId)", after: .seconds(5)) { agent in agent.remoteLegs[mediaId] = nil }
        }
        guard let remoteMedia = remoteLegs[mediaId]?.media, let provider = try? await remoteMedia.provider(force: false) else { return .counted(received: 0, sent: 0) }
        let statistics = try? await provider.statistics(.init(requestId: "query-\(mediaId)", callId: mediaId))
        do {
            try await provider.release(.init(requestId: "delete-\(mediaId)", callId: mediaId, reason: reason))
        } catch {
            logger.warning("media session not released", metadata: ["media_call_id": "\(mediaId)", "error": "\(error)"])
        }
        return .counted(
            received: Int(statistics?.packetsReceived ?? 0), sent: Int(statistics?.packetsSent ?? 0), lost: Int(statistics?.packetsLost ?? 0),
            jitterSeconds: (statistics?.jitterMilliseconds ?? 0) / 1000
        )
    }

    /// What the media session's end tells the media role, from who ended the call.
    static func releaseReason(side: String) -> ReleaseReason {
        switch side {
        case "assistant": .assistantHangup
        case "user": .userHangup
        case "remote": .callerHangup
        default: .shutdown
        }
    }

    /// An event of the media role about one of our calls.
    func remoteMediaEvent(_ event: MediaControlMessage.Event) {
        guard let leg = remoteLegs[event.callId] else { return }
        let id = leg.id
        // A leg whose media came back here: only what the assistant said before still goes to the record.
        if leg.moved {
            if case .assistant(let report) = event.event {
                AssistantReporting(recorder: callRecorder, events: events, callId: id.callID, userId: leg.userId, startedAt: leg.startedAt).apply(report)
            }
            return
        }
        switch event.event {
        case .hangupRequested(_, let text):
            hangUp(id, reason: .normalClearing(text ?? "The assistant ended the call"), side: "assistant")
        case .transferRequested(_, let announcement):
            // The user's devices ring; the one that answers is joined once the caller's media is here.
            guard let userId = leg.userId else { break }
            _ = takeOver(callID: id.callID, userId: userId, announcement: announcement)
        case .assistant(let report):
            AssistantReporting(recorder: callRecorder, events: events, callId: id.callID, userId: leg.userId, startedAt: leg.startedAt).apply(report)
        case .recording(let path):
            if leg.owned { callRecorder?.record(.recording(path: path), callId: id.callID, startedAt: leg.startedAt) }
        case .rtpTimeout(let after):
            hangUp(id, reason: .normalClearing("No RTP for \(after) ms"))
        case .dtmf, .speechStarted, .speechEnded, .utterance, .playbackDone, .srtpFailure, .statistics:
            break
        }
    }

    /// A media role was lost with its sessions: every call whose media was there ends.
    func remoteMediaLost(_ lost: RemoteMedia) {
        for (mediaId, leg) in remoteLegs where leg.media === lost && !leg.moved {
            remoteLegs[mediaId] = nil
            hangUp(leg.id, reason: .normalClearing("The media role was lost"))
        }
    }

    /// The media role for a new call: of those connected, the one holding the fewest of this gateway's calls; when
    /// none is connected, each is tried (those that failed a moment ago last). Roles that are down are reconnected
    /// in the background (`RemoteMedia.keepConnected`), never on a call's way.
    func chooseMediaRole() async throws -> (RemoteMedia, any MediaSessionProvider) {
        var up: Set<ObjectIdentifier> = []
        for media in mediaRoles where await media.isConnected { up.insert(ObjectIdentifier(media)) }
        // From here to the first reservation nothing waits: a call choosing at the same time sees this one's.
        let load = Dictionary(grouping: remoteLegs.values, by: { ObjectIdentifier($0.media) }).mapValues(\.count).merging(mediaChoosing) { $0 + $1 }
        let ordered = mediaRoles.enumerated().sorted { (load[ObjectIdentifier($0.element)] ?? 0, $0.offset) < (load[ObjectIdentifier($1.element)] ?? 0, $1.offset) }.map(\.element)
        let connected = ordered.filter { up.contains(ObjectIdentifier($0)) }
        var lastError: (any Error)?
        // Connected roles first; only when none is, each other one is tried once.
        for (force, candidates) in [(false, connected), (true, ordered.filter { !up.contains(ObjectIdentifier($0)) })] {
            for media in candidates {
                // Counted while it connects, so that a call choosing meanwhile goes elsewhere; the caller registers
                // the leg before it next waits.
                let key = ObjectIdentifier(media)
                mediaChoosing[key, default: 0] += 1
                defer { mediaChoosing[key, default: 1] -= 1 }
                do {
                    return (media, try await media.provider(force: force))
                } catch {
                    lastError = error
                }
            }
        }
        throw lastError ?? MediaTransportError.connectionClosed("no media role configured")
    }
}

/// A call whose media is in the media role, as its events need it: the dialog, and the record's key and owner (kept
/// a little past the call's end, for the reports still on their way).
struct RemoteLeg: Sendable {
    var id: SIPDialog.ID
    /// The media role that holds the session.
    let media: RemoteMedia
    var userId: String?
    /// Unix milliseconds of the answer (the record's key); 0 until then.
    var startedAt: Int64
    /// A caller's call, with a record.
    var owned: Bool
    /// Its media came back to the gateway (a take-over): the media role's session is being released.
    var moved = false
}

/// A take-over of a call whose media is in a media role: the caller's media comes back to this process first. The
/// gateway re-INVITEs the caller with an offer from an RTP session of its own (RFC 3264 §8: the same session, its
/// version raised); on the 2xx the leg is local, the media role's session (and its assistant) is released, and the
/// legs are joined as for any take-over. Until then the assistant goes on talking.
extension SIPUserAgent {
    struct Reanchor: Sendable {
        var session: RTPCallSession
        var offer: SDPOfferer.Offer
        var mediaId: CallID
        /// The device leg that answered the take-over, joined once the caller is here.
        var device: SIPDialog.ID
        var attempt: Int
    }

    /// Starts moving the caller's media here, then joins `device`; a failure hangs up the device leg and the
    /// assistant carries on.
    func reanchor(_ id: SIPDialog.ID, thenJoin device: SIPDialog.ID) {
        guard let call = calls[id], case .remote(let mediaId) = call.media, reanchoring[id] == nil else { return }
        let pool = pool, host = mediaHost, group = group
        Task {
            do {
                let session = try await RTPCallSession.open(pool: pool, host: host, group: group, now: Self.now())
                self.sendReanchor(id, session: session, mediaId: mediaId, device: device)
            } catch {
                self.reanchorFailed(id, device: device, why: "no RTP port: \(error)")
            }
        }
    }

    private func sendReanchor(_ id: SIPDialog.ID, session: RTPCallSession, mediaId: CallID, device: SIPDialog.ID, attempt: Int = 1) {
        guard var call = calls[id], !call.byeSent, calls[device] != nil else {
            release(session)
            return reanchorFailed(id, device: device, why: calls[id] == nil ? "the caller hung up" : "the user's phone hung up")
        }
        guard !call.reinviteInFlight else {
            // A session refresh (or the caller's own offer) is out: tried again shortly, a few times.
            guard attempt < 4 else {
                release(session)
                return reanchorFailed(id, device: device, why: "a re-INVITE stayed out")
            }
            scheduleTimer("reanchor|\(id.callID)", after: .seconds(1)) { agent in
                agent.sendReanchor(id, session: session, mediaId: mediaId, device: device, attempt: attempt + 1)
            }
            return
        }
        // Plain or SRTP as the call is now (the media role's answer), whatever the SIP transport.
        var capabilities = settings.media
        let secure = call.localSDP.media.first { $0.type == "audio" && $0.port != 0 }?.isSecureRTP ?? false
        if !secure { capabilities.srtp = .off } else if capabilities.srtp == .off { capabilities.srtp = .mandatory }
        var offer = SDPOfferer(capabilities: capabilities, localAddress: advertisedMediaHost).offer(localPort: session.localPort)
        offer.description = Self.reoffer(offer.description, continuing: call.localSDP)
        call.reinviteInFlight = true
        calls[id] = call
        reanchoring[id] = Reanchor(session: session, offer: offer, mediaId: mediaId, device: device, attempt: attempt)
        var request = call.dialog.makeRequest(method: "INVITE", via: via(for: call.source), contact: contact(for: call.source))
        request.headers.add("Content-Type", "application/sdp")
        request.body = ByteBuffer(string: offer.description.serialized)
        startClientTransaction(request, to: call.source, purpose: .reanchor(id))
        logger.info("moving the caller's media here for the take-over", metadata: ["call_id": "\(id.callID)", "rtp_port": "\(session.localPort)"])
    }

    /// A new offer (`audio`: one audio m-line of ours) as the next of the session whose SDP we last sent: the same
    /// origin one version on, and, as RFC 3264 §8 asks, every m-line of that session in its place (ours where its
    /// audio was, the others refused with port 0).
    static func reoffer(_ audio: SessionDescription, continuing previous: SessionDescription) -> SessionDescription {
        var offer = audio
        offer.origin = previous.origin
        offer.origin.sessionVersion += 1
        guard let ours = audio.media.first, let active = previous.media.firstIndex(where: { $0.type == "audio" && $0.port != 0 }) ?? previous.media.firstIndex(where: { $0.type == "audio" })
        else { return offer }
        offer.media = previous.media.enumerated().map { index, line in
            guard index != active else { return ours }
            var refused = line
            refused.port = 0
            return refused
        }
        return offer
    }

    /// The caller's answer to our re-INVITE: on a 2xx the leg is ours (ACKed, prepared), the media role's session is
    /// released and the take-over joins; otherwise the leg stays in the media role.
    func reanchorAnswered(_ id: SIPDialog.ID, response: SIPResponse, destination: SIPFlow) {
        guard let pending = reanchoring.removeValue(forKey: id) else { return }
        guard var call = calls[id] else {
            release(pending.session)
            reanchorFailed(id, device: pending.device, why: "the caller hung up")
            return ackAfterEnd(id, response: response, destination: destination)
        }
        call.reinviteInFlight = false
        guard (200..<300).contains(response.statusCode) else {
            calls[id] = call
            switch response.statusCode {
            case 491 where pending.attempt < 3:
                // Glare (RFC 3261 §14.1): ours is tried again 2.1-4 s later, the session kept.
                scheduleTimer("reanchor|\(id.callID)", after: .milliseconds(Int64.random(in: 2100...4000))) { agent in
                    agent.sendReanchor(id, session: pending.session, mediaId: pending.mediaId, device: pending.device, attempt: pending.attempt + 1)
                }
            case 408, 481:
                // The dialog is gone at the far end (RFC 3261 §12.2.1.2).
                release(pending.session)
                reanchorFailed(id, device: pending.device, why: "the caller answered \(response.statusCode)")
                hangUp(id, reason: SIPReason(protocolName: "SIP", cause: response.statusCode, text: response.reasonPhrase))
            default:
                release(pending.session)
                reanchorFailed(id, device: pending.device, why: "the caller answered \(response.statusCode)")
            }
            return
        }
        let sequence = response.headers.cseq?.sequence ?? call.dialog.localSequence
        let ack = call.dialog.makeRequest(method: "ACK", via: via(for: call.source), contact: "", sequence: sequence)
        call.refreshACK = ack
        transport.send(.request(ack), to: destination)
        let audio: NegotiatedAudio
        let remote: SocketAddress
        do {
            audio = try offerer(for: call.source).accept(try SessionDescription(parsing: String(buffer: response.body)), for: pending.offer)
            remote = try SocketAddress(ipAddress: audio.remoteAddress, port: audio.remotePort)
        } catch {
            // The caller took our offer with an answer we cannot use: the call cannot go on.
            calls[id] = call
            release(pending.session)
            reanchorFailed(id, device: pending.device, why: "an unusable answer: \(error)")
            return hangUp(id, reason: SIPReason(protocolName: "SIP", cause: 488, text: "Not Acceptable Here"))
        }
        call.media = .local(pending.session)
        call.localSDP = pending.offer.description
        call.audio = audio
        call.negotiation = nil
        calls[id] = call
        transport.metrics.watchPacing(pending.session)
        // The media role's session is no longer this call's: its late events change nothing here.
        remoteLegs[pending.mediaId]?.moved = true
        Task { _ = await self.releaseRemote(pending.mediaId, reason: .transferred) }
        let session = pending.session, logger = logger
        Task {
            do {
                try await session.prepare(for: audio, remote: remote)
                session.start(playing: [])
            } catch {
                logger.error("the caller's media did not start here", metadata: ["call_id": "\(id.callID)", "error": "\(error)"])
            }
            self.logger.info("the caller's media is here", metadata: ["call_id": "\(id.callID)", "codec": "\(audio.codec.rawValue)", "rtp_port": "\(session.localPort)"])
            guard self.calls[pending.device] != nil else {
                // The user's phone hung up meanwhile, and the assistant is gone with the media role's session.
                self.announcing.remove(id)
                return self.hangUp(id, reason: .normalClearing("The user's phone hung up"))
            }
            self.joinTakeover(id, device: pending.device)
        }
    }

    /// The caller's media could not come here: the device leg that answered is hung up, the assistant carries on.
    func reanchorFailed(_ id: SIPDialog.ID, device: SIPDialog.ID, why: String) {
        logger.warning("take-over not joined: the caller's media stayed in the media role", metadata: ["call_id": "\(id.callID)", "why": "\(why)"])
        announcing.remove(id)
        hangUp(device, reason: SIPReason(protocolName: "SIP", cause: 480, text: "The caller could not be put through"))
    }
}
