import AnswerNinjaCore
import Foundation

/// One entry of a user's smart whitelist or block list.
public struct WhitelistEntry: Codable, Sendable, Equatable {
    public enum List: String, Codable, Sendable, CaseIterable { case allow, block }

    /// Where the entry came from; learned entries carry the reason they were learned.
    public enum Source: String, Codable, Sendable, CaseIterable {
        case manual, contact, temporary, learned
    }

    public var pattern: WhitelistPattern
    public var list: List
    public var source: Source
    public var label: String?
    public var reason: String?
    /// Unix milliseconds after which the entry no longer counts (temporary entries).
    public var expiresAt: Int64?
    public var createdAt: Int64

    public init(pattern: WhitelistPattern, list: List, source: Source, label: String? = nil, reason: String? = nil, expiresAt: Int64? = nil, createdAt: Int64) {
        self.pattern = pattern
        self.list = list
        self.source = source
        self.label = label
        self.reason = reason
        self.expiresAt = expiresAt
        self.createdAt = createdAt
    }

    public func isActive(at now: Int64) -> Bool { expiresAt.map { now < $0 } ?? true }
}

/// A whitelist pattern: one E.164 number, or a prefix of one written with a trailing `*` (`+1800*`: every
/// toll-free number in the NANP). A prefix holds at least a country code and one more digit, so that a typo
/// cannot allow or block a whole country.
public struct WhitelistPattern: Codable, Sendable, Hashable, CustomStringConvertible {
    public let rawValue: String
    /// The digits a number must start with (the whole number for an exact pattern), with `+`.
    public let prefix: String
    public let isPrefix: Bool

    public init(_ text: String) throws(ScreeningError) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if trimmed.hasSuffix("*") {
            let body = String(trimmed.dropLast())
            guard body.hasPrefix("+"), body.count >= 3, body.dropFirst().allSatisfy({ $0.isASCII && $0.isNumber }),
                let code = PhoneNumberNormalizer.countryCode(of: body.dropFirst()), body.count - 1 > code.count
            else {
                throw ScreeningError(code: .init("invalid_pattern"), message: "\"\(text)\" is not a prefix pattern: write + and a country code, at least one more digit, then *")
            }
            rawValue = body + "*"
            prefix = body
            isPrefix = true
        } else {
            do {
                let number = try E164Number(trimmed)
                rawValue = number.rawValue
                prefix = number.rawValue
                isPrefix = false
            } catch {
                throw ScreeningError(code: .init("invalid_pattern"), message: error.message)
            }
        }
    }

    public func matches(_ number: E164Number) -> Bool {
        isPrefix ? number.rawValue.hasPrefix(prefix) : number.rawValue == prefix
    }

    public var description: String { rawValue }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        do {
            self = try WhitelistPattern(text)
        } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.message, underlyingError: error))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}

/// What the whitelist says of a number, with the rule that decided it.
public enum WhitelistDecision: Sendable, Equatable {
    case allow(WhitelistEntry)
    case block(WhitelistEntry)
    case unknown

    /// `allow`, `block` or `unknown`.
    public var name: String {
        switch self {
        case .allow: "allow"
        case .block: "block"
        case .unknown: "unknown"
        }
    }

    /// The reason as the call record stores it: `whitelist:contact:+14155550123`, `blocklist:manual:+1900*`,
    /// `whitelist:none`.
    public var reason: String {
        switch self {
        case .allow(let entry): "whitelist:\(entry.source.rawValue):\(entry.pattern)"
        case .block(let entry): "blocklist:\(entry.source.rawValue):\(entry.pattern)"
        case .unknown: "whitelist:none"
        }
    }
}

/// The whitelist's rule: among the active entries that match, the most specific wins (an exact number over any
/// prefix, a longer prefix over a shorter one); at equal specificity a block wins over an allow.
public enum WhitelistRules {
    public static func check(_ entries: [WhitelistEntry], number: E164Number, now: Int64) -> WhitelistDecision {
        let best = entries.filter { $0.isActive(at: now) && $0.pattern.matches(number) }.max { a, b in
            let left = (a.pattern.isPrefix ? 0 : 1, a.pattern.prefix.count, a.list == .block ? 1 : 0)
            let right = (b.pattern.isPrefix ? 0 : 1, b.pattern.prefix.count, b.list == .block ? 1 : 0)
            return left < right
        }
        guard let best else { return .unknown }
        return best.list == .allow ? .allow(best) : .block(best)
    }
}
