/// One Via header value (RFC 3261 §20.42, §18.2.2, RFC 3581): `SIP/2.0/UDP host:port;branch=z9hG4bK...;rport`.
/// Whitespace is allowed around the slashes of the sent-protocol (`SIP / 2.0 / UDP`, RFC 4475 §3.1.1.1).
public struct SIPVia: Sendable, Equatable {
    /// `UDP`, `TCP`, `TLS`, `SCTP`, `WS`, `WSS` or another token, uppercased.
    public var transport: String
    public var host: SIPURI.Host
    public var port: Int?
    public var parameters: SIPParameters

    /// The magic cookie that marks an RFC 3261 branch (§8.1.1.7).
    public static let magicCookie = "z9hG4bK"

    public init(transport: String, host: SIPURI.Host, port: Int? = nil, parameters: SIPParameters = SIPParameters()) {
        self.transport = transport.uppercased()
        self.host = host
        self.port = port
        self.parameters = parameters
    }

    /// The Via of a request we send: a fresh RFC 3261 branch (§8.1.1.7), and rport asked for (RFC 3581).
    public static func outgoing(transport: String, host: String, port: Int?) -> SIPVia {
        SIPVia(
            transport: transport, host: SIPURI.Host(unparsed: host), port: port,
            parameters: SIPParameters([.init(name: "branch", value: magicCookie + SIPToken.random()), .init(name: "rport")])
        )
    }

    public var branch: String? { parameters["branch"] ?? nil }
    public var received: String? { parameters["received"] ?? nil }
    /// RFC 3581: `.some(nil)` when the client asked for rport (no value), `.some(port)` once filled in.
    public var rport: Int?? {
        guard let value = parameters["rport"] else { return nil }
        return .some(value.flatMap { Int($0) })
    }

    public var serialized: String {
        "SIP/2.0/\(transport) \(host)" + (port.map { ":\($0)" } ?? "") + parameters.serialized
    }

    public init(parsing raw: Substring) throws(SIPMessageError) {
        let text = SIPGrammar.trimmed(raw)
        // sent-protocol: three tokens separated by '/', with optional whitespace around the slashes.
        var parts: [Substring] = []
        var rest = text[...]
        for position in 0..<3 {
            rest = SIPGrammar.trimmed(rest)
            let end = rest.firstIndex { $0 == "/" || $0 == " " || $0 == "\t" } ?? rest.endIndex
            let token = rest[..<end]
            guard SIPGrammar.isToken(token) else { throw .badRequest("malformed Via sent-protocol") }
            parts.append(token)
            rest = SIPGrammar.trimmed(rest[end...])
            if position < 2 {
                guard rest.first == "/" else { throw .badRequest("malformed Via sent-protocol") }
                rest = rest.dropFirst()
            }
        }
        guard parts[0].uppercased() == "SIP", parts[1] == "2.0" else { throw .badRequest("Via names protocol \(parts[0])/\(parts[1]), not SIP/2.0") }
        transport = parts[2].uppercased()
        // sent-by [; params]
        let end = rest.firstByte(";") ?? rest.endIndex
        let sentBy = SIPGrammar.trimmed(rest[..<end])
        guard !sentBy.isEmpty, !sentBy.utf8.contains(UInt8(ascii: " ")), !sentBy.utf8.contains(UInt8(ascii: "\t")) else { throw .badRequest("malformed Via sent-by") }
        (host, port) = try SIPURI.parseHostPort(sentBy, in: text)
        parameters = end < rest.endIndex
            ? try SIPParameters.parse(rest[rest.index(after: end)...], allowWhitespace: true, what: "Via parameters")
            : SIPParameters()
        if let branch = parameters["branch"] {
            guard let branch, !branch.isEmpty else { throw .badRequest("Via branch without a value") }
        }
    }
}

/// The CSeq header (RFC 3261 §20.16, §8.1.1.5): a sequence number below 2^31 and the method.
public struct SIPCSeq: Sendable, Equatable {
    public var sequence: UInt32
    public var method: String

    public init(sequence: UInt32, method: String) {
        self.sequence = sequence
        self.method = method
    }

    public var serialized: String { "\(sequence) \(method)" }

    public init(parsing raw: Substring) throws(SIPMessageError) {
        let parts = SIPGrammar.trimmed(raw).split(whereSeparator: { $0 == " " || $0 == "\t" })
        guard parts.count == 2, parts[0].utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), SIPGrammar.isToken(parts[1]) else {
            throw .badRequest("malformed CSeq '\(raw)'")
        }
        // Leading zeros are allowed (RFC 4475 §3.1.1.1 has 0009); the value must be below 2^31.
        let digits = parts[0].drop { $0 == "0" }
        guard digits.count <= 10, let value = UInt64(digits.isEmpty ? "0" : digits), value < 1 << 31 else {
            throw .badRequest("CSeq number \(parts[0]) is not below 2^31")
        }
        sequence = UInt32(value)
        method = String(parts[1])
    }
}

/// Random tokens for tags, branches and Call-IDs (RFC 3261 §19.3: globally unique, cryptographically random).
public enum SIPToken {
    public static func random(length: Int = 10) -> String {
        var generator = SystemRandomNumberGenerator()
        return String((0..<length).map { _ in "abcdefghijklmnopqrstuvwxyz0123456789".randomElement(using: &generator)! })
    }
}

