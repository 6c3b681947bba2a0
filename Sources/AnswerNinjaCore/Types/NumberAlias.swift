/// A name that stands for a user's number, so that `sip:demo@host` reaches the demo user. Lowercase letters,
/// digits, `.`, `_` and `-`, starting with a letter, 1...`maximumLength` characters: safe in a SIP user part
/// (RFC 3261 §25.1 `unreserved`) and a URL path without escaping.
public struct NumberAlias: Hashable, Sendable, Codable, CustomStringConvertible, Comparable {
    public static let maximumLength = 64

    public let rawValue: String

    public init(_ text: String) throws(CoreError) {
        let lowered = text.lowercased()
        guard !lowered.isEmpty, lowered.utf8.count <= Self.maximumLength else {
            throw .invalidValue("alias must be 1...\(Self.maximumLength) characters, got \(text.utf8.count)")
        }
        guard let first = lowered.utf8.first, (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(first) else {
            throw .invalidValue("alias \"\(text)\" must start with a letter")
        }
        guard lowered.utf8.allSatisfy(Self.isAllowed) else {
            throw .invalidValue("alias \"\(text)\" may hold only letters, digits, '.', '_' and '-'")
        }
        self.rawValue = lowered
    }

    public var description: String { rawValue }

    public static func < (lhs: NumberAlias, rhs: NumberAlias) -> Bool { lhs.rawValue < rhs.rawValue }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        do {
            self = try NumberAlias(container.decode(String.self))
        } catch let error as CoreError {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.message, underlyingError: error))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }

    private static func isAllowed(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
            UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"):
            return true
        default:
            return false
        }
    }
}

/// What a caller dialled, as the gateway sees it in the Request-URI user part or `tel:` URI: a number or an alias.
public enum DialledNumber: Hashable, Sendable, CustomStringConvertible {
    case number(E164Number)
    case alias(NumberAlias)

    /// Reads a SIP user part: `+14155550100`, `0014155550100` and `14155550100` (digits alone, as many trunks
    /// send them, taken as already international) are numbers; anything else must be a valid alias.
    public init(userPart: String) throws(CoreError) {
        let trimmed = String(userPart.trimmingSpaces())
        if trimmed.hasPrefix("+") || trimmed.hasPrefix("00") {
            self = .number(try E164Number(trimmed))
        } else if !trimmed.isEmpty, trimmed.allSatisfy({ $0.isASCII && $0.isNumber }) {
            self = .number(try E164Number("+" + trimmed))
        } else {
            self = .alias(try NumberAlias(trimmed))
        }
    }

    public var description: String {
        switch self {
        case .number(let number): number.description
        case .alias(let alias): alias.description
        }
    }
}
