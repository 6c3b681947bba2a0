import AnswerNinjaCore
import Screening
import Testing

@Suite struct ScreeningPolicyTests {
    static func input(_ change: (inout ScreeningPolicy.Input) -> Void = { _ in }) -> ScreeningPolicy.Input {
        var input = ScreeningPolicy.Input(userId: "u1")
        input.whitelist = .unknown
        input.spamScore = 0.12
        change(&input)
        return input
    }

    static func entry(_ pattern: String, _ list: WhitelistEntry.List, _ source: WhitelistEntry.Source) throws -> WhitelistEntry {
        WhitelistEntry(pattern: try WhitelistPattern(pattern), list: list, source: source, createdAt: 0)
    }

    @Test func eachRuleInOrderWithItsReasons() throws {
        let cases: [(String, ScreeningPolicy.Input, ScreeningPolicy.Outcome, [String])] = [
            ("no owner", ScreeningPolicy.Input(userId: nil), .reject, ["user:none"]),
            ("the owner unknown: the store failed", Self.input { $0.userId = nil; $0.ownerUnavailable = true }, .screen, ["store:owner_unavailable", "screen:unknown_caller"]),
            ("a contact", Self.input { $0.whitelist = .allow(try! Self.entry("+14155550123", .allow, .contact)); $0.spamScore = 0.99 }, .connect,
             ["whitelist:contact:+14155550123"]),
            ("the block list", Self.input { $0.whitelist = .block(try! Self.entry("+1900*", .block, .manual)) }, .block, ["blocklist:manual:+1900*"]),
            ("AI off", Self.input { $0.aiEnabled = false; $0.spamScore = 0.95 }, .connect, ["whitelist:none", "settings:ai_off"]),
            ("outside the schedule", Self.input { $0.withinSchedule = false }, .connect, ["whitelist:none", "settings:outside_schedule"]),
            ("the AI switched off for everyone", Self.input { $0.aiScreeningFlag = false }, .connect, ["whitelist:none", "flag:ai_screening_off"]),
            ("a high score", Self.input { $0.spamScore = 0.934 }, .block, ["whitelist:none", "profile:score=0.93>=0.80"]),
            ("a high score under the user's own threshold", Self.input { $0.spamScore = 0.85; $0.blockThreshold = 0.9 }, .screen,
             ["whitelist:none", "profile:score=0.85", "screen:unknown_caller"]),
            ("the user's not-spam verdict", Self.input { $0.spamScore = 0.97; $0.userVerdict = "not_spam" }, .screen,
             ["whitelist:none", "profile:user_verdict=not_spam", "screen:unknown_caller"]),
            ("the user's spam verdict", Self.input { $0.spamScore = 0.1; $0.userVerdict = "spam" }, .block, ["whitelist:none", "profile:user_verdict=spam"]),
            ("failed STIR, flag off", Self.input { $0.verstat = "TN-Validation-Failed" }, .screen,
             ["stir:TN-Validation-Failed", "whitelist:none", "profile:score=0.12", "screen:unknown_caller"]),
            ("failed STIR, flag on", Self.input { $0.verstat = "TN-Validation-Failed"; $0.attestation = "C"; $0.blockFailedSTIRFlag = true }, .block,
             ["stir:TN-Validation-Failed:C", "whitelist:none", "profile:score=0.12", "flag:block_failed_stir"]),
            ("anonymous, no profile", Self.input { $0.whitelist = nil; $0.spamScore = nil }, .screen, ["caller:anonymous", "screen:unknown_caller"]),
            ("an unknown caller", Self.input(), .screen, ["whitelist:none", "profile:score=0.12", "screen:unknown_caller"]),
        ]
        for (name, input, outcome, reasons) in cases {
            let decision = ScreeningPolicy.decide(input)
            #expect(decision.outcome == outcome, "\(name)")
            #expect(decision.reasons == reasons, "\(name)")
            #expect((decision.blockAction != nil) == (outcome == .block), "\(name)")
        }
    }

    @Test func aBlockCarriesTheUsersBlockAction() {
        let decision = ScreeningPolicy.decide(Self.input { $0.spamScore = 0.9; $0.blockAction = .goodbye })
        #expect(decision.outcome == .block && decision.blockAction == .goodbye)
    }
}
