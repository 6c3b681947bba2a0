import AnswerNinjaCore
import Foundation
import Logging
import NIOConcurrencyHelpers
import Screening
import Store

/// Gathers what the screening decision needs for one INVITE — the dialled number's owner, their settings, the
/// whitelist's verdict, the caller's spam score and the user's own verdict, the global feature flags — and decides
/// (`ScreeningPolicy`). Everything is read through the shared cache, so a call costs cache hits, not queries:
///
/// | key | holds | TTL | dropped by |
/// |---|---|---|---|
/// | `owner:<number>` | the owner's id (empty: no one) | 10 min (1 min for no one) | adding or removing the number, deleting the account |
/// | `user-settings:<id>` | the user's settings and forwarding target (JSON) | 10 min | `PUT /settings`, `PUT /me` |
/// | `whitelist:<id>:<version>:<number>` | the decision and its rule | 10 min | any whitelist change (a new version) |
/// | `profile:<key>` | the caller's stored score | 2 h | the end of each of the caller's calls |
/// | `verdict:<key>:<id>` | the user's verdict (empty: none) | 2 h | the user's verdict |
/// | `global-flags` | the global settings (JSON) | 10 min | `PUT /admin/settings/{key}` |
///
/// So a change made in the API is seen by the next call without a restart: through Redis by every instance, or in
/// the one process of `serve` with the in-process cache. When the store fails, what could not be read is left out
/// (an unreachable owner is not "no owner": the call is screened, not refused) and a reason says so; the lookup is
/// bounded by `budget`.
struct CallScreener: Sendable {
    let platform: Platform
    let logger: Logger
    var budget: Duration = .milliseconds(1500)

    /// What the gateway needs to carry out the decision.
    struct Screening: Sendable {
        var decision: ScreeningPolicy.Decision
        var userId: String?
        var settings: UserSettings
        /// Where wanted calls go (a `sip:` URI of a device, or an E.164 number); nil when the user set none.
        var forwardingTarget: String?

        /// The store could not say who owns the number: screened, not refused.
        static var ownerUnavailable: Screening {
            var input = ScreeningPolicy.Input(userId: nil)
            input.ownerUnavailable = true
            return Screening(decision: ScreeningPolicy.decide(input), userId: nil, settings: UserSettings())
        }
    }

    /// The global settings the gateway reads (`PUT /api/v1/admin/settings/{key}`).
    struct Flags: Codable, Sendable, Equatable {
        /// `feature.ai_screening`: false sends unknown callers through to their users, for everyone.
        var aiScreening = true
        /// `feature.block_failed_stir`: a caller whose STIR/SHAKEN verification failed is blocked.
        var blockFailedSTIR = false

        init() {}

        init(settings: [String: String]) {
            aiScreening = settings["feature.ai_screening"].flatMap(Self.bool) ?? true
            blockFailedSTIR = settings["feature.block_failed_stir"].flatMap(Self.bool) ?? false
        }

        static func bool(_ json: String) -> Bool? { json == "true" ? true : json == "false" ? false : nil }
    }

    struct StoredSettings: Codable {
        var settings: String
        var forwardingTarget: String?
    }

    /// The decision for one call, within `budget`: what the store has not answered by then is decided without
    /// (the call is screened, reason `store:timeout`), and the lookup finishes in the background.
    func screen(caller: String, callee: String, verstat: String?, attestation: String?, now: Date = Date()) async -> Screening {
        let pending = NIOLockedValueBox<CheckedContinuation<Screening, Never>?>(nil)
        return await withCheckedContinuation { continuation in
            pending.withLockedValue { $0 = continuation }
            let timeout = Task { [budget] in
                guard (try? await Task.sleep(for: budget)) != nil else { return }
                var screening = Screening.ownerUnavailable
                screening.decision.reasons.insert("store:timeout", at: 0)
                pending.withLockedValue { $0.take() }?.resume(returning: screening)
            }
            Task {
                let screening = await lookUp(caller: caller, callee: callee, verstat: verstat, attestation: attestation, now: now)
                timeout.cancel()
                pending.withLockedValue { $0.take() }?.resume(returning: screening)
            }
        }
    }

    private func lookUp(caller: String, callee: String, verstat: String?, attestation: String?, now: Date) async -> Screening {
        var problems: [String] = []
        let owner: String?
        do {
            owner = try await Self.owner(of: callee, platform: platform)
        } catch {
            logger.warning("screening: owner lookup failed", metadata: ["callee": "\(callee)", "error": "\(error)"])
            return .ownerUnavailable
        }
        guard let owner else { return Screening(decision: ScreeningPolicy.decide(.init(userId: nil)), userId: nil, settings: UserSettings()) }
        var input = ScreeningPolicy.Input(userId: owner)
        input.verstat = verstat
        input.attestation = attestation
        var stored = StoredSettings(settings: "{}")
        do {
            stored = try await settings(of: owner)
        } catch {
            problems.append("store:settings_unavailable")
        }
        let settings = UserSettings(stored: stored.settings)
        input.aiEnabled = settings.aiEnabled
        input.withinSchedule = settings.schedule.map { $0.contains(now) }
        input.blockThreshold = settings.blockThreshold
        input.blockAction = ScreeningPolicy.BlockAction(rawValue: settings.blockAction) ?? .reject
        do {
            let flags = try await flags()
            input.aiScreeningFlag = flags.aiScreening
            input.blockFailedSTIRFlag = flags.blockFailedSTIR
        } catch {
            problems.append("store:flags_unavailable")
        }
        if case .number(let number)? = try? DialledNumber(userPart: caller) {
            do {
                input.whitelist = try await WhitelistCache.check(userId: owner, number: number, platform: platform).decision
            } catch {
                input.whitelist = .unknown
                problems.append("store:whitelist_unavailable")
            }
            do {
                (input.spamScore, input.userVerdict) = try await profile(of: number, userId: owner)
            } catch {
                problems.append("store:profile_unavailable")
            }
        }
        var decision = ScreeningPolicy.decide(input)
        decision.reasons.insert(contentsOf: problems, at: 0)
        return Screening(decision: decision, userId: owner, settings: settings, forwardingTarget: stored.forwardingTarget)
    }

    /// The user owning `callee` (an E.164 number or an alias), cached for 10 minutes; nil when no one owns it.
    /// Throws when the store cannot say. The cache key is the number as stored (`+14155550123`, `demo`), whatever form the trunk sent it in, so that
    /// the API drops it when the number changes hands.
    static func owner(of callee: String, platform: Platform) async throws -> String? {
        let canonical = (try? DialledNumber(userPart: callee))?.description ?? callee
        let key = "owner:\(canonical)"
        if let cached = await platform.cache.get(key) { return cached.isEmpty ? nil : cached }
        for number in Set([canonical, callee]).sorted() {
            if let user = try await platform.users.user(owning: number) {
                await platform.cache.set(key, user.id, ttl: .seconds(600))
                return user.id
            }
        }
        await platform.cache.set(key, "", ttl: .seconds(60))
        return nil
    }

    func settings(of userId: String) async throws -> StoredSettings {
        try await cached("user-settings:\(userId)") {
            guard let account = try await platform.users.account(id: userId) else { return StoredSettings(settings: "{}") }
            return StoredSettings(settings: account.settings, forwardingTarget: account.forwardingTarget)
        }
    }

    func flags() async throws -> Flags {
        try await cached("global-flags") { Flags(settings: try await platform.settings.all()) }
    }

    /// `key`'s value from the cache (JSON), else `load`ed and cached for 10 minutes.
    private func cached<Value: Codable>(_ key: String, _ load: () async throws -> Value) async throws -> Value {
        if let text = await platform.cache.get(key), let value = try? JSONDecoder().decode(Value.self, from: Data(text.utf8)) { return value }
        let value = try await load()
        await platform.cache.set(key, String(decoding: try JSONEncoder().encode(value), as: UTF8.self), ttl: .seconds(600))
        return value
    }

    /// The caller's stored spam score (2 h) and this user's verdict.
    func profile(of number: E164Number, userId: String) async throws -> (score: Double?, verdict: String?) {
        let key = try await platform.profileKey(for: number)
        var score: Double?
        if let cached = await platform.cache.get("profile:\(key)") {
            score = Double(cached)
        } else {
            score = try await platform.profiles.storedScore(key: key)?.score
            await platform.cache.set("profile:\(key)", score.map { String($0) } ?? "", ttl: CacheTTL.spamProfile)
        }
        var verdict: String?
        if let cached = await platform.cache.get("verdict:\(key):\(userId)") {
            verdict = cached.isEmpty ? nil : cached
        } else {
            verdict = try await platform.profiles.verdict(key: key, userId: userId)
            await platform.cache.set("verdict:\(key):\(userId)", verdict ?? "", ttl: CacheTTL.spamProfile)
        }
        return (score ?? SpamScore.evaluate(CallerProfile(numberKey: key, keyVersion: 0, now: 0), usersCalledRecently: 0, now: 0).score, verdict)
    }
}

extension UserSettings.Schedule {
    /// Whether `date` falls on one of the days and within the hours, in the schedule's time zone. Hours that wrap
    /// midnight (`22:00`–`06:00`) belong to the day they start on.
    func contains(_ date: Date) -> Bool {
        guard let zone = TimeZone(identifier: timeZone), let from = UserSettings.minutes(from), let to = UserSettings.minutes(to) else { return true }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        let parts = calendar.dateComponents([.weekday, .hour, .minute], from: date)
        // Calendar weekdays are 1 = Sunday ... 7 = Saturday; ours are 1 = Monday ... 7 = Sunday.
        let day = ((parts.weekday ?? 1) + 5) % 7 + 1
        let minute = (parts.hour ?? 0) * 60 + (parts.minute ?? 0)
        if from <= to { return days.contains(day) && minute >= from && minute < to }
        let previous = (day + 5) % 7 + 1
        return (days.contains(day) && minute >= from) || (days.contains(previous) && minute < to)
    }
}
