import AnswerNinjaCore
import Foundation
import Logging
import Screening
import Store

/// `answer-ninja bench platform`: the whitelist decision from the cache (p50 and p99 in process, against the
/// uncached decision), and writing a call record with its turns against a single-row insert into the same database,
/// in the same run (docs/benchmarks.md). SQLite in a scratch file, or PostgreSQL with `--postgres-url`.
public struct PlatformBench: Sendable {
    public typealias Check = MediaBench.Check

    public struct Report: Codable, Sendable, CommandOutput {
        public var build: String
        public var backend: String
        /// Microseconds: p50 and p99 of each case.
        public var latencies: [String: [String: Double]]
        public var reported: [String: Double]
        public var checks: [Check]
        public var ok: Bool { checks.allSatisfy(\.met) }

        public var humanReadable: String {
            var lines = ["platform, \(backend), \(build) build" + (build == "debug" ? " (figures are not representative: build with -c release)" : "")]
            for (name, figures) in latencies.sorted(by: { $0.key < $1.key }) {
                lines.append(String(format: "p50 %9.1f µs  p99 %9.1f µs  %@", figures["p50"] ?? 0, figures["p99"] ?? 0, name))
            }
            lines += reported.sorted { $0.key < $1.key }.map { String(format: "%14.3f     %@", $0.value, $0.key) }
            lines += checks.map { String(format: "%@ %@: %.3f (%@)", $0.met ? "met " : "MISS", $0.target, $0.value, $0.limit) }
            return lines.joined(separator: "\n")
        }
    }

    public var lookups: Int
    public var calls: Int
    public var postgresURL: String?

    public init(lookups: Int = 20_000, calls: Int = 500, postgresURL: String? = nil) {
        self.lookups = max(100, lookups)
        self.calls = max(10, calls)
        self.postgresURL = postgresURL
    }

    static func percentiles(_ samples: [Duration]) -> [String: Double] {
        let sorted = samples.sorted()
        func at(_ fraction: Double) -> Double {
            sorted[min(sorted.count - 1, Int(Double(sorted.count) * fraction))].milliseconds * 1000
        }
        return ["p50": at(0.5), "p99": at(0.99)]
    }

    public func run() async throws -> Report {
        let directory = NSTemporaryDirectory() + "answer-ninja-bench-\(UInt32.random(in: 0 ... .max))"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var configuration = NinjaConfiguration.defaults
        configuration.dataDirectory = directory
        configuration.demoAlias = nil
        if let postgresURL {
            configuration.store.backend = .postgres
            configuration.store.postgresURL = postgresURL
        }
        let context = ServiceContext(configuration: configuration, roles: [.api], logger: Logger(label: "bench"))
        let store = try await StoreService.open(context: context)
        let platform = store.platform
        var latencies: [String: [String: Double]] = [:]
        var reported: [String: Double] = [:]
        var checks: [Check] = []
        do {
            // A user with a realistic list: 300 contacts, 20 prefixes, a block list.
            let user = try await platform.users.create(email: "bench-\(UInt32.random(in: 0 ... .max))@example.com", displayName: "bench", passwordHash: "x")
            var entries: [WhitelistEntry] = []
            for index in 0..<300 { entries.append(WhitelistEntry(pattern: try WhitelistPattern("+1415555\(String(format: "%04d", index))"), list: .allow, source: .contact, createdAt: 0)) }
            for index in 0..<20 { entries.append(WhitelistEntry(pattern: try WhitelistPattern("+1900\(index + 10)*"), list: .block, source: .manual, createdAt: 0)) }
            try await platform.whitelist.saveAll(entries, userId: user.id)
            let numbers = try (0..<50).map { try E164Number("+1415555\(String(format: "%04d", $0 * 7))") }

            // Uncached: the database query and the rules, every time.
            var uncached: [Duration] = []
            let clock = ContinuousClock()
            for index in 0..<min(lookups, 2000) {
                let number = numbers[index % numbers.count]
                uncached.append(try await clock.measure { _ = try await platform.whitelist.check(userId: user.id, number: number, now: 0) })
            }
            // From the cache: warmed once per number, then every lookup is a hit.
            for number in numbers { _ = try await WhitelistCache.check(userId: user.id, number: number, platform: platform) }
            var cached: [Duration] = []
            var hits = 0
            for index in 0..<lookups {
                let number = numbers[index % numbers.count]
                cached.append(try await clock.measure {
                    if try await WhitelistCache.check(userId: user.id, number: number, platform: platform).cached { hits += 1 }
                })
            }
            latencies["whitelist decision, uncached (query + rules)"] = Self.percentiles(uncached)
            latencies["whitelist decision from the cache"] = Self.percentiles(cached)
            let p99 = latencies["whitelist decision from the cache"]!["p99"]!
            checks.append(Check(target: "whitelist decision from the cache, p99 in process (µs)", value: p99, limit: "≤ 1000", met: p99 <= 1000 && hits == lookups))
            reported["cached p50 / uncached p50"] = latencies["whitelist decision from the cache"]!["p50"]! / max(0.001, latencies["whitelist decision, uncached (query + rules)"]!["p50"]!)

            // Writing a call record with 3 turns (7 events in one transaction), against one single-row insert.
            try await platform.database.query("CREATE TABLE IF NOT EXISTS bench_baseline (id TEXT PRIMARY KEY, at BIGINT NOT NULL, body TEXT NOT NULL)")
            var baseline: [Duration] = []
            for index in 0..<calls {
                baseline.append(try await clock.measure {
                    try await platform.database.query("INSERT INTO bench_baseline (id, at, body) VALUES ($1, $2, $3)", [.text("b\(index)-\(UUID().uuidString)"), .integer(Int64(index)), .text("x")])
                })
            }
            var records: [Duration] = []
            let now = unixMilliseconds()
            for index in 0..<calls {
                let id = "bench-\(index)-\(UUID().uuidString)", at = now + Int64(index)
                var events = [CallEvent(callId: id, sequence: 1, callStartedAt: at, at: at, instance: "bench", change: .started(userId: user.id, caller: "+15550001111", callee: "+14155550100"))]
                events.append(CallEvent(callId: id, sequence: 2, callStartedAt: at, at: at, instance: "bench", change: .decided(decision: "screen", reasons: ["whitelist:none"])))
                for turn in 1...3 {
                    events.append(CallEvent(callId: id, sequence: 2 + turn, callStartedAt: at, at: at, instance: "bench", change: .turn(CallTurn(turn: turn, at: at, callerText: "caller text \(turn)", replyText: "reply \(turn)", intent: "survey", confidence: 0.8, latencies: ["reply": 1]))))
                }
                events.append(CallEvent(callId: id, sequence: 6, callStartedAt: at, at: at, instance: "bench", change: .intent(name: "survey", confidence: 0.8)))
                events.append(CallEvent(callId: id, sequence: 7, callStartedAt: at, at: at, instance: "bench", change: .ended(outcome: "hung_up_by_ai", reason: "survey_declined")))
                records.append(try await clock.measure { try await platform.records.apply(events) })
            }
            latencies["baseline: one single-row insert"] = Self.percentiles(baseline)
            latencies["call record with 3 turns (7 changes, one transaction)"] = Self.percentiles(records)
            reported["call record p50 / single insert p50"] = latencies["call record with 3 turns (7 changes, one transaction)"]!["p50"]! / max(0.001, latencies["baseline: one single-row insert"]!["p50"]!)
            try await platform.database.query("DROP TABLE bench_baseline")
        } catch {
            try? await store.close()
            throw error
        }
        try await store.close()
        return Report(build: MediaBench.buildKind, backend: platform.database.dialect.rawValue, latencies: latencies, reported: reported, checks: checks)
    }
}
