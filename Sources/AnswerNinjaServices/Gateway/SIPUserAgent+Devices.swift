import AnswerNinjaCore
import Logging
import MediaTransport
import NIOCore
import SDP
import SIPAuth
import SIPDialogs
import SIPMessages
import SIPTransactions
import SIPTransport
import SRTP

/// Calls to users' registered devices (the UAC leg the B2BUA of issue 7 bridges wanted callers over): an INVITE to
/// each live binding, sent over the flow the device registered on — its TCP or TLS connection, or the address its
/// REGISTER came from — so that it rings behind NAT. The INVITEs of one call fork in parallel and the first answer
/// wins: the others are cancelled with `Reason: SIP;cause=200;text="Call completed elsewhere"` (RFC 3326), and one
/// that answers anyway is ACKed and hung up. Until the bridge exists, an answered device hears the greeting and is
/// recorded like any call, and is hung up after `hold`.
extension SIPUserAgent {
    /// An INVITE sent to a device, not answered yet.
    struct DeviceInvite {
        var invite: SIPRequest
        var flow: SIPFlow
        var session: RTPCallSession
        var offer: SDPOfferer.Offer
        var hold: Duration
        var done: CheckedContinuation<DeviceCallResult, Never>?
        /// A provisional response came (a 100 Trying too): the INVITE may be cancelled now (RFC 3261 §9.1).
        var provisional = false
        /// A provisional above 100 came: the device (or the far end) rings.
        var ringing = false
        /// The SDP of a provisional response that brought early media (a 183 with an answer): its session runs, and
        /// is bridged to the waiting caller, before the 200.
        var earlySDP: String? = nil
        /// The INVITEs of one `callDevices`, which the first answer ends.
        var fork: String
        /// Why it is being cancelled, once it is; its CANCEL goes out as soon as it rings.
        var cancelReason: SIPReason?
        var cancelSent = false
        /// The trunk's credentials, for an INVITE through the trunk: a 401 or 407 is answered with them, once.
        var trunkDigest: DigestClient? = nil
        var challenged = false
    }

    /// How ringing one binding went.
    struct DeviceCallResult: Codable, Sendable {
        var callId: String
        var flow: String
        var answered: Bool
        var statusCode: Int?
        var reason: String?
    }

    /// Our offers to a device (or the trunk) on `flow` and the reading of its answers, from our media address: SRTP
    /// (SDES) only over TLS, where its keys are not sent in the clear; plain RTP otherwise, which every softphone takes
    /// (an RTP/SAVP offer is refused outright by one without SRTP, and SDES keys over UDP would protect nothing).
    func offerer(for flow: SIPFlow) -> SDPOfferer {
        var capabilities = settings.media
        if flow.transportName != "TLS" { capabilities.srtp = .off }
        return SDPOfferer(capabilities: capabilities, localAddress: advertisedMediaHost)
    }

    /// Rings every live binding of `user` at once; returns when each has answered or failed.
    func callDevices(of user: String, hold: Duration) async -> [DeviceCallResult] {
        let bindings = deviceBindings(of: user)
        let fork = SIPToken.random()
        return await withTaskGroup(of: DeviceCallResult.self) { group in
            for binding in bindings {
                group.addTask { await self.callDevice(binding, user: user, hold: hold, fork: fork) }
            }
            var results: [DeviceCallResult] = []
            for await result in group { results.append(result) }
            return results.sorted { $0.callId < $1.callId }
        }
    }

    /// Rings one binding; `caller` (a number or name) is shown to the device in From, for a bridged caller.
    func callDevice(_ binding: SIPLocationService<SIPFlow>.Binding, user: String, hold: Duration, fork: String, caller: String? = nil) async -> DeviceCallResult {
        let callID = SIPToken.random() + "@answer-ninja"
        let session: RTPCallSession
        do {
            session = try await RTPCallSession.open(pool: pool, host: mediaHost, group: group, now: Self.now())
        } catch {
            return DeviceCallResult(callId: callID, flow: "\(binding.flow)", answered: false, statusCode: nil, reason: "no RTP port")
        }
        // Another device of the fork answered while this one's port was opening: it is not rung at all.
        guard !answeredForks.contains(fork) else {
            release(session)
            return DeviceCallResult(callId: callID, flow: "\(binding.flow)", answered: false, statusCode: nil, reason: "call completed elsewhere")
        }
        let offer = offerer(for: binding.flow).offer(localPort: session.localPort)
        var headers = SIPHeaders()
        headers.add("Via", via(for: binding.flow).serialized)
        // Registered through an edge proxy: its Path is this request's route (RFC 3327 §5.3), sent to the flow
        // the REGISTER came over, which is that proxy.
        for hop in binding.path { headers.add("Route", hop) }
        headers.add("Max-Forwards", "70")
        if let caller = caller.map({ String($0.filter { $0.isLetter || $0.isNumber || $0 == "+" }.prefix(32)) }), !caller.isEmpty {
            headers.add("From", "\"\(caller)\" <sip:\(caller)@\(transport.host)>;tag=\(SIPToken.random())")
        } else {
            headers.add("From", "\"Answer Ninja\" <sip:gateway@\(transport.host)>;tag=\(SIPToken.random())")
        }
        headers.add("To", "<sip:\(user)@\(transport.host)>")
        headers.add("Call-ID", callID)
        headers.add("CSeq", "1 INVITE")
        headers.add("Contact", contact(for: binding.flow))
        headers.add("Allow", SIPUASPolicy.gateway.allowedMethods.joined(separator: ", "))
        headers.add("Content-Type", "application/sdp")
        let invite = SIPRequest(method: "INVITE", uri: binding.contact, headers: headers, body: ByteBuffer(string: offer.description.serialized))
        return await place(DeviceInvite(invite: invite, flow: binding.flow, session: session, offer: offer, hold: hold, fork: fork), ringTimeout: settings.deviceRingTimeout)
    }

    /// Sends an INVITE of ours and waits for its outcome; after `ringTimeout` it is cancelled.
    func place(_ pending: DeviceInvite, ringTimeout: Duration) async -> DeviceCallResult {
        let callID = pending.invite.headers.first("Call-ID") ?? ""
        return await withCheckedContinuation { continuation in
            var pending = pending
            pending.done = continuation
            deviceInvites[callID] = pending
            startClientTransaction(pending.invite, to: pending.flow, purpose: .deviceCall(callID))
            scheduleTimer("ring|\(callID)", after: ringTimeout) { agent in
                agent.cancelDeviceInvite(callID, reason: SIPReason(protocolName: "SIP", cause: 480, text: "Device did not answer"))
            }
        }
    }

    /// Cancels a device's INVITE with `reason`: a CANCEL (same Request-URI, Call-ID, From, To, top Via and CSeq
    /// number, §9.1) once any provisional response came — a 100 Trying is enough, so a PSTN leg that sits at 100 is
    /// cancelled at once — since a CANCEL may only follow one; its 487 then ends the attempt. One that never answers
    /// at all is left to timer B, and one that answers anyway is hung up.
    func cancelDeviceInvite(_ callID: String, reason: SIPReason) {
        guard var pending = deviceInvites[callID], !pending.cancelSent else { return }
        if pending.cancelReason == nil { pending.cancelReason = reason }
        guard pending.provisional else {
            deviceInvites[callID] = pending
            return
        }
        pending.cancelSent = true
        deviceInvites[callID] = pending
        var headers = SIPHeaders()
        for name in ["Via", "Max-Forwards", "From", "To", "Call-ID"] {
            if let value = pending.invite.headers.first(name) { headers.add(name, value) }
        }
        // The CANCEL takes the INVITE's route (RFC 3261 §9.1), so that it reaches the same proxies.
        for route in pending.invite.headers["Route"] { headers.add("Route", route) }
        headers.add("CSeq", "\(pending.invite.headers.cseq?.sequence ?? 1) CANCEL")
        headers.add("Reason", (pending.cancelReason ?? reason).serialized)
        startClientTransaction(SIPRequest(method: "CANCEL", uri: pending.invite.uri, headers: headers), to: pending.flow, purpose: .bye)
        logger.info("device call cancelled", metadata: ["call_id": "\(callID)", "reason": "\(Self.describe(pending.cancelReason ?? reason))"])
    }

    /// A provisional response from a device: a pending cancellation can go out, and above 100 it rings (relayed to
    /// a device calling out).
    func deviceProvisional(_ callID: String, response: SIPResponse) {
        guard var pending = deviceInvites[callID] else { return }
        let first = !pending.provisional, ringsNow = response.statusCode > 100 && !pending.ringing
        if first || ringsNow {
            pending.provisional = true
            if ringsNow { pending.ringing = true }
            deviceInvites[callID] = pending
            if first, let reason = pending.cancelReason { cancelDeviceInvite(callID, reason: reason) }
        }
        // Early media stands for ringing; without it (none offered, or not usable here) the ringing is relayed.
        let early = response.statusCode > 100 && response.body.readableBytes > 0 && pending.earlySDP == nil && pending.cancelReason == nil
            && earlyMedia(callID, response: response)
        if ringsNow, !early { relayRinging(fork: pending.fork) }
    }

    /// A provisional response with an SDP answer (early media: a carrier's ringback or announcement, a device's
    /// early answer) on a bridge: the device's session starts on it and is joined to the waiting caller's, who gets
    /// 183 Session Progress with the SDP its 200 will carry (the same session), so the caller hears what the far end
    /// plays before the answer. Not for a caller that required 100rel (its 18x would have to be reliable: it hears
    /// the 180 and then the call) nor for a take-over (the caller is talking to the assistant). An answer that cannot
    /// be used is left alone: the call goes on without early media. True when early media started.
    func earlyMedia(_ callID: String, response: SIPResponse) -> Bool {
        guard var pending = deviceInvites[callID], var bridge = pendingBridges[pending.fork], bridge.earlyMedia == nil,
              let entry = transactions[bridge.key], entry.transaction.state == .proceeding, !Self.requires100rel(entry.transaction.request),
              var progress = bridge.call.retransmission?.response, let caller = bridge.call.session
        else { return false }
        let sdp = String(decoding: response.body.readableBytesView, as: UTF8.self)
        let audio: NegotiatedAudio
        let remote: SocketAddress
        do {
            audio = try offerer(for: pending.flow).accept(try SessionDescription(parsing: sdp), for: pending.offer)
            remote = try SocketAddress(ipAddress: audio.remoteAddress, port: audio.remotePort)
        } catch {
            logger.warning("early media not used", metadata: ["call_id": "\(callID)", "error": "\(error)"])
            return false
        }
        pending.earlySDP = sdp
        deviceInvites[callID] = pending
        bridge.earlyMedia = callID
        pendingBridges[pending.fork] = bridge
        // The caller's 183: its 200's To tag, Contact and SDP.
        progress.statusCode = 183
        progress.reasonPhrase = "Session Progress"
        for name in ["Allow", "Supported", "Session-Expires", "Require"] { progress.headers.remove(name) }
        respond(progress, key: bridge.key)
        let device = pending.session, logger = logger
        let media = Self.join(caller, bridge.call.audio, device, audio)
        transport.metrics.watchPacing(device)
        Task {
            do {
                try await device.prepare(for: audio, remote: remote)
                device.start(playing: [])
                caller.start(playing: [])
            } catch {
                logger.error("early media not started", metadata: ["call_id": "\(callID)", "error": "\(error)"])
            }
        }
        logger.info("early media", metadata: [
            "call_id": "\(bridge.call.dialog.id.callID)", "device_call_id": "\(callID)", "status": "\(response.statusCode)",
            "media": "\(media)",
        ])
        return true
    }

    /// The final response to an INVITE we sent to a device (a resent 2xx is ACKed again before it gets here).
    func deviceAnswered(_ callID: String, response: SIPResponse, destination: SIPFlow) {
        guard let pending = deviceInvites.removeValue(forKey: callID) else { return }
        let flow = "\(pending.flow)"
        // A trunk's challenge is answered (the ring timer runs on); a CANCEL already decided on ends the attempt.
        if response.statusCode == 401 || response.statusCode == 407, pending.cancelReason == nil, answerChallenge(pending, response: response) { return }
        cancelTimer("ring|\(callID)")
        guard response.statusCode / 100 == 2 else {
            earlyMediaEnded(callID, fork: pending.fork)
            release(pending.session)
            pending.done?.resume(returning: DeviceCallResult(callId: callID, flow: flow, answered: false, statusCode: response.statusCode, reason: response.reasonPhrase))
            return
        }
        // Cancelled (another device won, or it rang too long) but answered anyway: ACK it and hang up (§9.1).
        if let reason = pending.cancelReason {
            failDevice(pending, response: response, reason: "answered after its CANCEL", byeReason: reason)
            return
        }
        let audio: NegotiatedAudio
        let remote: SocketAddress
        do {
            let answer = try SessionDescription(parsing: String(decoding: response.body.readableBytesView, as: UTF8.self))
            audio = try offerer(for: pending.flow).accept(answer, for: pending.offer)
            remote = try SocketAddress(ipAddress: audio.remoteAddress, port: audio.remotePort)
        } catch {
            // A 2xx we cannot use is still ACKed, then ended with a BYE (RFC 3261 §13.2.2.4).
            failDevice(pending, response: response, reason: "unusable answer: \(error)")
            return
        }
        guard var dialog = try? SIPDialog(uac: pending.invite, response: response) else {
            failDevice(pending, response: response, reason: "the 2xx forms no dialog")
            return
        }
        // The first usable answer wins: every other INVITE of the fork is cancelled (an unusable one above does not
        // end the fork).
        for (other, invite) in deviceInvites where invite.fork == pending.fork {
            cancelDeviceInvite(other, reason: SIPReason(protocolName: "SIP", cause: 200, text: "Call completed elsewhere"))
        }
        // A device of the fork still opening its port is not rung (`callDevice`); remembered while any could be.
        answeredForks.insert(pending.fork)
        let fork = pending.fork
        scheduleTimer("fork|\(fork)", after: .seconds(10)) { agent in agent.answeredForks.remove(fork) }
        let ack = Self.ack(of: pending, dialog: &dialog, via: via(for: pending.flow))
        transport.send(.request(ack), to: pending.flow)
        var call = Call(
            dialog: dialog, source: pending.flow, media: .local(pending.session), retransmission: nil, negotiation: nil,
            localSDP: pending.offer.description, audio: audio, identity: nil, sessionTimer: nil,
            peerAllowsUpdate: response.headers.list("Allow").contains { $0.uppercased() == "UPDATE" }
        )
        call.refreshACK = ack
        calls[dialog.id] = call
        transport.metrics.calls(calls.count)
        let id = dialog.id
        let session = pending.session
        // A bridged leg plays what the caller says; a device called on its own hears the greeting.
        let bridging = pendingBridges[pending.fork] != nil, takingOver = pendingTakeovers[pending.fork] != nil
        let greeting = bridging || takingOver ? [] : greeting
        let logger = logger
        let sameSDP = pending.earlySDP == String(decoding: response.body.readableBytesView, as: UTF8.self)
        if !sameSDP { transport.metrics.watchPacing(session) }
        Task {
            do {
                // Early media on the same SDP that started: its session goes on (its SRTP and sequence continue).
                let running = sameSDP ? await session.isPrepared : false
                if !running { try await session.prepare(for: audio, remote: remote) }
                session.start(playing: greeting)
            } catch {
                logger.error("device media not started", metadata: ["call_id": "\(callID)", "error": "\(error)"])
            }
        }
        if bridging { bridgeAnswered(fork: pending.fork, device: id) }
        if takingOver { takeoverAnswered(fork: pending.fork, device: id) }
        logger.info("device answered", metadata: [
            "call_id": "\(callID)", "flow": "\(flow)", "codec": "\(audio.codec.rawValue)", "rtp_port": "\(session.localPort)",
        ])
        scheduleTimer("limit|\(callID)", after: pending.hold) { agent in agent.hangUp(id, reason: .normalClearing("Device call over")) }
        pending.done?.resume(returning: DeviceCallResult(callId: callID, flow: flow, answered: true, statusCode: response.statusCode, reason: response.reasonPhrase))
    }

    /// The device INVITE whose early media the caller heard failed (the others of the fork may still ring): the
    /// caller's session is its own again, and the caller hears ringing (a 180 after the 183; its phone plays its own
    /// ringback), so that a 183 from another device, or the assistant, can follow.
    func earlyMediaEnded(_ callID: String, fork: String) {
        guard var bridge = pendingBridges[fork], bridge.earlyMedia == callID else { return }
        bridge.earlyMedia = nil
        pendingBridges[fork] = bridge
        bridge.call.session?.unbridge()
        guard let entry = transactions[bridge.key], entry.transaction.state == .proceeding else { return }
        sendRinging(entry.transaction.request, key: bridge.key, call: bridge.call)
    }

    /// No final response from the device (timer B), or its flow is gone.
    func deviceTimedOut(_ callID: String) {
        guard let pending = deviceInvites.removeValue(forKey: callID) else { return }
        cancelTimer("ring|\(callID)")
        earlyMediaEnded(callID, fork: pending.fork)
        release(pending.session)
        pending.done?.resume(returning: DeviceCallResult(callId: callID, flow: "\(pending.flow)", answered: false, statusCode: nil, reason: "no answer"))
    }

    /// The ACK of the 2xx to our INVITE: its CSeq number, and the credentials the INVITE carried (RFC 3261
    /// §13.2.2.4: a trunk that challenged the INVITE checks them on the ACK too).
    static func ack(of pending: DeviceInvite, dialog: inout SIPDialog, via: SIPVia) -> SIPRequest {
        var ack = dialog.makeRequest(method: "ACK", via: via, contact: "", sequence: pending.invite.headers.cseq?.sequence ?? 1)
        for name in ["Authorization", "Proxy-Authorization"] {
            if let credentials = pending.invite.headers.first(name) { ack.headers.add(name, credentials) }
        }
        return ack
    }

    /// A 2xx we cannot use: ACK it and end the dialog at once, with `byeReason` (488 by default).
    private func failDevice(_ pending: DeviceInvite, response: SIPResponse, reason: String, byeReason: SIPReason? = nil) {
        release(pending.session)
        if var dialog = try? SIPDialog(uac: pending.invite, response: response) {
            transport.send(.request(Self.ack(of: pending, dialog: &dialog, via: via(for: pending.flow))), to: pending.flow)
            var bye = dialog.makeRequest(method: "BYE", via: via(for: pending.flow), contact: contact(for: pending.flow))
            bye.headers.add("Reason", (byeReason ?? SIPReason(protocolName: "SIP", cause: 488, text: "Not Acceptable Here")).serialized)
            sendBye(bye, callID: pending.invite.headers.first("Call-ID") ?? "", to: pending.flow)
        }
        let callID = pending.invite.headers.first("Call-ID") ?? ""
        logger.warning("device call failed", metadata: ["call_id": "\(callID)", "reason": "\(reason)"])
        pending.done?.resume(returning: DeviceCallResult(callId: callID, flow: "\(pending.flow)", answered: false, statusCode: response.statusCode, reason: reason))
    }
}
