/// A DTMF digit sent in an INFO request (the de facto `application/dtmf-relay` body, `Signal=5\r\nDuration=160`,
/// and `application/dtmf`, the digit alone). Events 10 and 11 are `*` and `#` as in RFC 4733.
public struct SIPDTMFInfo: Sendable, Equatable {
    /// `0`-`9`, `*`, `#`, `A`-`D`.
    public var digit: Character
    /// Milliseconds, when the body gives it.
    public var durationMilliseconds: Int?

    public init(digit: Character, durationMilliseconds: Int? = nil) {
        self.digit = digit
        self.durationMilliseconds = durationMilliseconds
    }

    /// The digit in an INFO body of `contentType`; nil when the type is not a DTMF one.
    public init?(contentType: String, body: [UInt8]) throws(SIPMessageError) {
        let type = contentType.split(separator: ";").first.map { SIPGrammar.trimmed($0).lowercased() } ?? ""
        let text = String(decoding: body, as: UTF8.self)
        switch type {
        case "application/dtmf-relay":
            var signal: Substring?, duration: Int?
            for line in text.split(whereSeparator: \.isNewline) {
                guard let equals = line.firstIndex(of: "=") else { continue }
                let name = SIPGrammar.trimmed(line[..<equals]).lowercased()
                let value = SIPGrammar.trimmed(line[line.index(after: equals)...])
                if name == "signal" { signal = value } else if name == "duration" { duration = Int(value) }
            }
            guard let signal, let digit = Self.digit(signal) else { throw .badRequest("application/dtmf-relay without a valid Signal") }
            self.init(digit: digit, durationMilliseconds: duration)
        case "application/dtmf":
            guard let digit = Self.digit(SIPGrammar.trimmed(text[...])) else { throw .badRequest("application/dtmf without a valid digit") }
            self.init(digit: digit)
        default:
            return nil
        }
    }

    static func digit(_ value: Substring) -> Character? {
        switch value.uppercased() {
        case "10": return "*"
        case "11": return "#"
        case let single where single.count == 1 && "0123456789*#ABCD".contains(single): return single.first
        default: return nil
        }
    }
}
