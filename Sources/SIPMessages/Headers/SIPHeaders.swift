/// A message's header fields in order, as received: names are stored in their long canonical form for the headers
/// SIP defines (a compact form `v` becomes `Via`, `VIA` becomes `Via`), unknown names as written; values are
/// unfolded (RFC 3261 §7.3.1: a line starting with whitespace continues the previous one) and trimmed.
public struct SIPHeaders: Sendable, Equatable, Sequence {
    public struct Field: Sendable, Equatable {
        public var name: String
        public var value: String

        public init(name: String, value: String) {
            self.name = SIPHeaders.canonicalName(name)
            self.value = value
        }
    }

    public private(set) var fields: [Field] = []

    public init(_ fields: [(String, String)] = []) {
        self.fields = fields.map { Field(name: $0.0, value: $0.1) }
    }

    public func makeIterator() -> [Field].Iterator { fields.makeIterator() }
    public var count: Int { fields.count }

    /// Every field value of `name` (any form: `v`, `via`, `Via`), in order. A value holding a comma-separated
    /// list stays one value: use `list(_:)` for the elements.
    public subscript(name: String) -> [String] {
        let canonical = Self.canonicalName(name)
        return fields.filter { $0.name == canonical || $0.name.caseInsensitiveCompare(canonical) }.map(\.value)
    }

    public func first(_ name: String) -> String? {
        let canonical = Self.canonicalName(name)
        return fields.first { $0.name == canonical || $0.name.caseInsensitiveCompare(canonical) }?.value
    }

    public func contains(_ name: String) -> Bool { first(name) != nil }

    /// The elements of a list header (Via, Contact, Route, Allow, Supported, ...), across its fields: values split at
    /// commas outside quotes and angle brackets, trimmed.
    public func list(_ name: String) -> [String] {
        self[name].flatMap { SIPGrammar.split($0[...], at: ",").map { String(SIPGrammar.trimmed($0)) } }
    }

    public mutating func add(_ name: String, _ value: String) {
        fields.append(Field(name: name, value: value))
    }

    /// Replaces every field of `name` with one (placed where the first was, or at the end).
    public mutating func set(_ name: String, _ value: String) {
        let canonical = Self.canonicalName(name)
        if let index = fields.firstIndex(where: { $0.name.caseInsensitiveCompare(canonical) }) {
            fields[index].value = value
            fields = fields.enumerated().filter { $0.offset == index || !$0.element.name.caseInsensitiveCompare(canonical) }.map(\.element)
        } else {
            fields.append(Field(name: canonical, value: value))
        }
    }

    public mutating func remove(_ name: String) {
        let canonical = Self.canonicalName(name)
        fields.removeAll { $0.name.caseInsensitiveCompare(canonical) }
    }

    /// Inserts a field before all others (a proxy's Via, RFC 3261 §16.6).
    public mutating func prepend(_ name: String, _ value: String) {
        fields.insert(Field(name: name, value: value), at: 0)
    }

    // MARK: Names

    /// Compact forms (RFC 3261 §7.3.3 and the extensions that define one).
    static let compactForms: [String: String] = [
        "a": "Accept-Contact", "b": "Referred-By", "c": "Content-Type", "d": "Request-Disposition", "e": "Content-Encoding",
        "f": "From", "i": "Call-ID", "j": "Reject-Contact", "k": "Supported", "l": "Content-Length", "m": "Contact",
        "n": "Identity-Info", "o": "Event", "r": "Refer-To", "s": "Subject", "t": "To", "u": "Allow-Events", "v": "Via",
        "x": "Session-Expires", "y": "Identity",
    ]

    /// The canonical spelling of the header names this implementation reads or writes.
    static let knownNames: [String: String] = {
        let names = [
            "Accept", "Accept-Contact", "Accept-Encoding", "Accept-Language", "Alert-Info", "Allow", "Allow-Events",
            "Authentication-Info", "Authorization", "Call-ID", "Call-Info", "Contact", "Content-Disposition",
            "Content-Encoding", "Content-Language", "Content-Length", "Content-Type", "CSeq", "Date", "Diversion", "Error-Info",
            "Event", "Expires", "From", "History-Info", "Identity", "Identity-Info", "In-Reply-To", "Max-Forwards", "Min-Expires",
            "Min-SE", "MIME-Version", "Organization", "P-Asserted-Identity", "P-Called-Party-ID", "P-Preferred-Identity",
            "Path", "Priority", "Privacy", "Proxy-Authenticate", "Proxy-Authorization", "Proxy-Require", "RAck", "Reason",
            "Record-Route", "Refer-To", "Referred-By", "Reject-Contact", "Replaces", "Reply-To", "Request-Disposition",
            "Require", "Retry-After", "Route", "RSeq", "Server", "Session-Expires", "Subject", "Subscription-State",
            "Supported", "Timestamp", "To", "Unsupported", "User-Agent", "Via", "Warning", "WWW-Authenticate",
        ]
        return Dictionary(uniqueKeysWithValues: names.map { ($0.lowercased(), $0) })
    }()

    /// The canonical spellings themselves, for the common case of a name already written canonically.
    static let canonicalNames = Set(knownNames.values)

    static func canonicalName(_ name: String) -> String {
        if canonicalNames.contains(name) { return name }
        let lower = name.lowercased()
        if let long = compactForms[lower] { return long }
        return knownNames[lower] ?? name
    }
}
