/// Any URI SIP carries (RFC 3261 §19, RFC 3966): a SIP or SIPS URI, a telephone number, or another scheme kept
/// as written (a UAS answers a Request-URI it does not support with 416, which is the application's decision).
public enum SIPURIReference: Sendable, Equatable, CustomStringConvertible {
    case sip(SIPURI)
    case tel(TelURI)
    /// absoluteURI of another scheme: its scheme (lowercased) and the text after the colon.
    case other(scheme: String, opaque: String)

    public var description: String {
        switch self {
        case .sip(let uri): uri.serialized
        case .tel(let uri): uri.serialized
        case .other(let scheme, let opaque): scheme + ":" + opaque
        }
    }

    public var scheme: String {
        switch self {
        case .sip(let uri): uri.secure ? "sips" : "sip"
        case .tel: "tel"
        case .other(let scheme, _): scheme
        }
    }

    public var sipURI: SIPURI? { if case .sip(let uri) = self { uri } else { nil } }

    /// Parses an addr-spec: `sip:`/`sips:` and `tel:` fully, other schemes by the absoluteURI syntax.
    public init(parsing text: Substring) throws(SIPMessageError) {
        guard let colon = text.firstByte(":"), let first = text.utf8.first, (first | 0x20) >= 0x61, (first | 0x20) <= 0x7A,
              text[..<colon].utf8.allSatisfy({ SIPGrammar.isAlphanumeric($0) || "+-.".utf8.contains($0) })
        else { throw .badRequest("not a URI: \(text.prefix(40))") }
        let scheme = text[..<colon].lowercased()
        switch scheme {
        case "sip", "sips": self = .sip(try SIPURI(parsing: text))
        case "tel": self = .tel(try TelURI(parsing: text[text.index(after: colon)...]))
        default:
            let opaque = text[text.index(after: colon)...]
            guard !opaque.isEmpty, !opaque.utf8.contains(where: { $0 <= 0x20 || $0 == UInt8(ascii: "<") || $0 == UInt8(ascii: ">") || $0 == UInt8(ascii: "\"") }) else {
                throw .badRequest("malformed \(scheme) URI")
            }
            self = .other(scheme: scheme, opaque: String(opaque))
        }
    }
}

/// A `tel:` URI (RFC 3966): a global number (`+` and digits, visual separators allowed) or a local one with a
/// `phone-context`.
public struct TelURI: Sendable, Equatable {
    /// As written, separators included.
    public var number: String
    public var parameters: SIPParameters

    /// The number's digits (and a leading `+`), without visual separators.
    public var digits: String { String(number.filter { $0.isNumber || $0 == "+" || $0 == "*" || $0 == "#" }) }
    public var isGlobal: Bool { number.hasPrefix("+") }
    public var serialized: String { "tel:" + number + parameters.serialized }

    public init(number: String, parameters: SIPParameters = SIPParameters()) {
        self.number = number
        self.parameters = parameters
    }

    /// `text` is what follows `tel:`.
    init(parsing text: Substring) throws(SIPMessageError) {
        var body = text
        parameters = SIPParameters()
        if let semicolon = text.firstByte(";") {
            body = text[..<semicolon]
            parameters = try SIPParameters.parse(text[text.index(after: semicolon)...], allowWhitespace: false, what: "tel URI parameters")
        }
        let separators = "-.()"
        let digits = body.drop { $0 == "+" }
        guard !digits.isEmpty, digits.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || SIPGrammar.isHexDigit($0) || "*#".utf8.contains($0) || separators.utf8.contains($0) }),
              body.filter({ $0 == "+" }).count <= 1
        else { throw .badRequest("malformed tel URI number '\(body)'") }
        guard body.hasPrefix("+") || parameters.contains("phone-context") else {
            throw .badRequest("a local tel URI needs a phone-context (RFC 3966 §5.1.5)")
        }
        number = String(body)
    }
}
