import AnswerNinjaCore
import Foundation
import Logging
import Screening
import Store
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

    @Test func aCachedWhitelistDecisionReadsBackAsItsList() {
        let allowed = WhitelistCache.decode("allow", reason: "whitelist:contact:+14155550123")
        #expect(allowed.reason == "whitelist:contact:+14155550123")
        guard case .allow = allowed else { Issue.record("not an allow: \(allowed)"); return }
        let blocked = WhitelistCache.decode("block", reason: "blocklist:manual:+1900*")
        #expect(blocked.reason == "blocklist:manual:+1900*")
        guard case .block = blocked else { Issue.record("not a block: \(blocked)"); return }
        #expect(WhitelistCache.decode("allow", reason: "garbled") == .unknown)
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

    /// What a device hears when its call out through the trunk fails (the paths that lead here are peer-tested for
    /// 404, a refused challenge and 484; the ring timeout's CANCEL takes 180 s).
    @Test(arguments: [
        (Int?.none, 408), (404, 404), (486, 486), (401, 403), (407, 403), (302, 480), (487, 480), (503, 502), (600, 600),
    ])
    func aFailedCallOutReachesTheDeviceAsSomethingItCanActOn(far: Int?, device: Int) {
        let (code, phrase) = SIPUserAgent.callOutFailure(statusCode: far, reason: far == nil ? nil : "Far")
        #expect(code == device, "\(far.map(String.init) ?? "no answer") → \(code) \(phrase)")
        #expect(!phrase.isEmpty)
        if far == 487 { #expect(phrase.contains("no answer"), "the device did not cancel: \(phrase)") }
    }
}

@Suite struct WebhookNotifierTests {
    @Test func theSignatureAndTheUsersSecretMatchPythonsHMAC() {
        // Python: hmac.new(b"abc", b"1700000000." + b'{"a":1}', hashlib.sha256).hexdigest()
        #expect(WebhookNotifier.signature(Array(#"{"a":1}"#.utf8), secret: "abc", time: 1_700_000_000)
            == "t=1700000000,v1=fb71abe59ec0c6311de6d3d1b21482ac86ef3b5fa5d03530df0a4d8cf6f735a6")
        // Python: hmac.new(bytes([7] * 32), b"webhook:user-1", hashlib.sha256).hexdigest()
        #expect(WebhookNotifier.secret(for: "user-1", serverKey: Array(repeating: 7, count: 32)) == "75b5e907f47f72a54fd84c82652d13d2eeffe91c0eb5466f21cb595881daeede")
    }

    /// The webhook's `message`: what the caller said, for a wanted call or a recorded message; none for spam.
    @Test func theMessageIsGivenForWantedAndRecordedCallsOnly() {
        var progress = CallRecorder.Progress(owner: "u", caller: "+14155550142")
        progress.turns = [
            CallTurn(turn: 1, at: 1, callerText: "", replyText: "Hello, this is an assistant."),
            CallTurn(turn: 2, at: 2, callerText: "your verification code is four eight two", replyText: ""),
            CallTurn(turn: 3, at: 3, callerText: "again four eight two", replyText: ""),
        ]
        progress.intent = ("verification_code", 0.9)
        #expect(CallRecorder.message(of: progress) == "your verification code is four eight two again four eight two")
        progress.intent = ("personal", 0.8)
        #expect(CallRecorder.message(of: progress) != nil)
        progress.intent = ("sales_call", 0.9)
        #expect(CallRecorder.message(of: progress) == nil)
        progress.intent = nil
        #expect(CallRecorder.message(of: progress) == nil)
    }

    @Test func internalAndPlainURLsAreRefusedUnlessAllowed() async {
        let telemetry = Telemetry(roles: [.gateway])
        let strict = WebhookNotifier(serverKey: Array(repeating: 1, count: 32), allowPrivate: false, caFile: nil, telemetry: telemetry, logger: Logger(label: "test"))
        for url in ["https://127.0.0.1/hook", "https://10.1.2.3/hook", "https://192.168.0.9/x", "https://[::1]:8443/hook", "https://169.254.169.254/latest", "https://localhost/hook"] {
            #expect(await strict.refusal(of: url)?.contains("internal address") == true, "\(url)")
        }
        #expect(await strict.refusal(of: "http://203.0.113.7/hook") == "not an https URL with a host")
        #expect(await strict.refusal(of: "https://203.0.113.7/hook") == nil, "a public address")
        let open = WebhookNotifier(serverKey: Array(repeating: 1, count: 32), allowPrivate: true, caFile: nil, telemetry: telemetry, logger: Logger(label: "test"))
        #expect(await open.refusal(of: "https://127.0.0.1/hook") == nil)
        #expect(await open.refusal(of: "http://127.0.0.1/hook") != nil, "https all the same")
        await strict.shutdown()
        await open.shutdown()
    }
}

@Suite struct CallScreenerStoreTests {
    @Test func aStoreThatFailsMeansScreenNeverRefuse() async throws {
        var configuration = NinjaConfiguration.defaults
        configuration.dataDirectory = NSTemporaryDirectory() + "answer-ninja-screener-\(UInt32.random(in: 0 ... .max))"
        defer { try? FileManager.default.removeItem(atPath: configuration.dataDirectory) }
        let store = try await StoreService.open(context: ServiceContext(configuration: configuration, roles: [.gateway], logger: Logger(label: "test")))
        let screener = CallScreener(platform: store.platform, logger: Logger(label: "test"))
        let owned = await screener.screen(caller: "+14155550123", callee: "demo", verstat: nil, attestation: nil)
        #expect(owned.decision.outcome == .screen && owned.userId == store.report.demoUser?.id, "\(owned.decision)")
        #expect(await screener.screen(caller: "+14155550123", callee: "nobody", verstat: nil, attestation: nil).decision.outcome == .reject)
        // The database gone: a number not cached is screened with the reason, not refused as unknown.
        try await store.platform.database.close()
        let blind = await screener.screen(caller: "+14155550123", callee: "+14155550999", verstat: nil, attestation: nil)
        #expect(blind.decision.outcome == .screen && blind.decision.reasons == ["store:owner_unavailable", "screen:unknown_caller"], "\(blind.decision)")
        // What the cache holds still decides: the demo user's number is known, their settings and the score too.
        let cached = await screener.screen(caller: "+14155550123", callee: "demo", verstat: nil, attestation: nil)
        #expect(cached.userId == owned.userId && cached.decision == owned.decision, "\(cached.decision)")
    }
}

@Suite struct ConversationURLTests {
    @Test func servesOwnConversationIsReachedWhereItsHTTPListenerListens() {
        #expect(SIPGatewayService.loopbackURL(listening: "http://0.0.0.0:8080") == "ws://127.0.0.1:8080/internal/conversation")
        #expect(SIPGatewayService.loopbackURL(listening: "http://127.0.0.1:18080") == "ws://127.0.0.1:18080/internal/conversation")
        #expect(SIPGatewayService.loopbackURL(listening: "http://[::]:8080") == "ws://[::1]:8080/internal/conversation")
        #expect(SIPGatewayService.loopbackURL(listening: "http://[::1]:9000") == "ws://[::1]:9000/internal/conversation")
        #expect(SIPGatewayService.loopbackURL(listening: "http://10.0.0.5:8080") == "ws://10.0.0.5:8080/internal/conversation")
        #expect(SIPGatewayService.loopbackURL(listening: "http://localhost") == nil)
    }
}
