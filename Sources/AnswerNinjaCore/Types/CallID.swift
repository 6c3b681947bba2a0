/// Identifies one call across every role, log line, metric exemplar and call record. For calls from SIP it is
/// derived from the trunk leg's Call-ID; internally made ones are random.
///
/// Allowed: 1...`maximumLength` characters of RFC 3261 `word` (§25.1), the grammar of Call-ID, with `@` once.
public struct CallID: Hashable, Sendable, Codable, CustomStringConvertible, Comparable {
    /// Longer Call-IDs exist in the wild but beyond this they are abuse; we refuse them at the edge.
    public static let maximumLength = 256

    public let rawValue: String

    public init(_ rawValue: String) throws(CoreError) {
        guard !rawValue.isEmpty, rawValue.utf8.count <= Self.maximumLength else {
            throw .invalidValue("call id must be 1...\(Self.maximumLength) bytes, got \(rawValue.utf8.count)")
        }
        guard rawValue.utf8.allSatisfy(Self.isWordByte) else {
            throw .invalidValue("call id \"\(rawValue.prefix(40))\" has characters outside RFC 3261 word")
        }
        self.rawValue = rawValue
    }

    /// A fresh random call id (128 bits, hex).
    public static func random<G: RandomNumberGenerator>(using generator: inout G) -> CallID {
        let high = UInt64.random(in: .min ... .max, using: &generator)
        let low = UInt64.random(in: .min ... .max, using: &generator)
        let text = hex(high) + hex(low)
        return try! CallID(text)  // hex digits are always word characters
    }

    public static func random() -> CallID {
        var generator = SystemRandomNumberGenerator()
        return random(using: &generator)
    }

    public var description: String { rawValue }

    public static func < (lhs: CallID, rhs: CallID) -> Bool { lhs.rawValue < rhs.rawValue }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        do {
            self = try CallID(container.decode(String.self))
        } catch let error as CoreError {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.message, underlyingError: error))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }

    /// RFC 3261 §25.1: word = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~" /
    /// "(" / ")" / "<" / ">" / ":" / "\" / DQUOTE / "/" / "[" / "]" / "?" / "{" / "}"), plus "@" joining two words.
    static func isWordByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return Self.wordPunctuation.contains(byte)
        }
    }

    private static let wordPunctuation: Set<UInt8> = Set("-.!%*_+`'~()<>:\\\"/[]?{}@".utf8)

    private static func hex(_ value: UInt64) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }
}
