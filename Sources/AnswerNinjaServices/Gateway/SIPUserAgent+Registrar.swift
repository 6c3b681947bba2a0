import AnswerNinjaCore
import Foundation
import Logging
import NIOCore
import SIPAuth
import SIPDialogs
import SIPMessages
import SIPTransactions
import SIPTransport
import Store

/// The registrar for users' devices (RFC 3261 §10.3): digest authentication against `sip.device_accounts` (SHA-256
/// and MD5 challenges, RFC 8760 §2.4), bindings in the location service with the flow each REGISTER came over and
/// its Path (RFC 3327: a device registered through an edge proxy is called through it), and RFC 5626 outbound for
/// devices that ask for it.
extension SIPUserAgent {
    static let registrarRealm = "answer-ninja"

    func registerDevice(_ request: SIPRequest, key: SIPTransactionKey, source: SIPFlow) {
        guard !settings.deviceAccounts.isEmpty else {
            respond(withTag(Self.response(to: request, 403, "Forbidden (no device accounts are configured)")), key: key)
            return
        }
        guard let to = SIPMessage.request(request).to, let aor = SIPLocationService<SIPFlow>.key(to.uri) else {
            respond(withTag(Self.response(to: request, 400, "Bad Request (the To of a REGISTER names the address-of-record)")), key: key)
            return
        }
        let now = Self.now()
        switch authenticateDevice(request, header: "Authorization") {
        case .missing:
            challenge(request, key: key, stale: false)
            return
        case .stale:
            challenge(request, key: key, stale: true)
            return
        case .rejected(let username, let reason):
            logger.warning("device registration refused", metadata: ["user": "\(username)", "reason": "\(reason)", "from": "\(source)"])
            respond(withTag(Self.response(to: request, 403, "Forbidden")), key: key)
            return
        case .accepted(let username) where username.lowercased() != aor:
            respond(withTag(Self.response(to: request, 403, "Forbidden (the credentials are not those of \(aor))")), key: key)
            return
        case .accepted:
            break
        }
        switch location.register(request, aor: aor, flow: source, now: now) {
        case .registered(let bindings):
            var ok = withTag(Self.response(to: request, 200, "OK"))
            for binding in bindings {
                var address = SIPNameAddress(uri: binding.contact)
                address.parameters.set("expires", String(binding.secondsLeft(at: now)))
                if let instance = binding.instance { address.parameters.set("+sip.instance", instance) }
                if let registrationID = binding.registrationID { address.parameters.set("reg-id", String(registrationID)) }
                ok.headers.add("Contact", address.serialized)
            }
            // RFC 3327 §5.3: a registrar that keeps the Path returns it, to a device that supports it.
            let path = request.headers.list("Path")
            if !path.isEmpty, request.headers.list("Supported").contains(where: { $0.lowercased() == "path" }) {
                for hop in path { ok.headers.add("Path", hop) }
            }
            // Registered through an edge: every gateway behind it can ring the device by the same Path.
            if !path.isEmpty { shareBindings(aor: aor, bindings.filter { !$0.path.isEmpty }, now: now) }
            // RFC 5626 §6: a device that asked for outbound gets it (we keep its flow, and answer its CRLF pings).
            let outbound = request.headers.list("Supported").contains { $0.lowercased() == "outbound" } && bindings.contains { $0.registrationID != nil }
            if outbound { ok.headers.add("Require", "outbound") }
            // Logged before the 200 goes: whoever reads the log once the device has its answer finds the line.
            logger.info("device registered", metadata: [
                "user": "\(aor)", "transport": "\(source.transportName.lowercased())", "bindings": "\(bindings.count)",
                "expires": "\(bindings.map { String($0.secondsLeft(at: now)) }.joined(separator: ","))", "outbound": "\(outbound)",
                "path": "\(path.count)",
            ])
            respond(ok, key: key)
        case .intervalTooBrief(let minimum):
            var brief = withTag(Self.response(to: request, 423, "Interval Too Brief"))
            brief.headers.add("Min-Expires", String(minimum))
            respond(brief, key: key)
        case .badRequest(let reason):
            respond(withTag(Self.response(to: request, 400, "Bad Request (\(reason))")), key: key)
        case .outOfOrder:
            respond(withTag(Self.response(to: request, 500, "Server Internal Error (CSeq out of order)")), key: key)
        }
    }

    /// What a device's digest credentials (in `header`: `Authorization` on a REGISTER, `Proxy-Authorization` on an
    /// INVITE it sends out through us) say about it.
    enum DeviceAuthentication: Equatable {
        case missing, stale
        case rejected(username: String, reason: String)
        case accepted(username: String)
    }

    /// Checks a device's credentials against `sip.device_accounts`, with the algorithms we offer. They must be for this
    /// request's Request-URI (RFC 3261 §22.4): else an answer seen on the wire would do for any number.
    func authenticateDevice(_ request: SIPRequest, header: String) -> DeviceAuthentication {
        let now = Self.digestClock()
        guard let value = request.headers.first(header), let credentials = try? DigestCredentials(parsing: value) else { return .missing }
        guard (try? SIPURIReference(parsing: credentials.uri[...]))?.description == request.uri.description else {
            return .rejected(username: credentials.username, reason: "the digest is for \(credentials.uri), not \(request.uri.description)")
        }
        let accounts = settings.deviceAccounts
        let ha1: (String) -> String? = { user in
            accounts[user.lowercased()].map { DigestComputation.ha1(username: user, realm: Self.registrarRealm, password: $0, algorithm: credentials.algorithm) }
        }
        let verdict: DigestServer.Verdict
        if !settings.deviceDigestAlgorithms.contains(credentials.algorithm) {
            verdict = .rejected(reason: "algorithm \(credentials.algorithm.rawValue) is not offered")
        } else if credentials.algorithm == .md5 {
            verdict = registrarMD5.verify(credentials, method: request.method, now: now, ha1: ha1)
        } else {
            verdict = registrarSHA256.verify(credentials, method: request.method, now: now, ha1: ha1)
        }
        switch verdict {
        case .stale: return .stale
        case .rejected(let reason): return .rejected(username: credentials.username, reason: reason)
        case .accepted(let username): return .accepted(username: username)
        }
    }

    /// 401 (407 with `proxy`, for an INVITE) with a challenge per algorithm of `sip.device_digest_algorithms`, in its
    /// order (by default SHA-256, then MD5 for older devices: RFC 8760 §2.4).
    func challenge(_ request: SIPRequest, key: SIPTransactionKey, stale: Bool, proxy: Bool = false) {
        let now = Self.digestClock()
        var response = withTag(proxy ? Self.response(to: request, 407, "Proxy Authentication Required") : Self.response(to: request, 401, "Unauthorized"))
        for algorithm in settings.deviceDigestAlgorithms {
            let server = algorithm == .md5 ? registrarMD5 : registrarSHA256
            response.headers.add(proxy ? "Proxy-Authenticate" : "WWW-Authenticate", server.challenge(now: now, stale: stale).headerValue)
        }
        respond(response, key: key)
    }

    /// The clock of digest nonces: wall-clock time, since the gateways behind one edge share their nonces' secret and
    /// check each other's stamps (the media clock counts from each host's boot).
    static func digestClock() -> MediaInstant {
        MediaInstant(nanoseconds: UInt64(unixMilliseconds()) * 1_000_000)
    }

    /// The live bindings of a user's devices: this gateway's, then those other gateways hold for devices registered
    /// through an edge proxy, reached through that edge (the Path's first hop, over UDP) with the Path as the route.
    func deviceBindings(of user: String) -> [SIPLocationService<SIPFlow>.Binding] {
        let now = Self.now(), aor = user.lowercased()
        var bindings = location.bindings(of: aor, now: now)
        let nowMilliseconds = unixMilliseconds()
        for (_, shared) in sharedBindings[aor] ?? [:] {
            for binding in shared.bindings where binding.expiresAtMs > nowMilliseconds {
                guard let contact = try? SIPURIReference(parsing: binding.contact[...]), !bindings.contains(where: { $0.contact == contact }),
                      let flow = binding.path.first.flatMap(Self.edgeFlow)
                else { continue }
                bindings.append(.init(
                    contact: contact, expires: now.advanced(by: .milliseconds(binding.expiresAtMs - nowMilliseconds)), flow: flow,
                    callID: "shared", sequence: 0, path: binding.path
                ))
            }
        }
        return bindings
    }

    /// The edge a Path's first hop names, over UDP (an address, not a name: this is no place to resolve one).
    static func edgeFlow(_ hop: String) -> SIPFlow? {
        guard let address = try? SIPNameAddress(parsing: hop[...]), let uri = address.uri.sipURI, let host = uri.host.ipAddress,
              (uri.parameters["transport"] ?? nil).map({ $0.lowercased() == "udp" }) ?? true
        else { return nil }
        return (try? SocketAddress(ipAddress: host, port: uri.port ?? 5060)).map(SIPFlow.udp)
    }

    /// Tells the other gateways (on the cache's bus) which bindings this one holds for `aor` through an edge.
    func shareBindings(aor: String, _ bindings: [SIPLocationService<SIPFlow>.Binding], now: MediaInstant) {
        guard let cache = screener?.platform.cache else { return }
        let text = Self.encoded(ownRegistration(aor: aor, bindings, now: now))
        Task { await cache.publish(SharedRegistration.channel, text) }
    }

    /// What this gateway publishes of its bindings of `aor` (those through an edge).
    private func ownRegistration(aor: String, _ bindings: [SIPLocationService<SIPFlow>.Binding], now: MediaInstant) -> SharedRegistration {
        let nowMilliseconds = unixMilliseconds()
        return SharedRegistration(gateway: gatewayToken, aor: aor, bindings: bindings.map {
            SharedBinding(contact: $0.contact.description, path: $0.path, expiresAtMs: nowMilliseconds + Int64($0.secondsLeft(at: now)) * 1000)
        }, sentAtMs: nowMilliseconds)
    }

    private static func encoded(_ value: some Encodable) -> String {
        String(decoding: (try? JSONEncoder().encode(value)) ?? Data(), as: UTF8.self)
    }

    /// A message on the bindings' channel: another gateway's bindings for one address-of-record (its own are
    /// ignored, and so is one older than what is known of that address-of-record), or a gateway that has just started
    /// asking for everything the others know.
    func sharedRegistration(_ text: String) {
        let data = Data(text.utf8)
        if let request = try? JSONDecoder().decode(SharedBindingsRequest.self, from: data) {
            if request.requester != gatewayToken { shareEverything(with: request.requester) }
            return
        }
        guard let registration = try? JSONDecoder().decode(SharedRegistration.self, from: data) else { return }
        take(registration)
    }

    /// The answers to this gateway's ask, on its own channel (`SharedRegistration.replayChannel`): batches of what
    /// another gateway knows.
    func sharedReplay(_ text: String) {
        guard let replay = try? JSONDecoder().decode(SharedBindingsReplay.self, from: Data(text.utf8)) else { return }
        for registration in replay.registrations { take(registration) }
    }

    private func take(_ registration: SharedRegistration) {
        guard registration.gateway != gatewayToken else { return }
        let holders = registration.merged(into: sharedBindings[registration.aor] ?? [:], nowMs: unixMilliseconds(), retentionMs: Int64(location.maximumExpires) * 1000)
        sharedBindings[registration.aor] = holders.isEmpty ? nil : holders
    }

    /// Asks the other gateways, on the bus, for the devices registered through an edge that they know of: a gateway
    /// that starts (a new pod, a restart, a rollout) knows none, its own of before included.
    func requestSharedBindings() {
        guard let cache = screener?.platform.cache else { return }
        let text = Self.encoded(SharedBindingsRequest(requester: gatewayToken))
        Task { await cache.publish(SharedRegistration.channel, text) }
    }

    /// Publishes again what this gateway knows of devices registered through an edge, for a gateway that has just
    /// started: its own bindings, and the copies it keeps of the others' (under their gateways' names and times, so
    /// a gateway that restarted gets its former bindings back while they last).
    private func shareEverything(with requester: String) {
        guard let cache = screener?.platform.cache else { return }
        let now = Self.now(), nowMilliseconds = unixMilliseconds()
        var registrations: [SharedRegistration] = []
        for aor in location.addressesOfRecord(now: now) {
            let throughEdge = location.bindings(of: aor, now: now).filter { !$0.path.isEmpty }
            if !throughEdge.isEmpty { registrations.append(ownRegistration(aor: aor, throughEdge, now: now)) }
        }
        for (_, holders) in sharedBindings {
            for (_, held) in holders where held.bindings.contains(where: { $0.expiresAtMs > nowMilliseconds }) { registrations.append(held) }
        }
        guard !registrations.isEmpty else { return }
        logger.info("device bindings shared with a gateway that started", metadata: ["requester": "\(requester)", "registrations": "\(registrations.count)"])
        // In batches, on the requester's own channel: the other gateways neither decode nor keep it.
        let texts = SharedBindingsReplay.batches(of: registrations).map(Self.encoded)
        let channel = SharedRegistration.replayChannel(for: requester)
        Task { for text in texts { await cache.publish(channel, text) } }
    }

    /// A TCP or TLS connection closed: the devices registered over it are gone until they register again.
    nonisolated func connectionClosed(_ flow: SIPFlow) {
        eventLoop.execute {
            self.assumeIsolated { agent in
                let before = agent.location.count(now: Self.now())
                agent.trunkConnectionClosed(flow)
                agent.location.flowClosed(flow)
                let removed = before - agent.location.count(now: Self.now())
                if removed > 0 { agent.logger.info("device flow closed", metadata: ["flow": "\(flow)", "bindings_removed": "\(removed)"]) }
            }
        }
    }
}

/// A device binding one gateway holds for a device registered through an edge proxy, as the others learn it.
struct SharedBinding: Codable, Sendable, Equatable {
    var contact: String
    var path: [String]
    var expiresAtMs: Int64
}

/// What a gateway publishes after each REGISTER that came through an edge: all its bindings of that address-of-record
/// (none: the device left), and when (the newest of a gateway's wins, whoever relays it).
struct SharedRegistration: Codable, Sendable, Equatable {
    static let channel = "answer-ninja:device-bindings"
    var gateway: String
    var aor: String
    var bindings: [SharedBinding]
    /// Nil from a gateway of a release before it (taken as oldest).
    var sentAtMs: Int64?

    /// `holders` (one address-of-record's copies, by gateway) with this one taken in. The edge sends an
    /// address-of-record's REGISTERs to one gateway (a hash over the To URI), so the newest copy, whichever gateway
    /// sent it, is the whole truth: it replaces the older ones (a gateway that restarted, under a new name; the set of
    /// gateways changed), and one older than what is known (a copy replayed late) changes nothing. An empty list stays
    /// as a marker of the time the devices left, so that an older copy does not bring them back; markers, and lists
    /// whose bindings all expired, go `retentionMs` after they were sent (the longest registration).
    func merged(into holders: [String: SharedRegistration], nowMs: Int64, retentionMs: Int64) -> [String: SharedRegistration] {
        if holders.values.contains(where: { $0.sentAtMs ?? 0 > sentAtMs ?? 0 }) { return holders }
        let live = bindings.contains { $0.expiresAtMs > nowMs } || sentAtMs ?? 0 > nowMs - retentionMs
        return live ? [gateway: self] : [:]
    }

    /// Where the answers to `requester`'s ask go.
    static func replayChannel(for requester: String) -> String { channel + ":" + requester }
}

/// A gateway that has just started, asking the others (on the same channel) for every binding they know.
struct SharedBindingsRequest: Codable, Sendable, Equatable {
    var requester: String
}

/// A batch of what one gateway knows, for a gateway that asked (on its `replayChannel`).
struct SharedBindingsReplay: Codable, Sendable, Equatable {
    static let batch = 200
    var registrations: [SharedRegistration]

    /// `registrations` in batches of `batch`.
    static func batches(of registrations: [SharedRegistration]) -> [SharedBindingsReplay] {
        stride(from: 0, to: registrations.count, by: batch).map {
            SharedBindingsReplay(registrations: Array(registrations[$0 ..< min($0 + batch, registrations.count)]))
        }
    }
}
