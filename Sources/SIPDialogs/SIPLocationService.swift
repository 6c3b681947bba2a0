import AnswerNinjaCore
import SIPMessages

/// The registrar's location service (RFC 3261 §10.3): each address-of-record's contacts, with their expiry and the
/// flow the REGISTER came over. A device behind NAT is reached over that flow (RFC 5626 §5.3, RFC 5923), not at the
/// address its Contact names. Generic over the flow type, so that this layer knows nothing of sockets; time is given.
public struct SIPLocationService<Flow: Hashable & Sendable>: Sendable {
    public struct Binding: Sendable, Equatable {
        public var contact: SIPURIReference
        public var expires: MediaInstant
        public var flow: Flow
        public var callID: String
        public var sequence: UInt32
        /// RFC 5626's `+sip.instance` and `reg-id`: one binding per instance and flow number.
        public var instance: String?
        public var registrationID: Int?
        /// The REGISTER's Path (RFC 3327), in order: the proxies between the registrar and the device, which
        /// requests to the device must traverse (each becomes a Route).
        public var path: [String] = []

        public init(
            contact: SIPURIReference, expires: MediaInstant, flow: Flow, callID: String, sequence: UInt32, instance: String? = nil,
            registrationID: Int? = nil, path: [String] = []
        ) {
            self.contact = contact
            self.expires = expires
            self.flow = flow
            self.callID = callID
            self.sequence = sequence
            self.instance = instance
            self.registrationID = registrationID
            self.path = path
        }

        /// Seconds left at `now`, as a 200 OK states them.
        public func secondsLeft(at now: MediaInstant) -> Int {
            now < expires ? Int((now.duration(to: expires).components.seconds)) : 0
        }
    }

    public enum Outcome: Sendable, Equatable {
        /// 200 OK with every current binding of the AOR.
        case registered([Binding])
        /// 423 Interval Too Brief with `Min-Expires`.
        case intervalTooBrief(minimum: Int)
        /// 400 with the reason.
        case badRequest(String)
        /// 500: a CSeq not above the last one for this Call-ID (§10.3 step 7).
        case outOfOrder
    }

    public let minimumExpires: Int
    public let maximumExpires: Int
    public let defaultExpires: Int
    private var table: [String: [Binding]] = [:]

    public init(minimumExpires: Int = 60, maximumExpires: Int = 3600, defaultExpires: Int = 600) {
        self.minimumExpires = minimumExpires
        self.maximumExpires = maximumExpires
        self.defaultExpires = defaultExpires
    }

    /// The key of an address-of-record: its user part, lower-cased (this registrar serves one domain).
    public static func key(_ aor: SIPURIReference) -> String? {
        switch aor {
        case .sip(let uri): uri.user?.lowercased()
        case .tel(let tel): tel.number
        default: nil
        }
    }

    /// Applies a REGISTER (already authenticated for `aor`) that came over `flow` (§10.3 steps 6-8).
    public mutating func register(_ request: SIPRequest, aor: String, flow: Flow, now: MediaInstant) -> Outcome {
        guard let callID = request.headers.first("Call-ID"), let cseq = request.headers.cseq else {
            return .badRequest("REGISTER without Call-ID or CSeq")
        }
        var bindings = (table[aor] ?? []).filter { now < $0.expires }
        let headerExpires = request.headers.first("Expires").flatMap { SIPDeltaSeconds.parse($0[...]) }
        let contacts = request.headers.list("Contact")
        if contacts.count == 1, contacts[0].filter({ $0 != " " && $0 != "\t" }) == "*" {
            guard headerExpires == 0 else { return .badRequest("Contact: * needs Expires: 0 (§10.2.2)") }
            if bindings.contains(where: { $0.callID == callID && cseq.sequence <= $0.sequence }) { return .outOfOrder }
            table[aor] = nil
            return .registered([])
        }
        var parsed: [(address: SIPNameAddress, expires: Int)] = []
        for raw in contacts {
            guard let address = try? SIPNameAddress(parsing: raw[...]) else { return .badRequest("malformed Contact '\(raw)'") }
            let expires = (address.parameters["expires"] ?? nil).flatMap { SIPDeltaSeconds.parse($0[...]) } ?? headerExpires ?? defaultExpires
            if expires > 0 && expires < minimumExpires { return .intervalTooBrief(minimum: minimumExpires) }
            parsed.append((address, min(expires, maximumExpires)))
        }
        for (address, expires) in parsed {
            let instance = address.parameters["+sip.instance"] ?? nil
            let registrationID = (address.parameters["reg-id"] ?? nil).flatMap { Int($0) }
            // The same device: RFC 5626's instance and reg-id when given, else the same Contact URI.
            let same: (Binding) -> Bool = { binding in
                if let instance, let registrationID { return binding.instance == instance && binding.registrationID == registrationID }
                return binding.contact == address.uri
            }
            if let existing = bindings.first(where: same), existing.callID == callID, cseq.sequence <= existing.sequence { return .outOfOrder }
            bindings.removeAll(where: same)
            if expires > 0 {
                bindings.append(Binding(
                    contact: address.uri, expires: now.advanced(by: .seconds(expires)), flow: flow, callID: callID, sequence: cseq.sequence,
                    instance: instance, registrationID: registrationID, path: request.headers.list("Path")
                ))
            }
        }
        table[aor] = bindings.isEmpty ? nil : bindings
        return .registered(bindings)
    }

    /// The live bindings of `aor`, newest first.
    public func bindings(of aor: String, now: MediaInstant) -> [Binding] {
        (table[aor] ?? []).filter { now < $0.expires }.reversed()
    }

    /// The addresses-of-record with a live binding.
    public func addressesOfRecord(now: MediaInstant) -> [String] {
        table.compactMap { aor, bindings in bindings.contains { now < $0.expires } ? aor : nil }.sorted()
    }

    /// A connection closed: the bindings that came over it can no longer be reached (RFC 5626 §5.3).
    public mutating func flowClosed(_ flow: Flow) {
        for (aor, bindings) in table {
            let left = bindings.filter { $0.flow != flow }
            table[aor] = left.isEmpty ? nil : left
        }
    }

    /// How many bindings are live, for the logs and tests.
    public func count(now: MediaInstant) -> Int {
        table.values.reduce(0) { $0 + $1.filter { now < $0.expires }.count }
    }
}
