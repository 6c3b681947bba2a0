import AnswerNinjaCore
import Conversation
import Crypto
import Foundation

/// The key a caller's profile is stored under: HMAC-SHA256 of the E.164 number with a server key, hex. A plain
/// hash of a 10-digit number is reversed in seconds by trying them all; without the key, this one is not. The key's
/// version is stored with each profile, so that a new key can be introduced and old profiles re-keyed
/// (docs/store.md, "Rotating the profile key").
public struct CallerKey: Sendable {
    public let version: Int
    private let key: SymmetricKey

    /// - Parameter secret: at least 32 bytes.
    public init(secret: [UInt8], version: Int = 1) throws(ScreeningError) {
        guard secret.count >= 32 else {
            throw ScreeningError(code: .init("weak_key"), message: "the caller-profile key must be at least 32 bytes, got \(secret.count)")
        }
        self.key = SymmetricKey(data: secret)
        self.version = version
    }

    public func key(for number: E164Number) -> String {
        HMAC<SHA256>.authenticationCode(for: Array(number.rawValue.utf8), using: key).hexString
    }
}

/// One caller's history across all users, stored under its `CallerKey`: never the number.
public struct CallerProfile: Codable, Sendable, Equatable {
    public var numberKey: String
    public var keyVersion: Int
    public var calls = 0
    /// Calls under `shortCallSeconds`: robocallers hang up quickly when no one bites.
    public var shortCalls = 0
    public var answeredCalls = 0
    public var spamReports = 0
    public var notSpamReports = 0
    /// Intents the conversation engine classified, counted.
    public var intents: [String: Int] = [:]
    /// STIR/SHAKEN attestation levels seen (`A`, `B`, `C`, `none`), counted.
    public var attestations: [String: Int] = [:]
    /// Start times of the latest calls (at most `recentLimit`), for the per-window counts.
    public var recentCalls: [Int64] = []
    public var firstSeen: Int64
    public var lastSeen: Int64

    public static let shortCallSeconds = 10.0
    public static let recentLimit = 100

    public init(numberKey: String, keyVersion: Int, now: Int64) {
        self.numberKey = numberKey
        self.keyVersion = keyVersion
        firstSeen = now
        lastSeen = now
    }

    /// What one finished call adds.
    public struct CallSummary: Sendable, Equatable, Codable {
        public var startedAt: Int64
        public var durationSeconds: Double
        public var answered: Bool
        public var intent: String?
        public var attestation: String?

        public init(startedAt: Int64, durationSeconds: Double, answered: Bool, intent: String? = nil, attestation: String? = nil) {
            self.startedAt = startedAt
            self.durationSeconds = durationSeconds
            self.answered = answered
            self.intent = intent
            self.attestation = attestation
        }
    }

    public mutating func record(_ call: CallSummary) {
        calls += 1
        if call.durationSeconds < Self.shortCallSeconds { shortCalls += 1 }
        if call.answered { answeredCalls += 1 }
        if let intent = call.intent, intent != Intent.unknown.rawValue { intents[intent, default: 0] += 1 }
        attestations[call.attestation ?? "none", default: 0] += 1
        recentCalls.append(call.startedAt)
        recentCalls.sort()
        if recentCalls.count > Self.recentLimit { recentCalls.removeFirst(recentCalls.count - Self.recentLimit) }
        firstSeen = min(firstSeen, call.startedAt)
        lastSeen = max(lastSeen, call.startedAt)
    }

    public func calls(since: Int64) -> Int { recentCalls.filter { $0 >= since }.count }
}

/// A spam score in [0, 1] with the signals that made it, each with its value and what it added to the log-odds.
public struct SpamScore: Codable, Sendable, Equatable {
    public struct Signal: Codable, Sendable, Equatable {
        public var name: String
        public var value: Double
        public var contribution: Double
        public var detail: String
    }

    public var score: Double
    public var signals: [Signal]
    /// Set when one user's own verdict decided it for them.
    public var userVerdict: String?

    /// The thresholds the screening decision uses (the original's: above 0.8 block, above 0.6 look closer).
    public static let blockThreshold = 0.8
    public static let suspectThreshold = 0.6

    /// Log-odds of spam before any evidence: an unknown caller scores about 0.12.
    public static let prior = -2.0

    /// Scores `profile` at `now`, as seen by a user whose own verdict (`spam` or `not_spam`), if any, wins; calls by
    /// `usersCalledRecently` distinct users in the last day count as a burst.
    public static func evaluate(_ profile: CallerProfile, usersCalledRecently: Int, userVerdict: String? = nil, now: Int64) -> SpamScore {
        var signals: [Signal] = []
        func add(_ name: String, _ value: Double, _ contribution: Double, _ detail: String) {
            if contribution != 0 { signals.append(Signal(name: name, value: value, contribution: contribution, detail: detail)) }
        }
        let reports = profile.spamReports + profile.notSpamReports
        if reports > 0 {
            // The log of the (smoothed) ratio of spam to not-spam reports, capped at ±5, weighed by how many reports
            // there are (full weight from 3): one report nudges, forty decide.
            let share = Double(profile.spamReports) / Double(reports)
            let ratio = log((Double(profile.spamReports) + 0.5) / (Double(profile.notSpamReports) + 0.5))
            add("user_reports", share, max(-5, min(5, ratio)) * min(1, Double(reports) / 3), "\(profile.spamReports) spam and \(profile.notSpamReports) not-spam reports")
        }
        let classified = profile.intents.values.reduce(0, +)
        if classified > 0 {
            let spam = profile.intents.filter { Intent(rawValue: $0.key)?.isSpam == true }.values.reduce(0, +)
            let wanted = profile.intents.filter { Intent(rawValue: $0.key)?.isWanted == true }.values.reduce(0, +)
            let weight = min(1, Double(classified) / 2)
            let spamShare = Double(spam) / Double(classified), wantedShare = Double(wanted) / Double(classified)
            add("spam_intents", spamShare, 3.5 * spamShare * weight, "\(spam) of \(classified) classified calls were spam intents")
            add("wanted_intents", wantedShare, -3 * wantedShare * weight, "\(wanted) of \(classified) classified calls were wanted (delivery, codes, appointments, ...)")
        }
        if profile.calls > 0 {
            let ratio = Double(profile.shortCalls) / Double(profile.calls)
            add("short_calls", ratio, 1.5 * ratio * min(1, Double(profile.calls) / 5), "\(profile.shortCalls) of \(profile.calls) calls under \(Int(CallerProfile.shortCallSeconds)) s")
        }
        if usersCalledRecently > 2 {
            let burst = Double(usersCalledRecently)
            add("burst", burst, min(2.5, 0.5 * (burst - 2)), "called \(usersCalledRecently) different users in the last 24 h")
        }
        let attested = profile.attestations.values.reduce(0, +)
        if attested > 0 {
            let full = Double(profile.attestations["A"] ?? 0) / Double(attested)
            let weak = Double((profile.attestations["C"] ?? 0) + (profile.attestations["none"] ?? 0)) / Double(attested)
            add("attestation_full", full, -1.0 * full, "STIR/SHAKEN A on \(Int(full * 100)) % of calls")
            add("attestation_weak", weak, 0.8 * weak, "STIR/SHAKEN C or none on \(Int(weak * 100)) % of calls")
        }
        let logit = prior + signals.reduce(0) { $0 + $1.contribution }
        let score = 1 / (1 + exp(-logit))
        switch userVerdict {
        case "not_spam": return SpamScore(score: 0, signals: signals, userVerdict: "not_spam")
        case "spam": return SpamScore(score: 1, signals: signals, userVerdict: "spam")
        default: return SpamScore(score: (score * 1000).rounded() / 1000, signals: signals, userVerdict: nil)
        }
    }
}
