import AnswerNinjaCore
import Foundation
import Logging
import MediaTransport
import NIOCore
import SIPAuth
import SIPDialogs
import SIPMessages
import SIPTransactions
import SIPTransport
import Screening
import Store

/// Calls out through the trunk, of two kinds:
/// - **A user's device dials a number.** The gateway is the device's outbound proxy. The INVITE's From names a device
///   account (`sip.device_accounts`) and must carry that account's digest credentials (407 first, as a proxy asks, RFC
///   3261 §22.3). The dialled number is read in the region of the user whose forwarding target is that device
///   (`api.default_region` unless they set one) and goes to the trunk with the user's own number as the caller. When
///   the far end answers, the number goes on the user's whitelist as a learned entry: people call back the numbers
///   they called.
/// - **A wanted caller forwarded to the user's external number** (a forwarding target that is a number): the caller's
///   number in From, the user's number in Diversion (RFC 5806), as carriers expect of a forwarded call.
///
/// Either way the INVITE goes where the registration goes (the trunk's current target, or the outbound proxy with a
/// Route naming it), is answered with the trunk's
/// credentials when it is challenged (401 or 407, once), and is bridged to the leg that asked for it as a device leg
/// is (`PendingBridge`): ringing relayed, CANCEL propagated, BYE on either side ending both. A device hears the far
/// end's failure (486, 404, …); a forwarded caller whose number does not answer gets the assistant.
extension SIPUserAgent {
    /// A device's call out, waiting for the far end.
    struct OutboundCall: Sendable {
        var number: E164Number
        /// The user the device belongs to; nil when the store did not say (nothing is learned then).
        var userId: String?
        var account: String
        /// A 180 went to the device.
        var ringing = false
    }

    /// How long a call out may ring: the user gives up before this (a CANCEL), or the network does.
    static let outboundRingTimeout: Duration = .seconds(180)

    /// The device account an INVITE's From names, if it names one: the INVITE is that device calling out.
    func callingDevice(_ request: SIPRequest) -> String? {
        guard !settings.deviceAccounts.isEmpty, let from = SIPMessage.request(request).from, let user = SIPLocationService<SIPFlow>.key(from.uri),
              settings.deviceAccounts[user] != nil
        else { return nil }
        return user
    }

    /// Checks a device's INVITE out: a 407 challenge without credentials (or with a stale nonce), 403 for wrong ones or
    /// another account's. True when the INVITE may go on.
    func authorizeCallOut(_ request: SIPRequest, key: SIPTransactionKey, account: String, source: SIPFlow) -> Bool {
        switch authenticateDevice(request, header: "Proxy-Authorization") {
        case .missing:
            challenge(request, key: key, stale: false, proxy: true)
        case .stale:
            challenge(request, key: key, stale: true, proxy: true)
        case .rejected(let username, let reason):
            logger.warning("call out refused", metadata: ["user": "\(username)", "reason": "\(reason)", "from": "\(source)"])
            respond(withTag(Self.response(to: request, 403, "Forbidden")), key: key)
        case .accepted(let username) where username.lowercased() != account:
            respond(withTag(Self.response(to: request, 403, "Forbidden (the credentials are not those of \(account))")), key: key)
        case .accepted:
            return true
        }
        return false
    }

    /// Places a device's call (its leg `call`, ready to answer) through the trunk to the number it dialled.
    func callOut(_ request: SIPRequest, key: SIPTransactionKey, call: Call, account: String) async {
        func refuse(_ code: Int, _ reason: String) {
            release(call.media)
            respond(withTag(Self.response(to: request, code, reason)), key: key)
        }
        // The user the device belongs to: their region reads the number, their number is the caller ID. A store that
        // cannot say does not stop the call (the trunk's account is the caller ID then, and nothing is learned).
        var owner: UserAccount?
        if let platform = screener?.platform {
            do {
                owner = try await platform.users.account(forwardingToDevice: account)
            } catch {
                logger.warning("call out: the device's user not found", metadata: ["device": "\(account)", "error": "\(error)"])
            }
        }
        guard transactions[key]?.transaction.state == .proceeding else {
            release(call.media)
            return
        }
        let region = owner.flatMap { UserSettings(stored: $0.settings).region } ?? settings.defaultRegion
        let dialled = SIPLocationService<SIPFlow>.key(request.uri) ?? ""
        let number: E164Number
        do {
            number = try PhoneNumberNormalizer(region: region).normalize(dialled)
        } catch {
            refuse(484, "Address Incomplete (\(error.message))")
            return
        }
        // No path to the trunk yet (a connection to it or to the outbound proxy that failed): one attempt now, rather
        // than the caller waiting for the next retry.
        if registration != nil, registration?.destination == nil { await connectToTrunk() }
        guard let registration, registration.destination != nil, transactions[key]?.transaction.state == .proceeding else {
            refuse(503, "Service Unavailable (no trunk to call out through)")
            return
        }
        let callerID = owner?.numbers.first { $0.hasPrefix("+") } ?? registration.trunk.username
        let fork = SIPToken.random()
        var pending = PendingBridge(key: key, call: call, outstanding: 1)
        pending.outbound = OutboundCall(number: number, userId: owner?.id, account: account)
        pendingBridges[fork] = pending
        logger.info("calling out", metadata: [
            "call_id": "\(call.dialog.id.callID)", "device": "\(account)", "number": "\(number)", "caller_id": "\(callerID)", "user": "\(owner?.id ?? "unknown")",
        ])
        dialTrunk(number, from: callerID, diversion: nil, fork: fork, ringTimeout: Self.outboundRingTimeout) { agent, result in
            agent.callOutFailed(fork, result)
        }
    }

    /// Rings `number` through the trunk for the INVITEs of `fork`; `failed` runs if it does not answer.
    func dialTrunk(
        _ number: E164Number, from caller: String, diversion: String?, fork: String, ringTimeout: Duration,
        failed: @escaping @Sendable (isolated SIPUserAgent, DeviceCallResult) -> Void
    ) {
        Task {
            let result = await callTrunk(number, from: caller, diversion: diversion, fork: fork, ringTimeout: ringTimeout)
            guard !result.answered else { return }
            trunkCalls.remove(result.callId)
            logger.info("the far end did not take the call", metadata: [
                "call_id": "\(result.callId)", "number": "\(number)", "status": "\(result.statusCode.map(String.init) ?? "none")", "reason": "\(result.reason ?? "")",
            ])
            failed(self, result)
        }
    }

    /// An INVITE to `number` at the trunk's current target, as the caller `caller` (a number, or the trunk's user
    /// name); `diversion`: the number the call was forwarded from.
    func callTrunk(_ number: E164Number, from caller: String, diversion: String?, fork: String, ringTimeout: Duration) async -> DeviceCallResult {
        let callID = SIPToken.random() + "@answer-ninja"
        guard let registration, let flow = registration.destination else {
            return DeviceCallResult(callId: callID, flow: "none", answered: false, statusCode: nil, reason: "no trunk")
        }
        let session: RTPCallSession
        do {
            session = try await RTPCallSession.open(pool: pool, host: mediaHost, group: group, now: Self.now())
        } catch {
            return DeviceCallResult(callId: callID, flow: "\(flow)", answered: false, statusCode: nil, reason: "no RTP port")
        }
        // The caller (or the device) may have gone while the port opened: nothing goes out then.
        guard pendingBridges[fork] != nil else {
            release(session)
            return DeviceCallResult(callId: callID, flow: "\(flow)", answered: false, statusCode: nil, reason: "cancelled before it was sent")
        }
        let host = registration.registrar.host.description
        let offer = offerer(for: flow).offer(localPort: session.localPort)
        let caller = String(caller.filter { $0.isLetter || $0.isNumber || "+-_.".contains($0) }.prefix(32))
        var headers = SIPHeaders()
        headers.add("Via", via(for: flow).serialized)
        headers.add("Max-Forwards", "70")
        if let route = registration.route { headers.add("Route", route) }
        headers.add("From", "<sip:\(caller)@\(host)>;tag=\(SIPToken.random())")
        headers.add("To", "<sip:\(number)@\(host);user=phone>")
        headers.add("Call-ID", callID)
        headers.add("CSeq", "1 INVITE")
        headers.add("Contact", contact(for: flow))
        if let diversion { headers.add("Diversion", "<sip:\(diversion)@\(host);user=phone>;reason=unconditional;counter=1") }
        headers.add("Allow", SIPUASPolicy.gateway.allowedMethods.joined(separator: ", "))
        headers.add("User-Agent", "Answer Ninja \(AnswerNinjaVersion.current)")
        headers.add("Content-Type", "application/sdp")
        var parameters = SIPParameters()
        parameters.set("user", "phone")
        let uri = SIPURI(secure: false, user: number.rawValue, host: registration.registrar.host, port: registration.registrar.port, parameters: parameters)
        let invite = SIPRequest(method: "INVITE", uri: .sip(uri), headers: headers, body: ByteBuffer(string: offer.description.serialized))
        var pending = DeviceInvite(invite: invite, flow: flow, session: session, offer: offer, hold: settings.maximumBridgedDuration, fork: fork)
        pending.trunkDigest = DigestClient(username: registration.trunk.username, password: registration.trunk.password)
        trunkCalls.insert(callID)
        return await place(pending, ringTimeout: ringTimeout)
    }

    /// The trunk challenged an INVITE of ours (401 or 407): the same INVITE again with its credentials, CSeq one
    /// higher and a new branch (RFC 3261 §22.2), once. False when it cannot be answered (no credentials, twice, or a
    /// challenge that does not parse): the attempt has failed then.
    func answerChallenge(_ pending: DeviceInvite, response: SIPResponse) -> Bool {
        guard !pending.challenged, var digest = pending.trunkDigest, let invite = digest.authorize(pending.invite, answering: response, via: via(for: pending.flow)) else {
            return false
        }
        var retry = pending
        retry.invite = invite
        retry.trunkDigest = digest
        retry.challenged = true
        retry.ringing = false
        retry.provisional = false
        let callID = invite.headers.first("Call-ID") ?? ""
        logger.info("call challenged by the trunk", metadata: ["call_id": "\(callID)", "status": "\(response.statusCode)"])
        deviceInvites[callID] = retry
        startClientTransaction(invite, to: pending.flow, purpose: .deviceCall(callID))
        return true
    }

    /// The final response to our BYE on a leg with the trunk: a 401 or 407 is answered with the trunk's credentials,
    /// once (CSeq + 1, a new branch), as the trunk's challenge to our INVITE is; anything else ends it.
    func trunkByeAnswered(_ callID: String, response: SIPResponse) {
        guard let (bye, flow) = trunkByes.removeValue(forKey: callID) else { return }
        guard response.statusCode == 401 || response.statusCode == 407, let registration else { return }
        var digest = DigestClient(username: registration.trunk.username, password: registration.trunk.password)
        guard let retry = digest.authorize(bye, answering: response, via: via(for: flow)) else {
            logger.warning("BYE refused by the trunk", metadata: ["call_id": "\(callID)", "status": "\(response.statusCode)"])
            return
        }
        logger.info("BYE challenged by the trunk", metadata: ["call_id": "\(callID)", "status": "\(response.statusCode)"])
        startClientTransaction(retry, to: flow, purpose: .bye)
    }

    /// The far end rings: the device hears a 180 (once; none for a device that requires 100rel, which this
    /// relay does not send reliably: it waits for the answer).
    func relayRinging(fork: String) {
        guard var pending = pendingBridges[fork], var outbound = pending.outbound, !outbound.ringing else { return }
        outbound.ringing = true
        pending.outbound = outbound
        pendingBridges[fork] = pending
        guard let entry = transactions[pending.key], entry.transaction.state == .proceeding, !Self.requires100rel(entry.transaction.request) else { return }
        sendRinging(entry.transaction.request, key: pending.key, call: pending.call)
    }

    /// The far end did not answer a device's call: the device hears why (`callOutFailure`).
    func callOutFailed(_ fork: String, _ result: DeviceCallResult) {
        guard let pending = pendingBridges.removeValue(forKey: fork) else { return }
        release(pending.call.media)
        guard let entry = transactions[pending.key], entry.transaction.state == .proceeding else { return }
        let (code, phrase) = Self.callOutFailure(statusCode: result.statusCode, reason: result.reason)
        respond(withTag(Self.response(to: entry.transaction.request, code, phrase)), key: pending.key)
    }

    /// What a device hears when its call out fails: the far end's status, except what a device should not act on. A
    /// challenge the trunk kept refusing is 403, a redirect 480, the trunk's 503 a 502, no final answer at all 408,
    /// and a 487: the far end rang past our ring timeout and we cancelled it (the device cancelling ends the attempt
    /// before this), so the device hears 480, not that its own request was cancelled.
    static func callOutFailure(statusCode: Int?, reason: String?) -> (code: Int, phrase: String) {
        switch statusCode {
        case nil: (408, "Request Timeout (\(reason ?? "no answer"))")
        case 401?, 407?: (403, "Forbidden (the trunk refused our credentials)")
        case let code? where code < 400: (480, "Temporarily Unavailable (redirected)")
        case 487?: (480, "Temporarily Unavailable (no answer)")
        case 503?: (502, "Bad Gateway (the trunk is unavailable)")
        case let code?: (code, reason ?? "Failed")
        }
    }

    /// A device's call was answered: the number it called goes on its user's whitelist, learned (unless the user has
    /// an entry for it already).
    func learnCalled(_ outbound: OutboundCall) {
        guard let userId = outbound.userId, let platform = screener?.platform else { return }
        let logger = logger, now = unixMilliseconds()
        let reason = "called by the user \(Date(timeIntervalSince1970: Double(now) / 1000).ISO8601Format())"
        Task { await CallRecorder.teach(outbound.number, userId: userId, reason: reason, now: now, platform: platform, logger: logger) }
    }

    /// A wanted caller whose user forwards to `number`: rung through the trunk (the caller's number shown, the user's
    /// in Diversion); nil when it rings, else why not.
    func forward(_ request: SIPRequest, key: SIPTransactionKey, call: Call, to number: E164Number) -> String? {
        guard registration?.destination != nil else { return "connect:no_trunk" }
        // A forwarding target that leads back here would ring itself through the trunk for ever: the number called
        // itself, or a call we forwarded from this number already (its Diversion names it).
        let called = (try? DialledNumber(userPart: call.identity?.called ?? "")).flatMap { if case .number(let n) = $0 { n } else { nil } }
        let forwardedAlready = called.map { number in request.headers.list("Diversion").contains { $0.contains(number.rawValue) } } ?? false
        guard called != number, !forwardedAlready else { return "connect:forwarding_loop" }
        ringCaller(request, key: key, call: call)
        let fork = SIPToken.random()
        pendingBridges[fork] = PendingBridge(key: key, call: call, outstanding: 1)
        let caller = if case .number(let number)? = try? DialledNumber(userPart: call.identity?.caller ?? "") { number.rawValue } else { "anonymous" }
        logger.info("forwarding", metadata: ["call_id": "\(call.dialog.id.callID)", "number": "\(number)"])
        dialTrunk(number, from: caller, diversion: called?.rawValue, fork: fork, ringTimeout: settings.deviceRingTimeout) { agent, _ in
            agent.bridgeAttemptFailed(fork)
        }
        return nil
    }
}
