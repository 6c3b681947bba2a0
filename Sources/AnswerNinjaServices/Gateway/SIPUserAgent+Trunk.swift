import AnswerNinjaCore
import Logging
import NIOCore
import SIPAuth
import SIPMessages
import SIPTransactions
import SIPTransport

/// Our registration with the trunk (RFC 3261 §10, digest RFC 7616/8760) and OPTIONS keep-alives to it.
extension SIPUserAgent {
    /// One Call-ID and a rising CSeq across refreshes.
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
        var registered = false
    }

    /// Registers with `trunk`, keeps the registration fresh, and sends it OPTIONS keep-alives.
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
        if let interval = trunk.keepalive {
            scheduleTimer("keepalive", after: interval) { agent in agent.sendKeepalive() }
        }
    }

    private func sendRegister(credentials: DigestCredentials?, proxy: Bool = false) {
        guard var registration else { return }
        registration.sequence += 1
        let registrarHost = registration.registrar.host.description
        let aor = "<sip:\(registration.trunk.username)@\(registrarHost)>"
        let expires = Int(registration.trunk.expires.components.seconds)
        var headers = SIPHeaders()
        headers.add("Via", via(for: registration.destination).serialized)
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
        self.registration = registration
        startClientTransaction(request, to: registration.destination, purpose: .registration)
    }

    func registrationAnswered(_ response: SIPResponse) {
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
        default:
            registrationFailed("\(response.statusCode) \(response.reasonPhrase)")
        }
    }

    func registrationFailed(_ reason: String) {
        guard var registration else { return }
        registration.registered = false
        registration.challenges = 0
        self.registration = registration
        logger.warning("registration failed", metadata: ["registrar": "\(registration.trunk.registrar)", "reason": "\(reason)"])
        scheduleTimer("register", after: .seconds(60)) { agent in agent.refreshRegistration() }
    }

    private func refreshRegistration() {
        guard registration != nil else { return }
        sendRegister(credentials: nil)
    }

    // MARK: Keep-alives

    /// OPTIONS to the trunk every `keepalive`; any final response means it is there (even 401 or 405: something
    /// answered), a time-out that it is not.
    private func sendKeepalive() {
        guard let registration, let interval = registration.trunk.keepalive else { return }
        let target = SIPURI(secure: false, host: registration.registrar.host, port: registration.registrar.port)
        var headers = SIPHeaders()
        headers.add("Via", via(for: registration.destination).serialized)
        headers.add("Max-Forwards", "70")
        headers.add("From", "<sip:\(registration.trunk.username)@\(registration.registrar.host.description)>;tag=\(SIPToken.random())")
        headers.add("To", "<\(target.serialized)>")
        headers.add("Call-ID", SIPToken.random() + "@answer-ninja")
        headers.add("CSeq", "1 OPTIONS")
        headers.add("Accept", "application/sdp")
        startClientTransaction(SIPRequest(method: "OPTIONS", uri: .sip(target), headers: headers), to: registration.destination, purpose: .keepalive)
        scheduleTimer("keepalive", after: interval) { agent in agent.sendKeepalive() }
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
