import AnswerNinjaCore
import NIOConcurrencyHelpers

/// Shared caches with TTLs, fixed-window counters for rate limits, and pub/sub for live events: Redis when
/// configured, with the in-process cache standing in whenever Redis is down or hung. It never throws: a call goes
/// on whatever the cache does.
public protocol SharedCache: Sendable {
    func get(_ key: String) async -> String?
    func set(_ key: String, _ value: String, ttl: Duration) async
    func delete(_ key: String) async
    /// Counts one hit on `key` in a fixed window of `window` (created with the first hit); returns the count.
    func hit(_ key: String, window: Duration) async -> Int
    func publish(_ channel: String, _ message: String) async
    /// Messages published on `channel` from now on, by this process or (through Redis) any other.
    func subscribe(_ channel: String) -> AsyncStream<String>
}

/// The TTLs of the original system's caches, kept.
public enum CacheTTL {
    /// A whitelist decision: 10 minutes.
    public static let whitelist = Duration.seconds(600)
    /// A caller's spam profile: 2 hours.
    public static let spamProfile = Duration.seconds(7200)
}

/// The in-process cache: a dictionary with expiry and a size cap (expired and then oldest entries go first),
/// counters, and local pub/sub.
public final class InProcessCache: SharedCache {
    private struct Entry {
        var value: String
        var expires: ContinuousClock.Instant
    }
    private struct State {
        var entries: [String: Entry] = [:]
        var subscribers: [String: [Int: AsyncStream<String>.Continuation]] = [:]
        var nextSubscriber = 0
    }
    private let state = NIOLockedValueBox(State())
    public let capacity: Int

    public init(capacity: Int = 100_000) { self.capacity = capacity }

    public func get(_ key: String) async -> String? { value(key) }

    public func value(_ key: String) -> String? {
        state.withLockedValue { state in
            guard let entry = state.entries[key] else { return nil }
            guard entry.expires > .now else {
                state.entries[key] = nil
                return nil
            }
            return entry.value
        }
    }

    public func set(_ key: String, _ value: String, ttl: Duration) async { store(key, value, ttl: ttl) }

    public func store(_ key: String, _ value: String, ttl: Duration) {
        state.withLockedValue { state in
            state.entries[key] = Entry(value: value, expires: .now + ttl)
            if state.entries.count > capacity { Self.evict(&state.entries, to: capacity * 9 / 10) }
        }
    }

    public func delete(_ key: String) async { remove(key) }

    public func remove(_ key: String) { state.withLockedValue { $0.entries[key] = nil } }

    public func hit(_ key: String, window: Duration) async -> Int { count(key, window: window) }

    public func count(_ key: String, window: Duration) -> Int {
        state.withLockedValue { state in
            let now = ContinuousClock.now
            var entry = state.entries[key].flatMap { $0.expires > now ? $0 : nil } ?? Entry(value: "0", expires: now + window)
            let count = (Int(entry.value) ?? 0) + 1
            entry.value = String(count)
            state.entries[key] = entry
            return count
        }
    }

    public func publish(_ channel: String, _ message: String) async { deliver(channel, message) }

    /// Hands `message` to this process's subscribers of `channel`.
    public func deliver(_ channel: String, _ message: String) {
        let targets = state.withLockedValue { Array(($0.subscribers[channel] ?? [:]).values) }
        for target in targets { target.yield(message) }
    }

    public func subscribe(_ channel: String) -> AsyncStream<String> {
        let (stream, continuation) = AsyncStream.makeStream(of: String.self, bufferingPolicy: .bufferingNewest(1000))
        let id = state.withLockedValue { state in
            defer { state.nextSubscriber += 1 }
            state.subscribers[channel, default: [:]][state.nextSubscriber] = continuation
            return state.nextSubscriber
        }
        continuation.onTermination = { [weak self] _ in
            self?.state.withLockedValue { $0.subscribers[channel]?[id] = nil }
        }
        return stream
    }

    public var count: Int { state.withLockedValue { $0.entries.count } }

    private static func evict(_ entries: inout [String: Entry], to target: Int) {
        let now = ContinuousClock.now
        entries = entries.filter { $0.value.expires > now }
        guard entries.count > target else { return }
        for (key, _) in entries.sorted(by: { $0.value.expires < $1.value.expires }).prefix(entries.count - target) { entries[key] = nil }
    }
}

/// Redis first, the in-process cache whenever Redis fails: every failure counts a fallback (`onFallback`, exported
/// as `cache_fallbacks_total`) and, for `cooldown`, sends everything straight to the in-process cache so that
/// calls do not each wait out the command timeout on a hung server. Writes go to both, so that a fallback finds
/// what was recently cached. Live events go through Redis pub/sub (`PSUBSCRIBE answer-ninja:*`) and, while
/// Redis is down, to this process's subscribers directly.
public final class FallbackCache: SharedCache {
    public static let channelPrefix = "answer-ninja:"
    public let redis: RedisClient?
    public let local: InProcessCache
    private let cooldown: Duration
    private let onFallback: @Sendable () -> Void
    private let status = NIOLockedValueBox<(failedAt: ContinuousClock.Instant?, fallbacks: Int)>((nil, 0))
    private let subscriber: RedisSubscriber?

    public init(redis: RedisSettings?, local: InProcessCache = InProcessCache(), cooldown: Duration = .seconds(1), onFallback: @escaping @Sendable () -> Void = {}) {
        self.redis = redis.map { RedisClient(settings: $0) }
        self.local = local
        self.cooldown = cooldown
        self.onFallback = onFallback
        subscriber = redis.map { settings in
            RedisSubscriber(settings: settings, pattern: Self.channelPrefix + "*") { channel, message in
                local.deliver(String(channel.dropFirst(Self.channelPrefix.count)), message)
            }
        }
    }

    /// How many operations the in-process cache answered because Redis failed or was cooling down.
    public var fallbacks: Int { status.withLockedValue { $0.fallbacks } }

    /// Whether the next operation tries Redis.
    public var usingRedis: Bool {
        guard redis != nil else { return false }
        return status.withLockedValue { $0.failedAt.map { ContinuousClock.now - $0 >= cooldown } ?? true }
    }

    /// The live-event subscription is established (messages from other instances arrive).
    public var subscribed: Bool { subscriber?.isConnected ?? false }

    public func get(_ key: String) async -> String? {
        if let reply = await attempt({ try await $0.command(["GET", key]) }) { return reply.string }
        return local.value(key)
    }

    public func set(_ key: String, _ value: String, ttl: Duration) async {
        local.store(key, value, ttl: ttl)
        _ = await attempt { try await $0.command(["SET", key, value, "PX", String(Self.milliseconds(ttl))]) }
    }

    public func delete(_ key: String) async {
        local.remove(key)
        _ = await attempt { try await $0.command(["DEL", key]) }
    }

    public func hit(_ key: String, window: Duration) async -> Int {
        // INCR, then the window's expiry if the key has none yet (PEXPIRE NX, Redis 7): every hit sets it again if
        // an earlier one failed to, so a key never outlives its window for good.
        if let reply = await attempt({ redis in
            let count = try await redis.command(["INCR", key])
            try await redis.command(["PEXPIRE", key, String(Self.milliseconds(window)), "NX"])
            return count
        }), let count = reply.integer {
            return count
        }
        return local.count(key, window: window)
    }

    public func publish(_ channel: String, _ message: String) async {
        if await attempt({ try await $0.command(["PUBLISH", Self.channelPrefix + channel, message]) }) == nil || !subscribed {
            local.deliver(channel, message)
        }
    }

    public func subscribe(_ channel: String) -> AsyncStream<String> { local.subscribe(channel) }

    public func close() async {
        subscriber?.stop()
        try? await redis?.close()
    }

    /// Runs `body` on Redis unless it is cooling down; nil (and a fallback counted) when it fails or is skipped.
    private func attempt(_ body: (RedisClient) async throws -> RedisReply) async -> RedisReply? {
        guard let redis else { return nil }
        guard usingRedis else {
            countFallback(failed: false)
            return nil
        }
        do {
            return try await body(redis)
        } catch let error as StoreError where error.code.rawValue == "redis" {
            return nil  // Redis answered with an error: not an outage.
        } catch {
            countFallback(failed: true)
            return nil
        }
    }

    private func countFallback(failed: Bool) {
        status.withLockedValue {
            $0.fallbacks += 1
            if failed { $0.failedAt = .now }
        }
        onFallback()
    }

    /// Whole milliseconds for PX and PEXPIRE, at least 1 (Redis refuses 0).
    static func milliseconds(_ duration: Duration) -> Int64 {
        max(1, Int64(duration.milliseconds))
    }
}
