/// A session description (RFC 8866, which obsoletes RFC 4566): the session-level lines and the media sections.
/// Parse with `init(parsing:)`, write with `serialized`; lines keep their order, attributes stay strings until a typed
/// accessor reads them, so what we do not understand survives a round trip.
public struct SessionDescription: Sendable, Equatable {
    public struct Origin: Sendable, Equatable {
        public var username: String
        public var sessionID: String
        /// Incremented by the sender on every change of its description (RFC 3264 §8).
        public var sessionVersion: UInt64
        public var address: String
        public var addressType: String

        public init(username: String = "-", sessionID: String, sessionVersion: UInt64, address: String, addressType: String = "IP4") {
            self.username = username
            self.sessionID = sessionID
            self.sessionVersion = sessionVersion
            self.address = address
            self.addressType = addressType
        }

        var line: String { "\(username) \(sessionID) \(sessionVersion) IN \(addressType) \(address)" }
    }

    public struct Connection: Sendable, Equatable {
        public var addressType: String
        /// Without a TTL or count suffix.
        public var address: String

        public init(address: String, addressType: String? = nil) {
            self.address = address
            self.addressType = addressType ?? (address.contains(":") ? "IP6" : "IP4")
        }

        var line: String { "IN \(addressType) \(address)" }

        /// `0.0.0.0` (or `::`): the legacy way of putting a call on hold (RFC 3264 §8.4).
        public var isUnspecified: Bool { address == "0.0.0.0" || address == "::" }
    }

    public struct Attribute: Sendable, Equatable {
        public var name: String
        public var value: String?

        public init(_ name: String, _ value: String? = nil) {
            self.name = name
            self.value = value
        }

        var line: String { value.map { "\(name):\($0)" } ?? name }
    }

    public var origin: Origin
    public var sessionName: String
    public var connection: Connection?
    /// `b=` lines as written (`AS:64`).
    public var bandwidths: [String]
    /// `t=` lines (start and stop times), normally `0 0`.
    public var timing: [String]
    /// Lines of other types (`i=`, `u=`, `e=`, `p=`, `r=`, `z=`, `k=`), kept in order as `(type, value)`.
    public var otherLines: [(type: Character, value: String)]
    public var attributes: [Attribute]
    public var media: [MediaDescription]

    public init(origin: Origin, sessionName: String = "-", connection: Connection? = nil, attributes: [Attribute] = [], media: [MediaDescription] = []) {
        self.origin = origin
        self.sessionName = sessionName
        self.connection = connection
        bandwidths = []
        timing = ["0 0"]
        otherLines = []
        self.attributes = attributes
        self.media = media
    }

    public static func == (lhs: SessionDescription, rhs: SessionDescription) -> Bool {
        lhs.origin == rhs.origin && lhs.sessionName == rhs.sessionName && lhs.connection == rhs.connection && lhs.bandwidths == rhs.bandwidths
            && lhs.timing == rhs.timing && lhs.otherLines.map(\.type) == rhs.otherLines.map(\.type)
            && lhs.otherLines.map(\.value) == rhs.otherLines.map(\.value) && lhs.attributes == rhs.attributes && lhs.media == rhs.media
    }

    /// The session-level value of attribute `name` (the first), `.some(nil)` for a flag, nil when absent.
    public func attribute(_ name: String) -> String?? {
        attributes.first { $0.name == name }.map(\.value)
    }

    /// The description as sent: CRLF line ends, in the order of RFC 8866 §5.
    public var serialized: String {
        var lines = ["v=0", "o=" + origin.line, "s=" + (sessionName.isEmpty ? "-" : sessionName)]
        lines += otherLines.filter { "ieup".contains($0.type) }.map { "\($0.type)=\($0.value)" }
        if let connection { lines.append("c=" + connection.line) }
        lines += bandwidths.map { "b=" + $0 }
        lines += (timing.isEmpty ? ["0 0"] : timing).map { "t=" + $0 }
        lines += otherLines.filter { "rzk".contains($0.type) }.map { "\($0.type)=\($0.value)" }
        lines += attributes.map { "a=" + $0.line }
        for section in media { lines += section.lines }
        return lines.joined(separator: "\r\n") + "\r\n"
    }

    /// Parses SDP text (CRLF or LF line ends). `v=0` and `o=` must come first; an unknown line type is an error
    /// (RFC 8866 §5: a parser must not guess at what it does not understand).
    public init(parsing text: String) throws(SDPError) {
        var lines = text.split(omittingEmptySubsequences: true, whereSeparator: { $0 == "\n" || $0 == "\r\n" })
            .map { $0.last == "\r" ? $0.dropLast() : $0 }
            .filter { !$0.isEmpty }
        guard lines.first == "v=0" else { throw .malformed("SDP must start with v=0") }
        lines.removeFirst()
        var parsedOrigin: Origin?
        var name: String?
        connection = nil
        bandwidths = []
        timing = []
        otherLines = []
        attributes = []
        media = []
        var current: MediaDescription?
        for line in lines {
            guard line.count >= 2, line[line.index(after: line.startIndex)] == "=", let type = line.first else {
                throw .malformed("malformed SDP line '\(line.prefix(40))'")
            }
            let value = String(line.dropFirst(2))
            if type == "m" {
                if let current { media.append(current) }
                current = try MediaDescription(parsingMediaLine: value)
                continue
            }
            if current != nil {
                switch type {
                case "i", "k": current!.otherLines.append((type, value))
                case "c": current!.connection = try Self.parseConnection(value)
                case "b": current!.bandwidths.append(value)
                case "a": current!.attributes.append(Self.parseAttribute(value))
                default: throw .malformed("'\(type)=' may not appear in a media section")
                }
                continue
            }
            switch type {
            case "o": parsedOrigin = try Self.parseOrigin(value)
            case "s": name = value
            case "c": connection = try Self.parseConnection(value)
            case "b": bandwidths.append(value)
            case "t": timing.append(value)
            case "i", "u", "e", "p", "r", "z", "k": otherLines.append((type, value))
            case "a": attributes.append(Self.parseAttribute(value))
            default: throw .malformed("unknown SDP line type '\(type)'")
            }
        }
        if let current { media.append(current) }
        guard let parsedOrigin else { throw .malformed("SDP without an o= line") }
        origin = parsedOrigin
        // "s= " and "s=-" both mean no name (RFC 8866 §5.3); an empty one is read the same way.
        let trimmedName = name.map { $0.trimmingSpaces } ?? ""
        sessionName = trimmedName.isEmpty ? "-" : trimmedName
        for section in media where section.connection == nil && connection == nil && section.port != 0 {
            throw .malformed("media section \(section.type) has no connection address (c=) and the session has none")
        }
    }

    static func parseOrigin(_ value: String) throws(SDPError) -> Origin {
        let fields = value.split(separator: " ")
        guard fields.count == 6, fields[3] == "IN", let version = UInt64(fields[2]) else { throw .malformed("malformed o= line '\(value)'") }
        return Origin(username: String(fields[0]), sessionID: String(fields[1]), sessionVersion: version, address: String(fields[5]), addressType: String(fields[4]))
    }

    static func parseConnection(_ value: String) throws(SDPError) -> Connection {
        let fields = value.split(separator: " ")
        guard fields.count == 3, fields[0] == "IN", fields[1] == "IP4" || fields[1] == "IP6" else { throw .malformed("malformed c= line '\(value)'") }
        let address = fields[2].split(separator: "/").first.map(String.init) ?? ""
        guard !address.isEmpty else { throw .malformed("malformed c= address '\(value)'") }
        return Connection(address: address, addressType: String(fields[1]))
    }

    static func parseAttribute(_ value: String) -> Attribute {
        guard let colon = value.firstIndex(of: ":") else { return Attribute(value) }
        return Attribute(String(value[..<colon]), String(value[value.index(after: colon)...]))
    }
}

extension String {
    var trimmingSpaces: String {
        var text = self[...]
        while text.first == " " { text = text.dropFirst() }
        while text.last == " " { text = text.dropLast() }
        return String(text)
    }
}
