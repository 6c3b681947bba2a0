import SIPMessages

/// The transports RFC 3263 chooses between.
public enum SIPTransportProtocol: String, Sendable, CaseIterable, CustomStringConvertible {
    case udp, tcp, tls

    /// RFC 3263 §4.1's NAPTR services.
    public var naptrService: String {
        switch self {
        case .udp: "SIP+D2U"
        case .tcp: "SIP+D2T"
        case .tls: "SIPS+D2T"
        }
    }

    /// RFC 3263 §4.2's SRV prefix.
    public var srvPrefix: String {
        switch self {
        case .udp: "_sip._udp."
        case .tcp: "_sip._tcp."
        case .tls: "_sips._tcp."
        }
    }

    public var defaultPort: Int { self == .tls ? 5061 : 5060 }
    public var description: String { rawValue }
}

/// One place to send a request: a transport, an IP address and a port, with the host name a TLS certificate must
/// match (RFC 5922: the domain of the URI, not the SRV target).
public struct SIPServerTarget: Hashable, Sendable, CustomStringConvertible {
    public var transport: SIPTransportProtocol
    public var address: String
    public var port: Int
    public var serverName: String?

    public init(transport: SIPTransportProtocol, address: String, port: Int, serverName: String? = nil) {
        self.transport = transport
        self.address = address
        self.port = port
        self.serverName = serverName
    }

    public var description: String {
        "\(transport) \(SIPURI.Host(unparsed: address)):\(port)"
    }
}

/// RFC 3263 §4, the client's half: from a SIP URI to an ordered list of targets (try the first; on a transport
/// failure or a 503, the next), through NAPTR, SRV (RFC 2782 order and weights) and A/AAAA lookups. The lookups
/// are injected: this type does no I/O (the gateway's resolver runs them on a thread pool).
public struct SIPServerLocator: Sendable {
    /// Answers one query: the records of `type` for `name`, empty for NXDOMAIN or no data; throws when the server
    /// fails (the whole resolution fails then, since a missing record cannot be told from an unanswered one).
    public typealias Lookup = @Sendable (_ name: String, _ type: DNSRecordType) async throws -> [DNSRecord]

    /// The transports we can send on, most preferred first: the order of SRV queries when there is no NAPTR.
    public var transports: [SIPTransportProtocol]

    public init(transports: [SIPTransportProtocol] = [.tls, .tcp, .udp]) {
        self.transports = transports
    }

    /// The targets for `uri`. `random` picks among SRV records of equal priority by weight.
    public func locate<Random: RandomNumberGenerator & Sendable>(
        _ uri: SIPURI, lookup: Lookup, random: inout Random
    ) async throws -> [SIPServerTarget] {
        let parameter = (uri.parameters["transport"] ?? nil).flatMap { SIPTransportProtocol(rawValue: $0.lowercased()) }
        // A sips URI goes over TLS (RFC 3261 §26.2.2): transport=tcp with sips means TLS over TCP. Without a
        // transport parameter it still looks at NAPTR, keeping only SIPS+D2T (RFC 3263 §4.1).
        let explicit: SIPTransportProtocol? = parameter.map { uri.secure ? .tls : $0 }
        let implicit: SIPTransportProtocol = uri.secure ? .tls : .udp
        let allowed = uri.secure ? transports.filter { $0 == .tls } : transports
        if let explicit, !allowed.contains(explicit) {
            throw SIPLocatorError.noTarget("\(uri.serialized) needs \(explicit), which this gateway does not send on")
        }
        let domain: String
        switch uri.host {
        case .ipv4(let address), .ipv6(let address):
            // §4.1/§4.2: a numeric host is used as is, over UDP unless said otherwise.
            let transport = explicit ?? implicit
            return [SIPServerTarget(transport: transport, address: address, port: uri.port ?? transport.defaultPort)]
        case .name(let name): domain = name
        }
        // §4.2: a port in the URI means A/AAAA only.
        if let port = uri.port {
            let transport = explicit ?? implicit
            let found = try await addresses(of: domain, lookup: lookup).map { SIPServerTarget(transport: transport, address: $0, port: port, serverName: domain) }
            guard !found.isEmpty else { throw SIPLocatorError.noTarget("\(domain) has no A or AAAA record") }
            return found
        }
        // §4.1: a transport in the URI skips NAPTR.
        if let explicit {
            let targets = try await service(explicit.srvPrefix + domain, transport: explicit, serverName: domain, lookup: lookup, random: &random)
            if !targets.isEmpty { return targets }
            let found = try await addresses(of: domain, lookup: lookup).map {
                SIPServerTarget(transport: explicit, address: $0, port: explicit.defaultPort, serverName: domain)
            }
            guard !found.isEmpty else { throw SIPLocatorError.noTarget("\(domain) has no \(explicit) SRV, A or AAAA record") }
            return found
        }
        // NAPTR: the services we do, in order then preference; each leads to an SRV name.
        let naptrs = try await lookup(domain, .naptr).compactMap { record -> (order: UInt16, preference: UInt16, transport: SIPTransportProtocol, replacement: String)? in
            guard case .naptr(_, let order, let preference, let flags, let service, _, let replacement) = record, flags.lowercased() == "s",
                let transport = SIPTransportProtocol.allCases.first(where: { $0.naptrService.caseInsensitiveCompare(service) }),
                allowed.contains(transport), !replacement.isEmpty
            else { return nil }
            return (order, preference, transport, replacement)
        }
        if !naptrs.isEmpty {
            var targets: [SIPServerTarget] = []
            for naptr in naptrs.sorted(by: { ($0.order, $0.preference) < ($1.order, $1.preference) }) {
                targets += try await service(naptr.replacement, transport: naptr.transport, serverName: domain, lookup: lookup, random: &random)
            }
            if !targets.isEmpty { return targets }
        }
        // No NAPTR: SRV for each transport we do, in our preference.
        var targets: [SIPServerTarget] = []
        for transport in allowed {
            targets += try await service(transport.srvPrefix + domain, transport: transport, serverName: domain, lookup: lookup, random: &random)
        }
        if !targets.isEmpty { return targets }
        // §4.2: no SRV either: the domain's addresses on the default port, UDP (TLS for sips).
        let transport = implicit
        guard allowed.contains(transport) else { throw SIPLocatorError.noTarget("\(domain) has no NAPTR or SRV record, and \(transport) is not ours") }
        let found = try await addresses(of: domain, lookup: lookup).map {
            SIPServerTarget(transport: transport, address: $0, port: transport.defaultPort, serverName: domain)
        }
        guard !found.isEmpty else { throw SIPLocatorError.noTarget("\(domain) has no NAPTR, SRV, A or AAAA record") }
        return found
    }

    /// The targets of one SRV name, in RFC 2782 order; a "." target says the service is not offered there.
    func service<Random: RandomNumberGenerator>(
        _ name: String, transport: SIPTransportProtocol, serverName: String, lookup: Lookup, random: inout Random
    ) async throws -> [SIPServerTarget] {
        let records = try await lookup(name, .srv).compactMap { record -> Self.SRV? in
            guard case .srv(_, let priority, let weight, let port, let target) = record else { return nil }
            return SRV(priority: priority, weight: weight, port: port, target: target)
        }
        if records.count == 1, records[0].target == "" || records[0].target == "." { return [] }
        var targets: [SIPServerTarget] = []
        for record in Self.order(records, random: &random) where record.target != "" && record.target != "." {
            for address in try await addresses(of: record.target, lookup: lookup) {
                targets.append(SIPServerTarget(transport: transport, address: address, port: Int(record.port), serverName: serverName))
            }
        }
        return targets
    }

    struct SRV: Equatable {
        var priority: UInt16
        var weight: UInt16
        var port: UInt16
        var target: String
    }

    /// RFC 2782's selection: by priority, then, within a priority, repeatedly a record drawn with probability in
    /// proportion to its weight (zero weights first in the running sum, so they are picked rarely but not never).
    static func order<Random: RandomNumberGenerator>(_ records: [SRV], random: inout Random) -> [SRV] {
        var ordered: [SRV] = []
        for priority in Set(records.map(\.priority)).sorted() {
            var pool = records.filter { $0.priority == priority }.sorted { $0.weight < $1.weight }
            while !pool.isEmpty {
                let total = pool.reduce(0) { $0 + Int($1.weight) }
                let pick = total == 0 ? 0 : Int.random(in: 0...total, using: &random)
                var sum = 0
                let index = pool.firstIndex { record in
                    sum += Int(record.weight)
                    return sum >= pick
                } ?? pool.count - 1
                ordered.append(pool.remove(at: index))
            }
        }
        return ordered
    }

    /// A then AAAA addresses of `host` (an address literal is itself).
    func addresses(of host: String, lookup: Lookup) async throws -> [String] {
        var found: [String] = []
        for record in try await lookup(host, .a) { if case .a(_, let address) = record { found.append(address) } }
        for record in try await lookup(host, .aaaa) { if case .aaaa(_, let address) = record { found.append(address) } }
        return found
    }
}

extension String {
    fileprivate func caseInsensitiveCompare(_ other: String) -> Bool { lowercased() == other.lowercased() }
}
