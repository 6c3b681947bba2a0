/// One media section (`m=` and the lines after it, RFC 8866 §5.14), with typed readers for what offer/answer needs.
public struct MediaDescription: Sendable, Equatable {
    /// `audio`, `video`, `application`, ...
    public var type: String
    /// 0 rejects or disables the stream (RFC 3264 §6).
    public var port: Int
    public var portCount: Int?
    /// `RTP/AVP`, `RTP/SAVP`, `UDP/TLS/RTP/SAVPF`, ...
    public var proto: String
    /// Payload types for RTP profiles, as written.
    public var formats: [String]
    public var connection: SessionDescription.Connection?
    public var bandwidths: [String]
    public var otherLines: [(type: Character, value: String)]
    public var attributes: [SessionDescription.Attribute]

    public init(type: String, port: Int, proto: String, formats: [String], connection: SessionDescription.Connection? = nil, attributes: [SessionDescription.Attribute] = []) {
        self.type = type
        self.port = port
        portCount = nil
        self.proto = proto
        self.formats = formats
        self.connection = connection
        bandwidths = []
        otherLines = []
        self.attributes = attributes
    }

    public static func == (lhs: MediaDescription, rhs: MediaDescription) -> Bool {
        lhs.type == rhs.type && lhs.port == rhs.port && lhs.portCount == rhs.portCount && lhs.proto == rhs.proto && lhs.formats == rhs.formats
            && lhs.connection == rhs.connection && lhs.bandwidths == rhs.bandwidths && lhs.attributes == rhs.attributes
            && lhs.otherLines.map(\.type) == rhs.otherLines.map(\.type) && lhs.otherLines.map(\.value) == rhs.otherLines.map(\.value)
    }

    init(parsingMediaLine value: String) throws(SDPError) {
        let fields = value.split(separator: " ")
        guard fields.count >= 4 else { throw .malformed("malformed m= line '\(value)'") }
        let portParts = fields[1].split(separator: "/")
        guard let port = Int(portParts[0]), (0...65535).contains(port) else { throw .malformed("malformed m= port '\(fields[1])'") }
        type = String(fields[0])
        self.port = port
        portCount = portParts.count > 1 ? Int(portParts[1]) : nil
        proto = String(fields[2])
        formats = fields.dropFirst(3).map(String.init)
        if proto.hasPrefix("RTP/") || proto.contains("/RTP/") {
            guard formats.allSatisfy({ Int($0).map { (0...127).contains($0) } == true }) else { throw .malformed("RTP payload types must be 0-127: '\(value)'") }
        }
        connection = nil
        bandwidths = []
        otherLines = []
        attributes = []
    }

    var lines: [String] {
        var lines = ["m=\(type) \(port)\(portCount.map { "/\($0)" } ?? "") \(proto) \(formats.joined(separator: " "))"]
        lines += otherLines.filter { $0.type == "i" }.map { "i=\($0.value)" }
        if let connection { lines.append("c=" + connection.line) }
        lines += bandwidths.map { "b=" + $0 }
        lines += otherLines.filter { $0.type == "k" }.map { "k=\($0.value)" }
        lines += attributes.map { "a=" + $0.line }
        return lines
    }

    // MARK: Typed readers

    public func attribute(_ name: String) -> String?? { attributes.first { $0.name == name }.map(\.value) }
    public func attributes(_ name: String) -> [String] { attributes.filter { $0.name == name }.compactMap(\.value) }

    public struct RTPMap: Sendable, Equatable {
        public var payloadType: Int
        /// Lowercased: `pcmu`, `opus`, `telephone-event`.
        public var encoding: String
        public var clockRate: Int
        public var channels: Int
    }

    /// The rtpmap of `payloadType`: from `a=rtpmap`, or the static assignment of RFC 3551 for 0 (PCMU) and 8 (PCMA).
    public func rtpmap(_ payloadType: Int) -> RTPMap? {
        for value in attributes("rtpmap") {
            let parts = value.split(separator: " ", maxSplits: 1)
            guard parts.count == 2, Int(parts[0]) == payloadType else { continue }
            let encoding = parts[1].split(separator: "/")
            guard encoding.count >= 2, let rate = Int(encoding[1]) else { return nil }
            return RTPMap(payloadType: payloadType, encoding: encoding[0].lowercased(), clockRate: rate, channels: encoding.count > 2 ? Int(encoding[2]) ?? 1 : 1)
        }
        switch payloadType {
        case 0: return RTPMap(payloadType: 0, encoding: "pcmu", clockRate: 8000, channels: 1)
        case 8: return RTPMap(payloadType: 8, encoding: "pcma", clockRate: 8000, channels: 1)
        case 13: return RTPMap(payloadType: 13, encoding: "cn", clockRate: 8000, channels: 1)
        default: return nil
        }
    }

    /// The `a=fmtp` parameters of `payloadType`, as written after the type.
    public func fmtp(_ payloadType: Int) -> String? {
        for value in attributes("fmtp") {
            let parts = value.split(separator: " ", maxSplits: 1)
            if parts.count == 2, Int(parts[0]) == payloadType { return String(parts[1]) }
        }
        return nil
    }

    public var ptime: Int? { (attribute("ptime") ?? nil).flatMap { Int($0.split(separator: ".").first ?? "") } }

    public enum Direction: String, Sendable, Equatable {
        case sendrecv, sendonly, recvonly, inactive

        /// The direction an answer gives to this offered one (RFC 3264 §6.1).
        public var answer: Direction {
            switch self {
            case .sendonly: .recvonly
            case .recvonly: .sendonly
            default: self
            }
        }
    }

    /// The section's direction attribute (sendrecv when there is none: RFC 8866 §6.7).
    public var direction: Direction {
        for attribute in attributes { if let direction = Direction(rawValue: attribute.name) { return direction } }
        return .sendrecv
    }

    public var rtcpMux: Bool { attribute("rtcp-mux") != nil }
    public var isSecureRTP: Bool { proto.uppercased().contains("SAVP") }
}
