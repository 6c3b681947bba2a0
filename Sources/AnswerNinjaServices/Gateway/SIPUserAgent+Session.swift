import Logging
import NIOCore
import SDP
import SIPDialogs
import SIPMessages
import SIPTransactions
import SIPTransport

/// Reliable provisional responses (RFC 3262), session timers (RFC 4028) and DTMF in INFO.
extension SIPUserAgent {
    /// An INVITE answered with a reliable 180 (the caller required 100rel): its 200 is ready and waits for the PRACK
    /// — or, on a bridge, for a device to answer (`bridging`: the pending bridge owns the call and its RTP session).
    struct Answering {
        var key: SIPTransactionKey
        var call: Call
        var ringing: SIPResponseRetransmission
        var responseNumber: UInt32
        var inviteSequence: SIPCSeq
        var bridging = false
    }

    // MARK: RFC 3262

    /// Sends 180 Ringing reliably (Require: 100rel, RSeq), resent at T1 doubling until its PRACK; the 200 follows the
    /// PRACK — on a bridge (`bridging`), the device's answer, which may come before the PRACK (§3 allows a 2xx then,
    /// since the 180 carries no SDP). Without a PRACK in 64·T1 the INVITE is rejected with a 5xx (§3).
    func ringReliably(_ request: SIPRequest, key: SIPTransactionKey, call: Call, ok: SIPResponse, bridging: Bool = false) {
        guard let cseq = request.headers.cseq else { return }
        let responseNumber = UInt32.random(in: 1...(1 << 31) - 1)
        var ringing = Self.response(to: request, 180, "Ringing")
        ringing.headers.set("To", ok.headers.first("To") ?? "")
        ringing.headers.add("Contact", contact(for: call.source))
        ringing.headers.add("Require", "100rel")
        ringing.headers.add("RSeq", String(responseNumber))
        respond(ringing, key: key)
        let id = call.dialog.id
        let retransmission = SIPResponseRetransmission(response: ringing, cappedAtT2: false)
        let first = retransmission.start(reliable: call.source.isReliable).filter { if case .send = $0 { false } else { true } }
        answering[id] = Answering(key: key, call: call, ringing: retransmission, responseNumber: responseNumber, inviteSequence: cseq, bridging: bridging)
        performReliable(first, id: id)
    }

    private func performReliable(_ actions: [SIPResponseRetransmission.Action], id: SIPDialog.ID) {
        guard let held = answering[id] else { return }
        for action in actions {
            switch action {
            // The first 180 went out with `respond`: what is sent here is its resend.
            case .send(let response): transport.send(.response(response), to: held.call.source, retransmission: true)
            case .startTimer(let duration): scheduleTimer("100rel|\(id.callID)", after: duration) { agent in agent.resendRinging(id) }
            case .cancelTimer: cancelTimer("100rel|\(id.callID)")
            case .ackTimedOut: noPrack(id)
            }
        }
    }

    private func resendRinging(_ id: SIPDialog.ID) {
        guard var held = answering[id] else { return }
        let actions = held.ringing.timerFired(reliable: held.call.source.isReliable)
        answering[id] = held
        performReliable(actions, id: id)
    }

    private func noPrack(_ id: SIPDialog.ID) {
        guard let held = answering.removeValue(forKey: id) else { return }
        cancelTimer("100rel|\(id.callID)")
        // A bridge waiting for its devices: they are cancelled (the session is released below, once).
        if held.bridging, let fork = bridgeFork(waitingOn: held.key) {
            pendingBridges[fork] = nil
            cancelRinging(fork)
        }
        release(held.call.media)
        // The prepared 200 turned into a 504: the same To tag as the 180.
        if var rejected = held.call.retransmission?.response {
            rejected.statusCode = 504
            rejected.reasonPhrase = "Server Time-out (no PRACK for the reliable 180)"
            rejected.body = ByteBuffer()
            for name in ["Content-Type", "Contact", "Allow", "Supported", "Session-Expires", "Require"] { rejected.headers.remove(name) }
            respond(rejected, key: held.key)
        }
        logger.warning("call failed", metadata: ["call_id": "\(id.callID)", "reason": "no PRACK for the reliable 180"])
    }

    /// PRACK (§4): it must name our outstanding reliable provisional (RSeq and the INVITE's CSeq), else 481.
    func prack(_ request: SIPRequest, key: SIPTransactionKey) {
        let rack = request.headers.first("RAck").flatMap { try? SIPRAck(parsing: $0[...]) }
        // A PRACK that crossed our 200 (the bridge's device answered before it came): acknowledged all the same.
        if let id = SIPDialog.id(ofReceived: .request(request)), let late = unacknowledgedRinging[id], let rack,
           rack.responseNumber == late.responseNumber, rack.cseq == late.inviteSequence {
            unacknowledgedRinging[id] = nil
            try? calls[id]?.dialog.receive(request)
            respond(Self.response(to: request, 200, "OK"), key: key)
            return
        }
        guard let id = SIPDialog.id(ofReceived: .request(request)), let held = answering[id], let rack,
              rack.responseNumber == held.responseNumber, rack.cseq == held.inviteSequence
        else {
            respond(Self.response(to: request, 481, "Call/Transaction Does Not Exist"), key: key)
            return
        }
        answering[id] = nil
        cancelTimer("100rel|\(id.callID)")
        var call = held.call
        try? call.dialog.receive(request)
        respond(Self.response(to: request, 200, "OK"), key: key)
        if held.bridging {
            // The 200 waits for a device; the pending bridge's dialog learns the PRACK's CSeq.
            if let fork = bridgeFork(waitingOn: held.key) { try? pendingBridges[fork]?.call.dialog.receive(request) }
            return
        }
        guard let entry = transactions[held.key], entry.transaction.state == .proceeding else {
            release(call.media)
            return
        }
        accept(key: held.key, call: call)
    }

    /// The INVITE `key` gets its final response now (a device answered the bridge, or none did): its reliable 180
    /// is no longer resent; a PRACK for it that crossed the 200 is still answered (`unacknowledgedRinging`).
    func stopReliableRinging(for key: SIPTransactionKey) {
        guard let id = answering.first(where: { $0.value.key == key })?.key, let held = answering.removeValue(forKey: id) else { return }
        cancelTimer("100rel|\(id.callID)")
        unacknowledgedRinging[id] = (held.responseNumber, held.inviteSequence)
    }

    // MARK: RFC 4028

    /// (Re)starts the session timer of call `id` from now: our refresh at half the interval, or the end of the call
    /// when the far end's refresh does not come.
    func startSessionTimer(_ id: SIPDialog.ID) {
        guard let timer = calls[id]?.sessionTimer else {
            cancelTimer("session|\(id.callID)")
            return
        }
        switch timer.deadline {
        case .refresh(let after):
            scheduleTimer("session|\(id.callID)", after: after) { agent in agent.refreshSession(id) }
        case .expire(let after):
            scheduleTimer("session|\(id.callID)", after: after) { agent in
                agent.hangUp(id, reason: SIPReason(protocolName: "SIP", cause: 408, text: "Session timer expired"))
            }
        }
    }

    /// Our session refresh: an UPDATE without a body when the far end allows UPDATE, else a re-INVITE with our SDP
    /// unchanged (same version, RFC 3264 §8).
    private func refreshSession(_ id: SIPDialog.ID) {
        guard var call = calls[id], let timer = call.sessionTimer, !call.byeSent else { return }
        let method = call.peerAllowsUpdate ? "UPDATE" : "INVITE"
        if method == "INVITE", call.reinviteInFlight {
            // One re-INVITE at a time: a hold is out; the refresh comes a little later.
            scheduleTimer("session|\(id.callID)", after: .seconds(2)) { agent in agent.refreshSession(id) }
            return
        }
        if method == "INVITE" { call.reinviteInFlight = true }
        var request = call.dialog.makeRequest(method: method, via: via(for: call.source), contact: contact(for: call.source))
        for field in timer.refreshRequestHeaders { request.headers.add(field.name, field.value) }
        if method == "INVITE" {
            request.headers.add("Content-Type", "application/sdp")
            request.body = ByteBuffer(string: call.localSDP.serialized)
        }
        calls[id] = call
        startClientTransaction(request, to: call.source, purpose: .refresh(id))
        logger.info("session refresh sent", metadata: ["call_id": "\(id.callID)", "method": "\(method)"])
    }

    /// The final response to our refresh (§10): a 2xx sets the timer anew (and a re-INVITE's is ACKed); 408 and 481
    /// end the call; anything else leaves the session as it was, refreshed again at a quarter of the interval.
    func refreshAnswered(_ id: SIPDialog.ID, response: SIPResponse, destination: SIPFlow) {
        guard var call = calls[id] else { return ackAfterEnd(id, response: response, destination: destination) }
        if response.headers.cseq?.method == "INVITE" { call.reinviteInFlight = false }
        calls[id] = call
        // A hold that waited for this re-INVITE goes now.
        if call.wantedDirection != call.offeredDirection { mapHold(id, direction: call.wantedDirection) }
        guard let timer = call.sessionTimer else { return }
        switch response.statusCode {
        case 200..<300:
            if let cseq = response.headers.cseq, cseq.method == "INVITE" {
                let sequence = cseq.sequence
                let ack = call.dialog.makeRequest(method: "ACK", via: via(for: call.source), contact: "", sequence: sequence)
                call.refreshACK = ack
                transport.send(.request(ack), to: destination)
            }
            call.sessionTimer = timer.afterRefresh(response)
            calls[id] = call
            startSessionTimer(id)
            logger.info("session refreshed", metadata: ["call_id": "\(id.callID)", "session_expires": "\(call.sessionTimer.map { "\($0.interval)s" } ?? "none")"])
        case 408, 481:
            hangUp(id, reason: SIPReason(protocolName: "SIP", cause: response.statusCode, text: "Session refresh failed"))
        default:
            scheduleTimer("session|\(id.callID)", after: .seconds(max(1, timer.interval / 4))) { agent in agent.refreshSession(id) }
        }
    }

    // MARK: Hold across a bridge

    /// The direction a (re-)offer asks for; an RFC 2543 hold (`c=0.0.0.0`) is a sendonly one.
    static func heldDirection(of offer: SessionDescription) -> MediaDescription.Direction {
        guard let audio = offer.media.first(where: { $0.type == "audio" && $0.port != 0 }) else { return .inactive }
        if (audio.connection ?? offer.connection)?.address == "0.0.0.0", audio.direction == .sendrecv { return .sendonly }
        return audio.direction
    }

    /// One leg of a bridge held (or resumed) us: offer the other leg the same direction in a re-INVITE of ours, so
    /// that its phone shows the hold. One re-INVITE of ours at a time on the dialog; a change meanwhile follows it.
    func mapHold(_ id: SIPDialog.ID, direction: MediaDescription.Direction) {
        guard var call = calls[id], !call.byeSent else { return }
        call.wantedDirection = direction
        defer { calls[id] = call }
        guard !call.reinviteInFlight, direction != call.offeredDirection,
              let index = call.localSDP.media.firstIndex(where: { $0.type == "audio" && $0.port != 0 })
        else { return }
        // Our offer: the SDP we last sent, one version on (RFC 3264 §8), with the new direction. It becomes ours
        // only when answered with a 2xx.
        var offer = call.localSDP
        offer.origin.sessionVersion += 1
        offer.media[index].attributes.removeAll { MediaDescription.Direction(rawValue: $0.name) != nil }
        offer.media[index].attributes.append(.init(direction.rawValue))
        call.pendingOffer = offer
        call.reinviteInFlight = true
        var request = call.dialog.makeRequest(method: "INVITE", via: via(for: call.source), contact: contact(for: call.source))
        request.headers.add("Content-Type", "application/sdp")
        request.body = ByteBuffer(string: offer.serialized)
        startClientTransaction(request, to: call.source, purpose: .hold(id))
        logger.info("hold mapped", metadata: ["call_id": "\(id.callID)", "direction": "\(direction.rawValue)"])
    }

    /// The answer to our hold or resume: a 2xx is ACKed and our offer and its direction taken; a 491 (our re-INVITE
    /// crossed one of theirs) or a 500 with Retry-After is tried again later (RFC 3261 §14.1, §14.2); anything else
    /// leaves the leg as it was.
    func holdAnswered(_ id: SIPDialog.ID, response: SIPResponse, destination: SIPFlow) {
        guard var call = calls[id] else { return ackAfterEnd(id, response: response, destination: destination) }
        call.reinviteInFlight = false
        let offer = call.pendingOffer
        call.pendingOffer = nil
        let sent = offer?.media.first { $0.type == "audio" && $0.port != 0 }?.direction ?? call.offeredDirection
        switch response.statusCode {
        case 200..<300:
            let sequence = response.headers.cseq?.sequence ?? call.dialog.localSequence
            let ack = call.dialog.makeRequest(method: "ACK", via: via(for: call.source), contact: "", sequence: sequence)
            call.refreshACK = ack
            transport.send(.request(ack), to: destination)
            if let offer {
                call.localSDP = offer
                // The next answer of ours in this dialog goes on from this version (RFC 3264 §8).
                call.negotiation?.answer.origin.sessionVersion = offer.origin.sessionVersion
            }
            call.offeredDirection = sent
            // What the far end now offers by itself is the mirror of its answer: a refresh that repeats it is not a
            // hold of its own.
            let answered = (try? SessionDescription(parsing: String(buffer: response.body))).map(Self.heldDirection(of:)) ?? sent.answer
            call.remoteDirection = answered
            calls[id] = call
            logger.info("hold taken", metadata: ["call_id": "\(id.callID)", "direction": "\(sent.rawValue)"])
            if call.wantedDirection != sent { mapHold(id, direction: call.wantedDirection) }
        case 491, 500 where response.statusCode == 491 || response.headers.first("Retry-After") != nil:
            // Our re-INVITE crossed theirs (§14.1): again after a random wait, longer for the Call-ID's owner (a leg
            // we placed) than for the other side; a 500 names its own wait in Retry-After (§14.2).
            calls[id] = call
            let owner = call.identity == nil
            let wait: Duration = response.statusCode == 500
                ? .seconds(max(0, min(10, Int(response.headers.first("Retry-After")?.prefix { $0.isNumber } ?? "") ?? 1)))
                : .milliseconds(owner ? Int64.random(in: 2100...4000) : Int64.random(in: 0...2000))
            scheduleTimer("hold|\(id.callID)", after: wait) { agent in
                guard let call = agent.calls[id] else { return }
                agent.mapHold(id, direction: call.wantedDirection)
            }
        default:
            calls[id] = call
            logger.warning("hold not taken", metadata: ["call_id": "\(id.callID)", "status": "\(response.statusCode)", "direction": "\(sent.rawValue)"])
        }
    }

    /// The 2xx to a re-INVITE of ours whose call ended meanwhile: ACKed (RFC 3261 §13.2.2.4), so that the far end
    /// stops resending it; the call's BYE is already on its way.
    func ackAfterEnd(_ id: SIPDialog.ID, response: SIPResponse, destination: SIPFlow) {
        guard var dialog = endedWithReinvite.removeValue(forKey: id) else { return }
        guard (200..<300).contains(response.statusCode), response.headers.cseq?.method == "INVITE", let sequence = response.headers.cseq?.sequence else { return }
        let ack = dialog.makeRequest(method: "ACK", via: via(for: destination), contact: "", sequence: sequence)
        transport.send(.request(ack), to: destination)
    }

    // MARK: INFO

    /// DTMF in INFO (application/dtmf-relay or application/dtmf): 200 and the digit kept with the call, and on a
    /// bridge the INFO passed on to the other leg (as RFC 4733 events are); a DTMF body without a digit gets 400;
    /// other INFO bodies 200 and nothing else.
    func info(_ request: SIPRequest, id: SIPDialog.ID, key: SIPTransactionKey) {
        let type = request.headers.first("Content-Type") ?? ""
        do {
            if let dtmf = try SIPDTMFInfo(contentType: type, body: Array(request.body.readableBytesView)) {
                calls[id]?.digits.append(dtmf.digit)
                if let assistant = assistantCalls[id.callID] { Task { await assistant.digit(String(dtmf.digit)) } }
                if case .remote(let mediaId) = calls[id]?.media {
                    remoteDigits(mediaId, String(dtmf.digit), requestId: "digits-\(mediaId)-\(request.headers.cseq?.sequence ?? 0)")
                }
                if let peerID = calls[id]?.bridgedTo, var peer = calls[peerID], !peer.byeSent {
                    var relayed = peer.dialog.makeRequest(method: "INFO", via: via(for: peer.source), contact: contact(for: peer.source))
                    relayed.headers.add("Content-Type", type)
                    relayed.body = request.body
                    calls[peerID] = peer
                    startClientTransaction(relayed, to: peer.source, purpose: .relayedInfo(peerID))
                }
                logger.info("dtmf", metadata: ["call_id": "\(id.callID)", "digit": "\(dtmf.digit)", "duration_ms": "\(dtmf.durationMilliseconds.map(String.init) ?? "")", "via": "info"])
            }
            respond(Self.response(to: request, 200, "OK"), key: key)
        } catch {
            respond(Self.response(to: request, 400, "Bad Request (\(error.message))"), key: key)
        }
    }
}
