import AnswerNinjaCore
import Capture
import Codecs
import Foundation
import Logging
import MediaTransport
import NIOCore
import SDP
import SIPDialogs
import SIPMessages
import SIPTransactions
import SIPAuth
import SIPTransport
import SRTP

/// The gateway's user agent core over SIP/UDP and TCP, until the screening pipeline (issue 7) takes calls over: it answers
/// INVITEs with SDP (G.711, SRTP when offered), plays the greeting, records the caller to
/// `data_dir/recordings/<Call-ID>.wav`, and ends the call on BYE from either side (ours after `maximumDuration`).
/// OPTIONS is answered 200; what the policy refuses gets its 405/415/416/420; requests in unknown dialogs 481.
///
/// An actor: messages from the transport and fired timers arrive in order; transactions and dialogs are the
/// wire-layer state machines, their actions performed here.
actor SIPUserAgent {
    struct Call {
        var dialog: SIPDialog
        var source: SIPFlow
        var session: RTPCallSession
        var retransmission: SIP2xxRetransmission
        var negotiation: SDPAnswerer.Negotiation
        var byeSent = false
    }

    private let transport: SIPTransports
    private let group: any EventLoopGroup
    private let pool: RTPPortPool
    private let answerer: SDPAnswerer
    private let mediaHost: String
    private let recordings: URL
    private let greeting: [Int16]
    /// Our Contact for UDP flows and for TCP flows (which keeps requests to us on TCP, RFC 3261 §18.1.1).
    private let contact: String
    private let contactTCP: String
    private let logger: Logger
    private let maximumDuration: Duration
    private var transactions: [SIPTransactionKey: (transaction: SIPServerTransaction, source: SIPFlow)] = [:]
    private var clientTransactions: [SIPTransactionKey: (transaction: SIPClientTransaction, destination: SIPFlow)] = [:]
    private var timers: [String: Task<Void, Never>] = [:]
    private var calls: [SIPDialog.ID: Call] = [:]
    private var registration: Registration?

    /// Our registration with the trunk (RFC 3261 §10.2): one Call-ID and a rising CSeq across refreshes.
    struct Registration {
        let trunk: NinjaConfiguration.Trunk
        let registrar: SIPURI
        let destination: SIPFlow
        let callID = SIPToken.random() + "@answer-ninja"
        let fromTag = SIPToken.random()
        var sequence: UInt32 = 0
        var digest: DigestClient
        /// Challenges answered since the last success: a second one in a row means the credentials are wrong.
        var challenges = 0
        var pending: SIPTransactionKey?
        var registered = false
    }

    init(
        transport: SIPTransports, group: any EventLoopGroup, pool: RTPPortPool, mediaHost: String, advertisedHost: String, recordings: URL,
        greeting: [Int16], logger: Logger, maximumDuration: Duration = .seconds(120)
    ) {
        self.transport = transport
        self.group = group
        self.pool = pool
        self.mediaHost = mediaHost
        answerer = SDPAnswerer(capabilities: MediaCapabilities(codecs: [.pcmu, .pcma]), localAddress: advertisedHost)
        self.recordings = recordings
        self.greeting = greeting
        let host = advertisedHost.contains(":") ? "[\(advertisedHost)]" : advertisedHost
        contact = "<sip:gateway@\(host):\(transport.udpPort)>"
        contactTCP = "<sip:gateway@\(host):\(transport.tcpPort);transport=tcp>"
        self.logger = logger
        self.maximumDuration = maximumDuration
    }

    // MARK: Incoming

    func receive(_ incoming: SIPIncoming) async {
        switch incoming.message {
        case .request(let request): await receive(request, from: incoming.flow)
        case .response(let response): receive(response)
        }
    }

    private func receive(_ request: SIPRequest, from source: SIPFlow) async {
        if request.method == "ACK" {
            if let id = SIPDialog.id(ofReceived: .request(request)), var call = calls[id] {
                _ = call.retransmission.ackReceived()
                try? call.dialog.receive(request)
                calls[id] = call
                cancelTimer("2xx|\(id.callID)")
            } else if let key = SIPTransactionKey.server(request), var entry = transactions[key] {
                let actions = entry.transaction.receive(request)
                transactions[key] = entry
                perform(actions, server: key, to: entry.source)
            }
            return
        }
        guard let key = SIPTransactionKey.server(request) else { return }
        if var entry = transactions[key] {
            let actions = entry.transaction.receive(request)
            transactions[key] = entry
            perform(actions, server: key, to: entry.source)
            return
        }
        var transaction = SIPServerTransaction(request: request, reliable: source.isReliable)
        let start = transaction.start()
        transactions[key] = (transaction, source)
        perform(start.filter { if case .deliver = $0 { false } else { true } }, server: key, to: source)
        await handle(request, key: key, source: source)
    }

    private func receive(_ response: SIPResponse) {
        guard let key = SIPTransactionKey.client(response), var entry = clientTransactions[key] else { return }
        let actions = entry.transaction.receive(response)
        clientTransactions[key] = entry
        perform(actions, client: key, to: entry.destination)
    }

    // MARK: The transaction user

    private func handle(_ request: SIPRequest, key: SIPTransactionKey, source: SIPFlow) async {
        let inDialog = (try? SIPNameAddress(parsing: (request.headers.first("To") ?? "")[...]))?.tag != nil
        if let verdict = SIPUASPolicy.gateway.verdict(for: request), verdict.statusCode >= 300 {
            var response = SIPServerTransaction.response(to: request, statusCode: verdict.statusCode, reasonPhrase: verdict.reasonPhrase)
            for header in verdict.headers { response.headers.add(header.name, header.value) }
            respond(response, key: key)
            return
        }
        switch (request.method, inDialog) {
        case ("OPTIONS", _):
            var response = SIPServerTransaction.response(to: request, statusCode: 200, reasonPhrase: "OK")
            response.headers.add("Allow", SIPUASPolicy.gateway.allowedMethods.joined(separator: ", "))
            response.headers.add("Accept", "application/sdp")
            respond(withTag(response), key: key)
        case ("INVITE", false):
            await answer(request, key: key, source: source)
        case ("BYE", true):
            guard let id = SIPDialog.id(ofReceived: .request(request)), var call = calls[id] else {
                respond(SIPServerTransaction.response(to: request, statusCode: 481, reasonPhrase: "Call/Transaction Does Not Exist"), key: key)
                return
            }
            try? call.dialog.receive(request)
            respond(SIPServerTransaction.response(to: request, statusCode: 200, reasonPhrase: "OK"), key: key)
            await end(id, call: call, side: "remote")
        case ("CANCEL", _):
            respond(SIPServerTransaction.response(to: request, statusCode: 200, reasonPhrase: "OK"), key: key)
            // The INVITE it cancels shares the branch; once answered, CANCEL has no effect (§9.2).
            var invite = request
            invite.method = "INVITE"
            if let inviteKey = SIPTransactionKey.server(invite), var entry = transactions[inviteKey], entry.transaction.state == .proceeding {
                let terminated = SIPServerTransaction.response(to: entry.transaction.request, statusCode: 487, reasonPhrase: "Request Terminated")
                let actions = entry.transaction.respond(withTag(terminated))
                transactions[inviteKey] = entry
                perform(actions, server: inviteKey, to: entry.source)
            }
        case (_, true):
            guard let id = SIPDialog.id(ofReceived: .request(request)), calls[id] != nil else {
                respond(SIPServerTransaction.response(to: request, statusCode: 481, reasonPhrase: "Call/Transaction Does Not Exist"), key: key)
                return
            }
            do {
                try calls[id]!.dialog.receive(request)
            } catch {
                respond(SIPServerTransaction.response(to: request, statusCode: 500, reasonPhrase: "Server Internal Error"), key: key)
                return
            }
            if request.method == "INVITE" || request.method == "UPDATE", request.body.readableBytes > 0, let call = calls[id] {
                // A re-offer (hold, resume): answered from the same port; the media keeps flowing as it was.
                guard let offer = try? Self.offer(in: request), let negotiation = try? answerer.answer(offer, localPort: call.session.localPort, previous: call.negotiation) else {
                    respond(SIPServerTransaction.response(to: request, statusCode: 488, reasonPhrase: "Not Acceptable Here"), key: key)
                    return
                }
                calls[id]?.negotiation = negotiation
                var response = SIPServerTransaction.response(to: request, statusCode: 200, reasonPhrase: "OK")
                response.headers.add("Contact", contact(for: source))
                response.headers.add("Content-Type", "application/sdp")
                response.body = ByteBuffer(string: negotiation.answer.serialized)
                respond(response, key: key)
            } else {
                respond(SIPServerTransaction.response(to: request, statusCode: 200, reasonPhrase: "OK"), key: key)
            }
        default:
            respond(SIPServerTransaction.response(to: request, statusCode: 481, reasonPhrase: "Call/Transaction Does Not Exist"), key: key)
        }
    }

    private func answer(_ request: SIPRequest, key: SIPTransactionKey, source: SIPFlow) async {
        let offer: SessionDescription
        do {
            offer = try Self.offer(in: request)
        } catch {
            respond(SIPServerTransaction.response(to: request, statusCode: 400, reasonPhrase: "Bad Request (\(error.message))"), key: key)
            return
        }
        guard let audio = offer.media.first(where: { $0.type == "audio" && $0.port != 0 }), let address = (audio.connection ?? offer.connection)?.address,
              let remote = try? SocketAddress(ipAddress: address, port: audio.port)
        else {
            respond(SIPServerTransaction.response(to: request, statusCode: 488, reasonPhrase: "Not Acceptable Here (no audio stream)"), key: key)
            return
        }
        let session: RTPCallSession
        var negotiation: SDPAnswerer.Negotiation
        do {
            negotiation = try answerer.answer(offer, localPort: 0)
            let keys = negotiation.audio.keys
            session = try await RTPCallSession.open(
                pool: pool, host: mediaHost, remote: remote, law: negotiation.audio.codec == .pcma ? .aLaw : .muLaw,
                inbound: try keys.map { try NativeSRTPSession(suite: $0.suite, material: $0.remote, direction: .inbound) },
                outbound: try keys.map { try NativeSRTPSession(suite: $0.suite, material: $0.local, direction: .outbound) },
                group: group, now: Self.now()
            )
        } catch let error as SDPError {
            respond(SIPServerTransaction.response(to: request, statusCode: error.sipStatus, reasonPhrase: error.sipStatus == 488 ? "Not Acceptable Here" : "Bad Request"), key: key)
            return
        } catch {
            respond(SIPServerTransaction.response(to: request, statusCode: 503, reasonPhrase: "Service Unavailable (media)"), key: key)
            return
        }
        // The answer with the port the session got.
        negotiation.setLocalPort(session.localPort)
        let answer = negotiation.answer
        var response = withTag(SIPServerTransaction.response(to: request, statusCode: 200, reasonPhrase: "OK"))
        response.headers.add("Contact", contact(for: source))
        response.headers.add("Allow", SIPUASPolicy.gateway.allowedMethods.joined(separator: ", "))
        response.headers.add("Content-Type", "application/sdp")
        response.body = ByteBuffer(string: answer.serialized)
        guard let dialog = try? SIPDialog(uas: request, response: response) else {
            _ = await session.stop(pool: pool, now: Self.now())
            respond(SIPServerTransaction.response(to: request, statusCode: 400, reasonPhrase: "Bad Request (no Contact)"), key: key)
            return
        }
        // The actor may have handled a CANCEL while the RTP port was being opened: answer only a pending INVITE.
        guard var entry = transactions[key], entry.transaction.state == .proceeding else {
            _ = await session.stop(pool: pool, now: Self.now())
            return
        }
        _ = entry.transaction.respond(response)  // Accepted: the core retransmits the 2xx (below), not the transaction
        transactions[key] = entry
        scheduleTimer("server|\(key)|accepted", after: SIPTimerValues.rfc3261.transactionTimeout) { agent in await agent.forget(.server, key) }
        let retransmission = SIP2xxRetransmission(response: response)
        calls[dialog.id] = Call(dialog: dialog, source: source, session: session, retransmission: retransmission, negotiation: negotiation)
        perform2xx(retransmission.start(reliable: source.isReliable), id: dialog.id)
        session.start(playing: greeting)
        logger.info("call answered", metadata: ["call_id": "\(dialog.id.callID)", "transport": "\(source.transportName.lowercased())", "codec": "\(negotiation.audio.codec.rawValue)", "srtp": "\(negotiation.audio.keys?.suite.rawValue ?? "none")", "rtp_port": "\(session.localPort)"])
        let id = dialog.id
        scheduleTimer("limit|\(id.callID)", after: maximumDuration) { agent in await agent.hangUp(id) }
    }

    /// Ends the call from our side: BYE in the dialog.
    func hangUp(_ id: SIPDialog.ID) async {
        guard var call = calls[id], !call.byeSent else { return }
        call.byeSent = true
        let via = SIPVia.outgoing(
            transport: call.source.transportName, host: transport.host, port: call.source.isReliable ? transport.tcpPort : transport.udpPort
        )
        let bye = call.dialog.makeRequest(method: "BYE", via: via, contact: contact(for: call.source))
        calls[id] = call
        if let key = SIPTransactionKey.client(bye) {
            let transaction = SIPClientTransaction(request: bye, reliable: call.source.isReliable)
            clientTransactions[key] = (transaction, call.source)
            perform(transaction.start(), client: key, to: call.source)
        }
        await end(id, call: call, side: "local")
    }

    private func end(_ id: SIPDialog.ID, call: Call, side: String) async {
        calls[id] = nil
        cancelTimer("2xx|\(id.callID)")
        cancelTimer("limit|\(id.callID)")
        let report = await call.session.stop(pool: pool, now: Self.now())
        let file = recordings.appendingPathComponent(Self.fileName(for: id.callID) + ".wav")
        var buffer = ByteBuffer()
        WAVFile(sampleRate: 8000, samples: report.recorded).write(to: &buffer)
        do {
            try FileManager.default.createDirectory(at: recordings, withIntermediateDirectories: true)
            try Data(buffer.readableBytesView).write(to: file)
        } catch {
            logger.error("recording not written", metadata: ["call_id": "\(id.callID)", "error": "\(error)"])
        }
        logger.info("call ended", metadata: [
            "call_id": "\(id.callID)", "hangup_side": "\(side)", "packets_received": "\(report.packetsReceived)", "packets_sent": "\(report.packetsSent)",
            "dropped_other_sources": "\(report.droppedFromOtherSources)", "recording": "\(file.path)",
        ])
    }

    // MARK: Actions

    private func respond(_ response: SIPResponse, key: SIPTransactionKey) {
        guard var entry = transactions[key] else { return }
        let actions = entry.transaction.respond(response)
        transactions[key] = entry
        perform(actions, server: key, to: entry.source)
    }

    private enum Side: String, Sendable { case server, client }

    private func perform(_ actions: [SIPTransactionAction], server key: SIPTransactionKey, to destination: SIPFlow) {
        perform(actions, side: .server, key: key, to: destination)
    }

    private func perform(_ actions: [SIPTransactionAction], client key: SIPTransactionKey, to destination: SIPFlow) {
        perform(actions, side: .client, key: key, to: destination)
    }

    /// Carries out a transaction's actions: sends, (re)starts and cancels its timers, forgets it when it ends.
    private func perform(_ actions: [SIPTransactionAction], side: Side, key: SIPTransactionKey, to destination: SIPFlow) {
        for action in actions {
            switch action {
            case .send(let message): transport.send(message, to: destination)
            case .startTimer(let timer, let duration):
                scheduleTimer(Self.timerName(side, key, timer), after: duration) { agent in
                    await agent.transactionTimerFired(side: side, key: key, timer: timer)
                }
            case .cancelTimer(let timer): cancelTimer(Self.timerName(side, key, timer))
            case .terminated: forget(side, key)
            case .deliver(.response(let response)) where side == .client && key == registration?.pending:
                registrationAnswered(response)
            case .timedOut where side == .client && key == registration?.pending:
                registrationFailed("no answer from the registrar")
            case .deliver, .timedOut, .ackNotReceived: break
            }
        }
    }

    private static func timerName(_ side: Side, _ key: SIPTransactionKey, _ timer: SIPTimer) -> String {
        "\(side.rawValue)|\(key)|\(timer.rawValue)"
    }

    private func perform2xx(_ actions: [SIP2xxRetransmission.Action], id: SIPDialog.ID) {
        guard let call = calls[id] else { return }
        for action in actions {
            switch action {
            case .send(let response): transport.send(.response(response), to: call.source)
            case .startTimer(let duration): scheduleTimer("2xx|\(id.callID)", after: duration) { agent in await agent.retransmit2xx(id) }
            case .cancelTimer: cancelTimer("2xx|\(id.callID)")
            case .ackTimedOut: Task { await self.hangUp(id) }
            }
        }
    }

    private func retransmit2xx(_ id: SIPDialog.ID) {
        guard var call = calls[id] else { return }
        let actions = call.retransmission.timerFired(reliable: call.source.isReliable)
        calls[id] = call
        perform2xx(actions, id: id)
    }

    private func transactionTimerFired(side: Side, key: SIPTransactionKey, timer: SIPTimer) {
        switch side {
        case .server:
            guard var entry = transactions[key] else { return }
            let actions = entry.transaction.timerFired(timer)
            transactions[key] = entry
            perform(actions, side: side, key: key, to: entry.source)
        case .client:
            guard var entry = clientTransactions[key] else { return }
            let actions = entry.transaction.timerFired(timer)
            clientTransactions[key] = entry
            perform(actions, side: side, key: key, to: entry.destination)
        }
    }

    private func forget(_ side: Side, _ key: SIPTransactionKey) {
        switch side {
        case .server: transactions[key] = nil
        case .client: clientTransactions[key] = nil
        }
        for timer in SIPTimer.allCases { cancelTimer(Self.timerName(side, key, timer)) }
    }

    private func scheduleTimer(_ name: String, after duration: Duration, _ body: @escaping @Sendable (SIPUserAgent) async -> Void) {
        timers[name]?.cancel()
        timers[name] = Task { [weak self] in
            try? await Task.sleep(for: duration)
            guard !Task.isCancelled, let self else { return }
            await self.timerDone(name)
            await body(self)
        }
    }

    private func timerDone(_ name: String) { timers[name] = nil }

    private func cancelTimer(_ name: String) {
        timers.removeValue(forKey: name)?.cancel()
    }

    // MARK: Registration with the trunk

    /// Registers with `trunk` and keeps the registration fresh.
    func register(with trunk: NinjaConfiguration.Trunk) {
        guard let uri = try? SIPURI(parsing: trunk.registrar[...]) else {
            logger.error("trunk registrar is not a SIP URI", metadata: ["registrar": "\(trunk.registrar)"])
            return
        }
        let host: String
        switch uri.host {
        case .ipv4(let address), .ipv6(let address): host = address
        case .name(let name):
            logger.error("trunk registrar must be an IP address until RFC 3263 lookups arrive", metadata: ["registrar": "\(name)"])
            return
        }
        guard let address = try? SocketAddress(ipAddress: host, port: uri.port ?? 5060) else { return }
        let transportTCP = (uri.parameters["transport"] ?? nil)?.lowercased() == "tcp"
        if transportTCP { logger.warning("trunk registration over TCP is not supported yet; using UDP") }
        registration = Registration(trunk: trunk, registrar: uri, destination: .udp(address), digest: DigestClient(username: trunk.username, password: trunk.password))
        sendRegister(credentials: nil)
    }

    private func sendRegister(credentials: DigestCredentials?, proxy: Bool = false) {
        guard var registration else { return }
        registration.sequence += 1
        let registrarHost = registration.registrar.host.description
        let aor = "<sip:\(registration.trunk.username)@\(registrarHost)>"
        let expires = Int(registration.trunk.expires.components.seconds)
        var headers = SIPHeaders()
        let via = SIPVia.outgoing(transport: "UDP", host: transport.host, port: transport.udpPort)
        headers.add("Via", via.serialized)
        headers.add("Max-Forwards", "70")
        headers.add("From", aor + ";tag=\(registration.fromTag)")
        headers.add("To", aor)
        headers.add("Call-ID", registration.callID)
        headers.add("CSeq", "\(registration.sequence) REGISTER")
        headers.add("Contact", contact + ";expires=\(expires)")
        headers.add("Expires", String(expires))
        headers.add("User-Agent", "Answer Ninja \(AnswerNinjaVersion.current)")
        if let credentials { headers.add(proxy ? "Proxy-Authorization" : "Authorization", credentials.headerValue) }
        let request = SIPRequest(method: "REGISTER", uri: .sip(SIPURI(secure: false, host: registration.registrar.host, port: registration.registrar.port)), headers: headers)
        guard let key = SIPTransactionKey.client(request) else { return }
        registration.pending = key
        self.registration = registration
        let transaction = SIPClientTransaction(request: request, reliable: false)
        clientTransactions[key] = (transaction, registration.destination)
        perform(transaction.start(), client: key, to: registration.destination)
    }

    private func registrationAnswered(_ response: SIPResponse) {
        guard var registration, response.statusCode >= 200 else { return }
        switch response.statusCode {
        case 200..<300:
            registration.challenges = 0
            let requested = Int(registration.trunk.expires.components.seconds)
            // What the registrar granted: our Contact's expires, else the Expires header, else what we asked.
            let granted = response.headers.list("Contact").compactMap { try? SIPNameAddress(parsing: $0[...]) }
                .compactMap { ($0.parameters["expires"] ?? nil).flatMap { Int($0) } }.first
                ?? response.headers.first("Expires").flatMap { Int($0) } ?? requested
            if !registration.registered {
                logger.info("registered", metadata: ["registrar": "\(registration.trunk.registrar)", "user": "\(registration.trunk.username)", "expires": "\(granted)"])
            }
            registration.registered = true
            self.registration = registration
            scheduleTimer("register", after: .seconds(max(30, granted * 8 / 10))) { agent in await agent.refreshRegistration() }
        case 401, 407:
            registration.challenges += 1
            self.registration = registration
            let header = response.headers.first(response.statusCode == 401 ? "WWW-Authenticate" : "Proxy-Authenticate") ?? ""
            guard registration.challenges <= 2, let challenge = try? DigestChallenge(parsing: header) else {
                registrationFailed("\(response.statusCode) \(response.reasonPhrase): the credentials were refused")
                return
            }
            let credentials = self.registration!.digest.credentials(for: challenge, method: "REGISTER", uri: SIPURI(secure: false, host: registration.registrar.host, port: registration.registrar.port).serialized)
            sendRegister(credentials: credentials, proxy: response.statusCode == 407)
        default:
            registrationFailed("\(response.statusCode) \(response.reasonPhrase)")
        }
    }

    private func registrationFailed(_ reason: String) {
        guard var registration else { return }
        registration.registered = false
        registration.challenges = 0
        self.registration = registration
        logger.warning("registration failed", metadata: ["registrar": "\(registration.trunk.registrar)", "reason": "\(reason)"])
        scheduleTimer("register", after: .seconds(60)) { agent in await agent.refreshRegistration() }
    }

    private func refreshRegistration() {
        guard registration != nil else { return }
        sendRegister(credentials: nil)
    }

    func shutdown() async {
        for id in Array(calls.keys) { await hangUp(id) }
        for task in timers.values { task.cancel() }
        timers.removeAll()
    }

    // MARK: Helpers

    private func contact(for flow: SIPFlow) -> String { flow.isReliable ? contactTCP : contact }

    private func withTag(_ response: SIPResponse) -> SIPResponse {
        var response = response
        if let to = response.headers.first("To"), var address = try? SIPNameAddress(parsing: to[...]), address.tag == nil {
            address.parameters.set("tag", SIPToken.random())
            response.headers.set("To", address.serialized)
        }
        return response
    }

    static func offer(in request: SIPRequest) throws(SDPError) -> SessionDescription {
        var body = request.body
        let type = request.headers.first("Content-Type") ?? ""
        if let boundary = SIPMultipartBody.boundary(ofContentType: type) {
            guard let part = (try? SIPMultipartBody(parsing: body, boundary: boundary))?.part(ofType: "application/sdp") else {
                throw .notAcceptable("no SDP part in the multipart body")
            }
            body = part.body
        } else if !type.lowercased().hasPrefix("application/sdp") {
            throw .notAcceptable("an INVITE without an SDP offer (offerless INVITEs are not supported yet)")
        }
        return try SessionDescription(parsing: String(decoding: body.readableBytesView, as: UTF8.self))
    }


    static func now() -> MediaInstant { MediaInstant(.now()) }

    /// A Call-ID as a file name: only letters, digits, dots, dashes and underscores.
    static func fileName(for callID: String) -> String {
        String(callID.map { $0.isLetter || $0.isNumber || $0 == "." || $0 == "-" || $0 == "_" ? $0 : "_" })
    }
}

/// The transports as the user agent sees them: a message goes out on the flow it belongs to.
struct SIPTransports: Sendable {
    let udp: SIPUDPTransport
    let tcp: SIPTCPTransport
    /// The host we advertise in Via and Contact.
    let host: String

    var udpPort: Int { udp.localAddress.port ?? 0 }
    var tcpPort: Int { tcp.localAddress.port ?? 0 }

    func send(_ message: SIPMessage, to flow: SIPFlow) {
        switch flow {
        case .udp(let address): udp.send(message, to: address)
        case .tcp(let connection, _): tcp.send(message, on: connection)
        }
    }
}
