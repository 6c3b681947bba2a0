import AnswerNinjaCore
import Logging
import NIOCore
import SIPAuth
import SIPLocator
import SIPMessages
import SIPTransactions
import SIPTransport

/// Our registration with the trunk (RFC 3261 §10, digest RFC 7616/8760) and OPTIONS keep-alives to it. The
/// registrar's URI is resolved by RFC 3263 (`SIPResolver`: NAPTR, SRV, A/AAAA), and the first target that takes
/// a connection is used, over UDP, TCP or TLS as the lookups say; a target that times out, answers 503 or closes
/// its connection is left for the next one on the following attempt.
///
/// With an outbound proxy (`sip.outbound_proxy`, an edge such as deploy/kamailio) the proxy's URI is resolved
/// instead, and every request to the trunk (REGISTER, OPTIONS, calls out) goes to it with a Route naming it (a
/// preloaded route, RFC 3261 §8.1.2), the Request-URI still the trunk's. Behind an edge that registers for the
/// gateways (`sip.trunk_register` off) nothing is registered: the trunk is only where calls out go.
extension SIPUserAgent {
    /// One Call-ID and a rising CSeq across refreshes.
    struct Registration {
        let trunk: NinjaConfiguration.Trunk
        let registrar: SIPURI
        /// The outbound proxy every request to the trunk goes through; nil: straight to the registrar.
        let proxy: SIPURI?
        /// Where REGISTER and OPTIONS go; nil until a target is connected.
        var destination: SIPFlow?
        /// The targets of the last resolution, and the one in use.
        var targets: [SIPServerTarget] = []
        var targetIndex = 0
        let callID = SIPToken.random() + "@answer-ninja"
        let fromTag = SIPToken.random()
        var sequence: UInt32 = 0
        var digest: DigestClient
        /// Challenges answered since the last success: a second one in a row means the credentials are wrong.
        var challenges = 0
        var registered = false

        /// What is resolved and connected to: the outbound proxy, else the registrar.
        var nextHop: SIPURI { proxy ?? registrar }

        /// The Route header of a request to the trunk through the outbound proxy (loose routing, RFC 3261 §16.12).
        var route: String? {
            guard var hop = proxy else { return nil }
            hop.parameters.set("lr", nil)
            return "<\(hop.serialized)>"
        }
    }

    /// Registers with `trunk`, keeps the registration fresh, and sends it OPTIONS keep-alives.
    func register(with trunk: NinjaConfiguration.Trunk) async {
        guard let uri = try? SIPURI(parsing: trunk.registrar[...]) else {
            logger.error("trunk registrar is not a SIP URI", metadata: ["registrar": "\(trunk.registrar)"])
            return
        }
        var proxy: SIPURI?
        if let outboundProxy = trunk.outboundProxy {
            guard let uri = try? SIPURI(parsing: outboundProxy[...]) else {
                logger.error("outbound proxy is not a SIP URI", metadata: ["outbound_proxy": "\(outboundProxy)"])
                return
            }
            proxy = uri
        }
        registration = Registration(trunk: trunk, registrar: uri, proxy: proxy, digest: DigestClient(username: trunk.username, password: trunk.password))
        await connectToTrunk()
        if let interval = trunk.keepalive {
            scheduleTimer("keepalive", after: interval) { agent in agent.sendKeepalive() }
        }
    }

    /// Resolves the registrar when there are no targets left, opens a connection to the current target (for TCP and
    /// TLS), and sends the REGISTER; a failure is retried by `registrationFailed`.
    func connectToTrunk() async {
        // One attempt at a time: the actor may be entered again while a lookup or a connection is awaited.
        guard !trunkConnecting, var current = registration, current.destination == nil else { return }
        trunkConnecting = true
        defer { trunkConnecting = false }
        if current.targetIndex >= current.targets.count {
            do {
                // TLS only with a listener of ours: the trunk calls us back at our Contact.
                let transports: [SIPTransportProtocol] = transport.tls != nil ? [.tls, .tcp, .udp] : [.tcp, .udp]
                current.targets = try await resolver.locate(current.nextHop, transports: transports)
                current.targetIndex = 0
                // The path to the trunk is trusted like the trunk: the outbound proxy's addresses when there is one.
                trunkAddresses = Set(current.targets.map(\.address))
                logger.info("trunk resolved", metadata: [
                    "registrar": "\(current.trunk.registrar)", "outbound_proxy": "\(current.trunk.outboundProxy ?? "none")",
                    "targets": "\(current.targets.map(\.description).joined(separator: ", "))",
                ])
            } catch {
                registration = current
                registrationFailed("\(current.nextHop.serialized) did not resolve: \(error)")
                return
            }
        }
        guard current.targetIndex < current.targets.count else {
            registration = current
            registrationFailed("\(current.nextHop.serialized) resolved to no target")
            return
        }
        let target = current.targets[current.targetIndex]
        let flow: SIPFlow
        do {
            let address = try SocketAddress(ipAddress: target.address, port: target.port)
            switch target.transport {
            case .udp: flow = .udp(address)
            case .tcp: flow = try await transport.tcp.connect(to: address)
            case .tls: flow = try await (transport.tls ?? transport.tcp).connect(to: address, tls: trunkTLS, serverName: target.serverName)
            }
        } catch {
            current.targetIndex += 1
            registration = current
            registrationFailed("\(target) refused the connection: \(error)")
            return
        }
        // The registration may have moved on while the connection opened.
        guard var latest = registration, latest.destination == nil else {
            transport.close(flow)
            return
        }
        latest.targets = current.targets
        latest.targetIndex = current.targetIndex
        latest.destination = flow
        registration = latest
        trunkReconnected(flow)
        logger.info("trunk target", metadata: ["registrar": "\(latest.trunk.registrar)", "target": "\(target)", "register": "\(latest.trunk.register)"])
        sendRegister(credentials: nil)
    }

    /// The trunk's connection closed: registered again a second later, over a new connection to the same target if
    /// this one had carried a registration, else to the next target (a TLS handshake that failed, on a certificate
    /// that does not name the domain for example, closes the connection before anything is registered).
    func trunkConnectionClosed(_ flow: SIPFlow) {
        guard var registration, registration.destination == flow else { return }
        if calls.values.contains(where: { $0.source == flow }) || deviceInvites.values.contains(where: { $0.flow == flow }) { closedTrunkFlows.insert(flow) }
        if !registration.registered { registration.targetIndex += 1 }
        registration.destination = nil
        registration.registered = false
        self.registration = registration
        logger.warning("trunk connection closed", metadata: ["flow": "\(flow)"])
        scheduleTimer("register", after: .seconds(1)) { agent in agent.refreshRegistration() }
    }

    private func sendRegister(credentials: DigestCredentials?, proxy: Bool = false) {
        guard var registration, registration.trunk.register, let destination = registration.destination else { return }
        registration.sequence += 1
        let registrarHost = registration.registrar.host.description
        let aor = "<sip:\(registration.trunk.username)@\(registrarHost)>"
        let expires = Int(registration.trunk.expires.components.seconds)
        var headers = SIPHeaders()
        headers.add("Via", via(for: destination).serialized)
        headers.add("Max-Forwards", "70")
        if let route = registration.route { headers.add("Route", route) }
        headers.add("From", aor + ";tag=\(registration.fromTag)")
        headers.add("To", aor)
        headers.add("Call-ID", registration.callID)
        headers.add("CSeq", "\(registration.sequence) REGISTER")
        // The Contact carries the account's user part: a trunk that routes calls to the registered Contact then
        // sends them to `sip:<username>@gateway`, and the screening finds the number's owner by it.
        let user = String(registration.trunk.username.filter { $0.isLetter || $0.isNumber || "+-_.".contains($0) })
        headers.add("Contact", contact(for: destination, user: user.isEmpty ? "gateway" : user) + ";expires=\(expires)")
        headers.add("Expires", String(expires))
        headers.add("User-Agent", "Answer Ninja \(AnswerNinjaVersion.current)")
        if let credentials { headers.add(proxy ? "Proxy-Authorization" : "Authorization", credentials.headerValue) }
        let request = SIPRequest(method: "REGISTER", uri: .sip(SIPURI(secure: false, host: registration.registrar.host, port: registration.registrar.port)), headers: headers)
        self.registration = registration
        startClientTransaction(request, to: destination, purpose: .registration)
    }

    /// A final response to a REGISTER sent to `destination` (one to a target since left is ignored).
    func registrationAnswered(_ response: SIPResponse, from destination: SIPFlow) {
        guard var registration, response.statusCode >= 200, registration.destination == destination else { return }
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
            scheduleTimer("register", after: .seconds(max(30, granted * 8 / 10))) { agent in agent.refreshRegistration() }
        case 401, 407:
            registration.challenges += 1
            self.registration = registration
            let header = response.headers.first(response.statusCode == 401 ? "WWW-Authenticate" : "Proxy-Authenticate") ?? ""
            guard registration.challenges <= 2, let challenge = try? DigestChallenge(parsing: header) else {
                registrationFailed("\(response.statusCode) \(response.reasonPhrase): the credentials were refused")
                return
            }
            let uri = SIPURI(secure: false, host: registration.registrar.host, port: registration.registrar.port).serialized
            let credentials = self.registration!.digest.credentials(for: challenge, method: "REGISTER", uri: uri)
            sendRegister(credentials: credentials, proxy: response.statusCode == 407)
        case 503:
            // RFC 3263 §4.3: a 503 sends us to the next target; with none left, its Retry-After is honoured
            // (RFC 3261 §21.5.4).
            moveToNextTarget()
            let retryAfter = response.headers.first("Retry-After").flatMap { Int($0.prefix { $0.isNumber }) }.map { Duration.seconds(max(1, $0)) }
            registrationFailed("\(response.statusCode) \(response.reasonPhrase)", retryAfter: retryAfter)
        default:
            registrationFailed("\(response.statusCode) \(response.reasonPhrase)")
        }
    }

    /// No answer from the registrar at `destination` (one since left is ignored): the next target (RFC 3263 §4.3).
    func registrarTimedOut(_ destination: SIPFlow) {
        guard registration?.destination == destination else { return }
        moveToNextTarget()
        registrationFailed("no answer from the registrar")
    }

    /// Leaves the current target (closing a connection we opened to it) for the next.
    private func moveToNextTarget() {
        guard var registration else { return }
        registration.targetIndex += 1
        if let destination = registration.destination { transport.close(destination) }
        registration.destination = nil
        self.registration = registration
    }

    /// Retries after `retryAfter`, else a second later when the next target waits, else a minute later (a refused
    /// registration on the same target, or every target used up).
    /// Without a registration (behind an edge) only the connection is retried, and sooner: calls out wait for it.
    func registrationFailed(_ reason: String, retryAfter: Duration? = nil) {
        guard var registration else { return }
        registration.registered = false
        registration.challenges = 0
        self.registration = registration
        let registering = registration.trunk.register
        logger.warning(registering ? "registration failed" : "no path to the trunk", metadata: ["registrar": "\(registration.trunk.registrar)", "reason": "\(reason)"])
        let nextTargetWaits = registration.destination == nil && registration.targetIndex < registration.targets.count
        let retry = retryAfter ?? (nextTargetWaits ? .seconds(1) : registering ? .seconds(60) : .seconds(5))
        scheduleTimer("register", after: retry) { agent in agent.refreshRegistration() }
    }

    private func refreshRegistration() {
        guard let registration else { return }
        if registration.destination == nil {
            Task { await self.connectToTrunk() }
        } else {
            sendRegister(credentials: nil)
        }
    }

    // MARK: Keep-alives

    /// OPTIONS to the trunk every `keepalive`; any final response means it is there (even 401 or 405: something
    /// answered), a time-out that it is not.
    private func sendKeepalive() {
        guard let registration, let interval = registration.trunk.keepalive else { return }
        guard let destination = registration.destination else {
            scheduleTimer("keepalive", after: interval) { agent in agent.sendKeepalive() }
            return
        }
        let target = SIPURI(secure: false, host: registration.registrar.host, port: registration.registrar.port)
        var headers = SIPHeaders()
        headers.add("Via", via(for: destination).serialized)
        headers.add("Max-Forwards", "70")
        if let route = registration.route { headers.add("Route", route) }
        headers.add("From", "<sip:\(registration.trunk.username)@\(registration.registrar.host.description)>;tag=\(SIPToken.random())")
        headers.add("To", "<\(target.serialized)>")
        headers.add("Call-ID", SIPToken.random() + "@answer-ninja")
        headers.add("CSeq", "1 OPTIONS")
        headers.add("Accept", "application/sdp")
        startClientTransaction(SIPRequest(method: "OPTIONS", uri: .sip(target), headers: headers), to: destination, purpose: .keepalive)
        scheduleTimer("keepalive", after: interval) { agent in agent.sendKeepalive() }
    }

    /// A keep-alive's final response: whatever the trunk answers says it is there. Through an outbound proxy, the
    /// proxy's own failures (408: the trunk did not answer it; 478: it could not resolve it; 5xx) say it is not.
    func keepaliveAnswered(_ response: SIPResponse) {
        let code = response.statusCode
        trunkAnswered(!(registration?.proxy != nil && (code == 408 || code == 478 || code >= 500)))
    }

    /// No answer to a keep-alive. Without a registration, the keep-alives are all that tells a dead target: the next
    /// one is tried (RFC 3263 §4.3), as a REGISTER's time-out does.
    func keepaliveTimedOut(_ destination: SIPFlow) {
        trunkAnswered(false)
        guard let registration, !registration.trunk.register, registration.destination == destination else { return }
        moveToNextTarget()
        logger.warning("trunk target left", metadata: ["target": "\(destination)", "reason": "no answer to OPTIONS"])
        scheduleTimer("register", after: .seconds(1)) { agent in agent.refreshRegistration() }
    }

    /// A new connection to the trunk's path: the calls of the closed ones go on over it, with what they sent meanwhile.
    /// (Their far ends see the same dialog: in-dialog requests are routed by the Request-URI and the route set, not by
    /// the connection.)
    func trunkReconnected(_ flow: SIPFlow) {
        guard !closedTrunkFlows.isEmpty else { return }
        var moved = 0
        for (id, call) in calls where closedTrunkFlows.contains(call.source) {
            calls[id]?.source = flow
            moved += 1
        }
        for (callID, pending) in deviceInvites where closedTrunkFlows.contains(pending.flow) { deviceInvites[callID]?.flow = flow }
        closedTrunkFlows = []
        let waiting = requestsAwaitingTrunk
        requestsAwaitingTrunk = []
        logger.info("calls moved to a new trunk connection", metadata: ["flow": "\(flow)", "calls": "\(moved)", "requests": "\(waiting.count)"])
        for (request, purpose) in waiting { startClientTransaction(request, to: flow, purpose: purpose) }
    }

    /// Logs the trunk's reachability when it changes.
    func trunkAnswered(_ reachable: Bool) {
        guard trunkReachable != reachable else { return }
        trunkReachable = reachable
        let registrar = registration?.trunk.registrar ?? ""
        if reachable {
            logger.info("trunk reachable", metadata: ["registrar": "\(registrar)"])
        } else {
            logger.warning("trunk unreachable", metadata: ["registrar": "\(registrar)", "reason": "no answer to OPTIONS"])
        }
    }
}
