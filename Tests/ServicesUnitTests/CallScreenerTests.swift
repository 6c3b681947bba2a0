import Foundation
import Screening
import Testing

@testable import AnswerNinjaServices

@Suite struct CallScreenerTests {
    /// 2026-12-07 is a Monday.
    static func date(_ text: String) -> Date { ISO8601DateFormatter().date(from: text)! }

    @Test func aScheduleHoldsOnItsDaysAndHoursInItsOwnTimeZone() {
        let office = UserSettings.Schedule(days: [1, 2, 3, 4, 5], from: "09:00", to: "17:30", timeZone: "America/New_York")
        #expect(office.contains(Self.date("2026-12-07T14:00:00Z")), "Monday 09:00 in New York")
        #expect(!office.contains(Self.date("2026-12-07T13:59:00Z")), "Monday 08:59")
        #expect(office.contains(Self.date("2026-12-07T22:29:00Z")), "Monday 17:29")
        #expect(!office.contains(Self.date("2026-12-07T22:30:00Z")), "Monday 17:30: the end is not included")
        #expect(!office.contains(Self.date("2026-12-12T15:00:00Z")), "Saturday")
        // Hours across midnight belong to the day they start on: Friday night into Saturday morning, not Sunday's.
        let nights = UserSettings.Schedule(days: [5], from: "22:00", to: "06:00", timeZone: "Europe/London")
        #expect(nights.contains(Self.date("2026-12-11T23:00:00Z")), "Friday 23:00")
        #expect(nights.contains(Self.date("2026-12-12T05:59:00Z")), "Saturday 05:59, the night of Friday")
        #expect(!nights.contains(Self.date("2026-12-12T06:00:00Z")))
        #expect(!nights.contains(Self.date("2026-12-13T05:00:00Z")), "Sunday 05:00: the night of Saturday, not on the schedule")
        #expect(!nights.contains(Self.date("2026-12-11T21:59:00Z")))
    }

    @Test func aCachedWhitelistDecisionReadsBackAsItsList() throws {
        let allowed = try CallScreener.entryDecision("allow", reason: "whitelist:contact:+14155550123")
        #expect(allowed.reason == "whitelist:contact:+14155550123")
        guard case .allow = allowed else { Issue.record("not an allow: \(allowed)"); return }
        let blocked = try CallScreener.entryDecision("block", reason: "blocklist:manual:+1900*")
        #expect(blocked.reason == "blocklist:manual:+1900*")
        guard case .block = blocked else { Issue.record("not a block: \(blocked)"); return }
        #expect(try CallScreener.entryDecision("allow", reason: "garbled") == .unknown)
    }

    @Test func globalFlagsAreReadFromTheirJSONValues() {
        let flags = CallScreener.Flags(settings: ["feature.ai_screening": "false", "feature.block_failed_stir": "true", "other": "1"])
        #expect(!flags.aiScreening && flags.blockFailedSTIR)
        let defaults = CallScreener.Flags(settings: ["feature.ai_screening": "\"no\""])
        #expect(defaults.aiScreening && !defaults.blockFailedSTIR, "a value that is not a JSON boolean leaves the default")
    }

    @Test func theDeviceAForwardingTargetNames() {
        #expect(SIPUserAgent.deviceUser("sip:Alice@127.0.0.1") == "alice")
        #expect(SIPUserAgent.deviceUser("sips:bob@example.com;transport=tls") == "bob")
        #expect(SIPUserAgent.deviceUser("+14155550123") == nil)
        #expect(SIPUserAgent.deviceUser(nil) == nil)
    }
}
