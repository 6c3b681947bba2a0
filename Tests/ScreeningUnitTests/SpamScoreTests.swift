import AnswerNinjaCore
import Screening
import Testing

@Suite struct SpamScoreTests {
    static let now: Int64 = 1_800_000_000_000

    @Test func theCallerKeyIsAnHMACOfTheNumberAndNeedsAStrongKey() throws {
        let key = try CallerKey(secret: Array(0..<32))
        // Python: hmac.new(bytes(range(32)), b"+14155550123", hashlib.sha256).hexdigest()
        #expect(key.key(for: try E164Number("+14155550123")) == "1827d86c9c01ecd3641100d8042cb869625c52b75043e3ed2111198273434261")
        #expect(key.key(for: try E164Number("+14155550124")) != key.key(for: try E164Number("+14155550123")))
        #expect(throws: ScreeningError.self) { try CallerKey(secret: Array(repeating: 1, count: 16)) }
    }

    @Test func anUnknownCallerScoresLowAndEvidenceMovesIt() {
        let fresh = CallerProfile(numberKey: "k", keyVersion: 1, now: Self.now)
        let unknown = SpamScore.evaluate(fresh, usersCalledRecently: 0, now: Self.now)
        #expect(unknown.signals.isEmpty && abs(unknown.score - 0.119) < 0.001)

        var robocaller = fresh
        for index in 0..<6 {
            robocaller.record(.init(startedAt: Self.now - Int64(index) * 60_000, durationSeconds: 4, answered: true, intent: index < 4 ? "sales_call" : "unknown", attestation: "C"))
        }
        robocaller.spamReports = 3
        let spam = SpamScore.evaluate(robocaller, usersCalledRecently: 6, now: Self.now)
        #expect(spam.score > SpamScore.blockThreshold)
        #expect(Set(spam.signals.map(\.name)) == ["user_reports", "spam_intents", "short_calls", "burst", "attestation_weak"])
        #expect(spam.signals.allSatisfy { $0.contribution > 0 && !$0.detail.isEmpty })
        #expect(robocaller.intents == ["sales_call": 4] && robocaller.shortCalls == 6 && robocaller.calls(since: Self.now - 150_000) == 3)

        var pharmacy = fresh
        for index in 0..<3 {
            pharmacy.record(.init(startedAt: Self.now - Int64(index) * 86_400_000, durationSeconds: 45, answered: true, intent: "appointment_or_pharmacy", attestation: "A"))
        }
        let wanted = SpamScore.evaluate(pharmacy, usersCalledRecently: 1, now: Self.now)
        #expect(wanted.score < unknown.score)
        #expect(wanted.signals.map(\.name).contains("wanted_intents"))
    }

    @Test func aUsersOwnVerdictWinsForThatUser() {
        var profile = CallerProfile(numberKey: "k", keyVersion: 1, now: Self.now)
        profile.spamReports = 40
        let everyone = SpamScore.evaluate(profile, usersCalledRecently: 0, now: Self.now)
        #expect(everyone.score > 0.9)
        let mine = SpamScore.evaluate(profile, usersCalledRecently: 0, userVerdict: "not_spam", now: Self.now)
        #expect(mine.score == 0 && mine.userVerdict == "not_spam" && mine.signals == everyone.signals)
        #expect(SpamScore.evaluate(CallerProfile(numberKey: "k", keyVersion: 1, now: Self.now), usersCalledRecently: 0, userVerdict: "spam", now: Self.now).score == 1)
    }
}
