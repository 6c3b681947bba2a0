/// A telephone number in E.164 form (ITU-T E.164 §6: at most 15 digits, country code first, no leading zero),
/// stored as `+` and digits. Parsing accepts what people and trunks write: spaces, dashes, dots, parentheses,
/// and a leading `00` international prefix.
public struct E164Number: Hashable, Sendable, Codable, CustomStringConvertible, Comparable {
    /// ITU-T E.164 §6.1: the international number is at most 15 digits.
    public static let maximumDigits = 15
    /// Shorter than this is a short code or a typo, not a subscriber number.
    public static let minimumDigits = 7

    /// `+` followed by the digits.
    public let rawValue: String

    public init(_ text: String) throws(CoreError) {
        var body = Substring(text.trimmingSpaces())
        if body.hasPrefix("+") {
            body = body.dropFirst()
        } else if body.hasPrefix("00") {
            body = body.dropFirst(2)
        } else {
            throw .invalidValue("\"\(text)\" is not an E.164 number: it must start with + or 00 and a country code")
        }
        var digits = ""
        for character in body {
            if let ascii = character.asciiValue, ascii >= UInt8(ascii: "0"), ascii <= UInt8(ascii: "9") {
                digits.append(character)
            } else if " -.()".contains(character) {
                continue
            } else {
                throw .invalidValue("\"\(text)\" is not an E.164 number: unexpected \"\(character)\"")
            }
        }
        guard (Self.minimumDigits...Self.maximumDigits).contains(digits.count) else {
            throw .invalidValue("\"\(text)\" is not an E.164 number: \(digits.count) digits, expected \(Self.minimumDigits)...\(Self.maximumDigits)")
        }
        guard digits.first != "0" else {
            throw .invalidValue("\"\(text)\" is not an E.164 number: country codes never start with 0")
        }
        self.rawValue = "+" + digits
    }

    /// The digits without `+`, as a SIP user part of a `tel:`-less trunk usually carries them.
    public var digits: Substring { rawValue.dropFirst() }

    public var description: String { rawValue }

    public static func < (lhs: E164Number, rhs: E164Number) -> Bool { lhs.rawValue < rhs.rawValue }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        do {
            self = try E164Number(container.decode(String.self))
        } catch let error as CoreError {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.message, underlyingError: error))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}

extension String {
    func trimmingSpaces() -> Substring {
        var slice = Substring(self)
        while slice.first?.isWhitespace == true { slice = slice.dropFirst() }
        while slice.last?.isWhitespace == true { slice = slice.dropLast() }
        return slice
    }
}
