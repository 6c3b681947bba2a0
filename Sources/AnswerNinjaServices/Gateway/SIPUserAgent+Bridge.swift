import AnswerNinjaCore
import Conversation
import Logging
import MediaTransport
import SDP
import SIPDialogs
import SIPMessages
import SIPTransactions
import SIPTransport
import Store

/// The B2BUA for wanted callers (the screening decision `connect`): the caller hears ringing while every registered
/// device of the user rings (`callDevices`' fork, with the caller shown in From); the first device to answer gets the
/// call — the caller's 200 goes out then, and the two legs carry each other's audio (`RTPCallSession.bridge`,
/// transcoding as PCM when their codecs differ) and digits (RFC 4733). A BYE on either leg ends the other with the
/// same Reason; the caller's CANCEL cancels the devices. When no device answers, the caller gets the AI instead (a
/// wanted caller can still leave a message), with the reason recorded.
extension SIPUserAgent {
    /// A caller's INVITE waiting for one of the user's devices.
    struct PendingBridge {
        var key: SIPTransactionKey
        /// The caller's leg, ready to answer (its RTP session open, its 200 built).
        var call: Call
        /// Device INVITEs of the fork not finished yet.
        var outstanding: Int
        /// Set when the waiting leg is a user's device calling out (the other leg is the trunk's).
        var outbound: OutboundCall? = nil
        /// The device INVITE (by Call-ID) whose early media the caller hears, once one brought it.
        var earlyMedia: String? = nil
    }

    /// The INVITE requires reliable provisional responses (RFC 3262).
    static func requires100rel(_ request: SIPRequest) -> Bool {
        request.headers.list("Require").contains { $0.lowercased() == "100rel" }
    }

    /// An unreliable 180 Ringing to the INVITE of `call`, the caller waiting to be answered (with its To tag and our
    /// Contact).
    func sendRinging(_ request: SIPRequest, key: SIPTransactionKey, call: Call) {
        var ringing = Self.response(to: request, 180, "Ringing")
        ringing.headers.set("To", call.retransmission?.response.headers.first("To") ?? "")
        ringing.headers.add("Contact", contact(for: call.source))
        respond(ringing, key: key)
    }

    /// The caller waiting for a bridge hears ringing: a reliable 180 when its INVITE requires 100rel (the pending
    /// bridge owns the call; the PRACK is answered, the 200 waits for the other leg), else an unreliable one.
    func ringCaller(_ request: SIPRequest, key: SIPTransactionKey, call: Call) {
        if Self.requires100rel(request), let ok = call.retransmission?.response {
            ringReliably(request, key: key, call: call, ok: ok, bridging: true)
        } else {
            sendRinging(request, key: key, call: call)
        }
    }

    /// The device account a forwarding target names: the user part of a `sip:` URI (`sip:alice@...` → `alice`).
    static func deviceUser(_ target: String?) -> String? {
        guard let target, let uri = try? SIPURI(parsing: target[...]) else { return nil }
        return uri.user?.lowercased()
    }

    /// Starts ringing the user's devices (or their number, through the trunk) for the caller of `call`; nil when it
    /// did, else why not (the reason the record gets): no forwarding target, no live binding, no trunk. The caller is
    /// then answered as usual. A caller that requires reliable provisional responses hears a reliable 180 (RFC 3262).
    func connect(_ request: SIPRequest, key: SIPTransactionKey, call: Call) -> String? {
        guard let target = call.screening?.forwardingTarget else { return "connect:no_forwarding_target" }
        guard let device = Self.deviceUser(target) else {
            guard case .number(let number)? = try? DialledNumber(userPart: target) else { return "connect:forwarding_target_unusable" }
            return forward(request, key: key, call: call, to: number)
        }
        let bindings = deviceBindings(of: device)
        guard !bindings.isEmpty else { return "connect:no_device_registered" }
        ringCaller(request, key: key, call: call)
        let fork = SIPToken.random()
        pendingBridges[fork] = PendingBridge(key: key, call: call, outstanding: bindings.count)
        logger.info("bridging", metadata: ["call_id": "\(call.dialog.id.callID)", "device": "\(device)", "bindings": "\(bindings.count)"])
        ring(bindings, of: device, for: call, fork: fork) { agent in agent.bridgeAttemptFailed(fork) }
        return nil
    }

    /// Rings every binding of `device` for the caller of `call`, as the INVITEs of `fork`; `failed` runs for each
    /// that does not answer (the first to answer ends the others, in `deviceAnswered`).
    func ring(
        _ bindings: [SIPLocationService<SIPFlow>.Binding], of device: String, for call: Call, fork: String,
        failed: @escaping @Sendable (isolated SIPUserAgent) -> Void
    ) {
        let caller = call.identity?.caller, callID = call.dialog.id.callID
        for binding in bindings {
            Task {
                let result = await callDevice(binding, user: device, hold: settings.maximumBridgedDuration, fork: fork, caller: caller)
                guard !result.answered else { return }
                logger.info("device did not take the call", metadata: [
                    "call_id": "\(callID)", "device_call_id": "\(result.callId)", "status": "\(result.statusCode.map(String.init) ?? "none")",
                    "reason": "\(result.reason ?? "")",
                ])
                failed(self)
            }
        }
    }

    /// Cancels the INVITEs of `fork` still ringing: the caller went (`Reason: SIP;cause=487`).
    func cancelRinging(_ fork: String) {
        for (callID, invite) in deviceInvites where invite.fork == fork {
            cancelDeviceInvite(callID, reason: SIPReason(protocolName: "SIP", cause: 487, text: "Call cancelled by the caller"))
        }
    }

    /// Joins the caller's leg and a device's leg: each names the other, and each session carries what the other
    /// receives — packets relayed as they come when the legs share a codec, transcoded through PCM when they do not.
    /// Returns how (`relay` or `transcode`).
    @discardableResult
    func link(_ caller: inout Call, _ device: inout Call) -> String {
        let now = unixMilliseconds()
        caller.bridgedTo = device.dialog.id
        caller.bridgedAt = now
        device.bridgedTo = caller.dialog.id
        device.bridgedAt = now
        guard let callerSession = caller.session, let deviceSession = device.session else { return "none (media in a media role)" }
        return Self.join(callerSession, caller.audio, deviceSession, device.audio)
    }

    /// Makes two sessions carry each other's media: relayed when their codecs allow it, else transcoded; returns
    /// which (`relay` or `transcode`).
    static func join(_ a: RTPCallSession, _ aAudio: NegotiatedAudio, _ b: RTPCallSession, _ bAudio: NegotiatedAudio) -> String {
        let relay = aAudio.pathCodec.relays(to: bAudio.pathCodec)
        a.bridge(to: b, relay: relay)
        b.bridge(to: a, relay: relay)
        return relay ? "relay" : "transcode"
    }

    /// The fork of the pending bridge whose caller's INVITE is `key`.
    func bridgeFork(waitingOn key: SIPTransactionKey) -> String? {
        pendingBridges.first { $0.value.key == key }?.key
    }

    /// A device of the fork answered (its leg is a call now): the caller is answered and the legs joined. If the
    /// caller has gone meanwhile, the device is hung up.
    func bridgeAnswered(fork: String, device id: SIPDialog.ID) {
        let pending = pendingBridges.removeValue(forKey: fork)
        guard let pending, transactions[pending.key]?.transaction.state == .proceeding, var device = calls[id] else {
            if let pending { release(pending.call.media) }
            hangUp(id, reason: SIPReason(protocolName: "SIP", cause: 487, text: "The caller hung up"))
            return
        }
        var caller = pending.call
        // Another device's early media came first: its leg lost the fork (its CANCEL is on the way) and stops here.
        if let early = pending.earlyMedia, early != id.callID { deviceInvites[early]?.session.unbridge() }
        let media = link(&caller, &device)
        calls[id] = device
        stopReliableRinging(for: pending.key)
        accept(key: pending.key, call: caller)
        if let outbound = pending.outbound { learnCalled(outbound) }
        logger.info("bridged", metadata: [
            "call_id": "\(caller.dialog.id.callID)", "device_call_id": "\(id.callID)", "caller_codec": "\(caller.audio.codec.rawValue)",
            "device_codec": "\(device.audio.codec.rawValue)", "media": "\(media)",
        ])
    }

    /// A device of the fork did not answer; when none is left, the caller gets the AI.
    func bridgeAttemptFailed(_ fork: String) {
        guard var pending = pendingBridges[fork] else { return }
        pending.outstanding -= 1
        guard pending.outstanding == 0 else {
            pendingBridges[fork] = pending
            return
        }
        pendingBridges[fork] = nil
        guard transactions[pending.key]?.transaction.state == .proceeding else { return }
        var call = pending.call
        call.screening?.decision.reasons.append("connect:no_answer")
        stopReliableRinging(for: pending.key)
        // Early media came and went: the caller's session is its own again, for the assistant.
        if pending.earlyMedia != nil { call.session?.unbridge() }
        accept(key: pending.key, call: call)
    }

    /// The caller cancelled while the devices rang: they are cancelled too, and the call is recorded as missed.
    func cancelBridge(for key: SIPTransactionKey) {
        guard let fork = bridgeFork(waitingOn: key), let pending = pendingBridges[fork] else { return }
        pendingBridges[fork] = nil
        cancelRinging(fork)
        release(pending.call.media)
        // A device calling out has no record: only calls to the user's numbers do.
        if pending.outbound == nil { recordUnanswered(pending.call, outcome: "caller_cancelled", reason: "CANCEL while the user's devices rang") }
    }
}

/// The user's controls on a live call (`POST /api/v1/calls/{id}/hangup` and `/takeover`).
extension SIPUserAgent {
    enum ControlResult: Sendable, Equatable {
        /// Done (`hangup`), or the user's devices are ringing (`takeover`, with how many).
        case accepted(devices: Int)
        /// No call of this user with this id is in progress here.
        case notLive
        /// The take-over cannot ring anything: why.
        case refused(String)
    }

    /// The answered caller's leg `callID` of `userId`.
    private func liveCall(_ callID: String, of userId: String) -> SIPDialog.ID? {
        calls.first { $0.key.callID == callID && $0.value.identity != nil && $0.value.screening?.userId == userId }?.key
    }

    /// Hangs up the caller, with `Reason: Q.850;cause=16;text="Hung up by the user"`.
    func hangUp(callID: String, userId: String) -> ControlResult {
        guard let id = liveCall(callID, of: userId) else { return .notLive }
        hangUp(id, reason: .normalClearing("Hung up by the user"), side: "user")
        return .accepted(devices: 0)
    }

    /// Rings the user's devices for a call the assistant holds; the first to answer hears `announcement` (the
    /// assistant's one line about the caller, when it puts a wanted caller through) and is then bridged to the caller
    /// (the assistant stops), and the call goes on to the bridged cap. If no device answers, the assistant carries on.
    func takeOver(callID: String, userId: String, announcement: String? = nil) -> ControlResult {
        guard let id = liveCall(callID, of: userId), let call = calls[id] else { return .notLive }
        guard call.bridgedTo == nil, !announcing.contains(id), !pendingTakeovers.values.contains(where: { $0.caller == id }) else {
            return .refused("already_bridged")
        }
        guard let device = Self.deviceUser(call.screening?.forwardingTarget) else { return .refused("no_device_target") }
        let bindings = deviceBindings(of: device)
        guard !bindings.isEmpty else { return .refused("no_device_registered") }
        let fork = SIPToken.random()
        pendingTakeovers[fork] = (id, bindings.count, announcement)
        logger.info("taking over", metadata: ["call_id": "\(callID)", "device": "\(device)", "bindings": "\(bindings.count)"])
        ring(bindings, of: device, for: call, fork: fork) { agent in agent.takeoverAttemptFailed(fork) }
        return .accepted(devices: bindings.count)
    }

    /// A device answered a take-over: it hears the announcement first, if there is one (synthesised by the
    /// assistant's voice and played on the device's leg alone), then the legs are joined.
    func takeoverAnswered(fork: String, device id: SIPDialog.ID) {
        guard let pending = pendingTakeovers.removeValue(forKey: fork), calls[pending.caller] != nil, let device = calls[id] else {
            hangUp(id, reason: SIPReason(protocolName: "SIP", cause: 487, text: "The caller hung up"))
            return
        }
        guard let announcement = pending.announcement, let assistant else {
            joinTakeover(pending.caller, device: id)
            return
        }
        logger.info("announcing the caller", metadata: ["call_id": "\(pending.caller.callID)", "device_call_id": "\(id.callID)", "line": "\(announcement)"])
        guard let session = device.session else {
            joinTakeover(pending.caller, device: id)
            return
        }
        let callerID = pending.caller, logger = logger
        announcing.insert(callerID)
        Task {
            var samples = 0
            do {
                let audio = try await assistant.services().synthesizer.synthesizeAll(announcement, rate: .narrowband)
                samples = audio.count
                session.enqueue(audio)
            } catch {
                logger.error("announcement not synthesised: the caller is put through without it", metadata: ["error": "\(error)"])
            }
            // Played out, or its length and two seconds more (a device leg whose media never started).
            let played = AsyncStream.makeStream(of: Void.self)
            session.whenPlayedOut { played.continuation.finish() }
            let limit = Task {
                try? await Task.sleep(for: .milliseconds(Int64(samples / 8 + 2000)))
                played.continuation.finish()
            }
            for await _ in played.stream {}
            limit.cancel()
            await self.joinTakeover(callerID, device: id)
        }
    }

    /// Joins a taken-over caller and the device that answered: the assistant stops, the call's cap becomes the
    /// bridged one, and the record and the live view learn that the user took it. Either leg gone: the other ends.
    func joinTakeover(_ callerID: SIPDialog.ID, device id: SIPDialog.ID) {
        announcing.remove(callerID)
        guard var caller = calls[callerID], var device = calls[id], caller.bridgedTo == nil else {
            if calls[id] != nil { hangUp(id, reason: SIPReason(protocolName: "SIP", cause: 487, text: "The caller hung up")) }
            return
        }
        // The caller's media is in the media role: it comes here first (a re-INVITE), then this join runs again.
        if case .remote = caller.media {
            announcing.insert(callerID)
            return reanchor(callerID, thenJoin: id)
        }
        if let assistant = assistantCalls.removeValue(forKey: callerID.callID) { Task { await assistant.stop(.transferred) } }
        let media = link(&caller, &device)
        caller.screening?.decision.outcome = .connect
        caller.screening?.decision.reasons.append("takeover:by_user")
        calls[callerID] = caller
        calls[id] = device
        cancelTimer("limit|\(callerID.callID)")
        scheduleTimer("limit|\(callerID.callID)", after: settings.maximumBridgedDuration) { agent in
            agent.hangUp(callerID, reason: .normalClearing("Maximum call duration reached"))
        }
        if let screening = caller.screening {
            callRecorder?.record(.decided(decision: "connect", reasons: screening.decision.reasons), callId: callerID.callID, startedAt: caller.startedAt)
        }
        publishStart(caller, decisionOnly: true)
        logger.info("taken over", metadata: ["call_id": "\(callerID.callID)", "device_call_id": "\(id.callID)", "media": "\(media)"])
    }

    func takeoverAttemptFailed(_ fork: String) {
        guard var pending = pendingTakeovers[fork] else { return }
        pending.outstanding -= 1
        pendingTakeovers[fork] = pending.outstanding > 0 ? pending : nil
        if pending.outstanding == 0 { logger.info("take-over not answered: the assistant carries on", metadata: ["call_id": "\(pending.caller.callID)"]) }
    }

    /// The caller hung up while a take-over rang: the devices are cancelled.
    func cancelTakeover(of caller: SIPDialog.ID) {
        guard let fork = pendingTakeovers.first(where: { $0.value.caller == caller })?.key else { return }
        pendingTakeovers[fork] = nil
        cancelRinging(fork)
    }
}

/// The assistant on answered calls.
extension SIPUserAgent {
    /// Puts an assistant on `call` with the user's persona, disclosure, challenge and greeting; it hangs up through
    /// this agent, and a transfer becomes a take-over (the user's devices ring).
    func startAssistant(for call: Call, screening: CallScreener.Screening, loader: AssistantLoader) {
        let id = call.dialog.id
        let (start, greeting) = Self.conversationStart(for: call, screening: screening)
        guard let session = call.session else {
            if case .remote(let mediaId) = call.media { startRemoteAssistant(mediaId, start: start, greeting: greeting) }
            return
        }
        let context = AssistantCall.Context(callId: id.callID, userId: screening.userId, startedAt: call.startedAt, start: start, greeting: greeting)
        let actions = AssistantCall.Actions(
            hangUp: { [weak self] reason in await self?.hangUp(id, reason: .normalClearing(reason), side: "assistant") },
            takeOver: { [weak self] announcement in
                guard let self, let userId = screening.userId else { return }
                _ = await self.takeOver(callID: id.callID, userId: userId, announcement: announcement)
            }
        )
        let assistant = AssistantCall(
            context: context, session: session, loader: loader, actions: actions,
            report: AssistantReporting(recorder: callRecorder, events: events, callId: id.callID, userId: screening.userId, startedAt: call.startedAt).apply,
            metrics: transport.metrics, logger: logger
        )
        assistantCalls[id.callID] = assistant
        Task { await assistant.start() }
    }

    /// The conversation's start for a call: the user's persona and dialog options, and the caller; and the user's
    /// own greeting, said instead of the persona's opening line.
    static func conversationStart(for call: Call, screening: CallScreener.Screening) -> (ConversationMessage.Start, greeting: String?) {
        let id = call.dialog.id
        let user = screening.settings
        // The conversation's start: the user's persona and dialog options, and the caller.
        let callerNumber = (try? DialledNumber(userPart: call.identity?.caller ?? "")).flatMap { if case .number(let n) = $0 { n } else { nil } }
        let start = ConversationMessage.Start(
            callId: (try? CallID(id.callID)) ?? CallID.random(), userId: screening.userId ?? "", caller: .init(number: callerNumber),
            // A persona this build does not know (old data) is the polite one, as before, not a refused conversation.
            persona: (Persona(rawValue: user.persona) ?? .polite).rawValue,
            reasons: screening.decision.reasons, announceRecording: user.recordingDisclosure, challenge: user.challenge, timeWaster: user.timeWaster,
            // The user's wanted-caller treatment: offer to put them through (then announce them), or only take a message.
            offerConnect: user.wantedTreatment == "bridge"
        )
        return (start, user.greeting)
    }
}
