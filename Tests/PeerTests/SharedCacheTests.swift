import AnswerNinjaTestSupport
import Foundation
import Store
import Testing

/// The shared cache on a real Redis, and what happens when Redis hangs (`SIGSTOP`) or dies (`SIGKILL`): every
/// operation still answers, from the in-process cache, and the fallback counter rises within a second.
@Suite(.serialized) struct SharedCacheTests {
    static let redisAvailable = PeerEnvironment.available("redis-server")

    @Test(.enabled(if: redisAvailable), .timeLimit(.minutes(2)))
    func cachesCountersAndLiveEventsGoThroughRedis() async throws {
        let peer = try await RedisPeer.start()
        try await withPeer(peer) { peer in
            let settings = try RedisSettings(url: peer.url)
            let first = FallbackCache(redis: settings), second = FallbackCache(redis: settings)
            await first.set("whitelist:u1:+15550001111", "allow:contact", ttl: CacheTTL.whitelist)
            // In Redis itself, with the whitelist TTL, and seen by another instance.
            #expect(try await peer.command(["GET", "whitelist:u1:+15550001111"]) == "allow:contact")
            let ttl = Int(try await peer.command(["TTL", "whitelist:u1:+15550001111"])) ?? 0
            #expect((590...600).contains(ttl))
            #expect(await second.get("whitelist:u1:+15550001111") == "allow:contact")
            await second.delete("whitelist:u1:+15550001111")
            #expect(await first.get("whitelist:u1:+15550001111") == nil)
            // A rate limit shared by both instances: one window, counted in Redis.
            var counts: [Int] = []
            for index in 0..<6 { counts.append(await (index % 2 == 0 ? first : second).hit("rate:login:alice", window: .seconds(60))) }
            #expect(counts == [1, 2, 3, 4, 5, 6])
            #expect(Int(try await peer.command(["PTTL", "rate:login:alice"])).map { $0 > 55_000 } == true)
            // A live event published by one instance reaches the other's subscriber through Redis.
            try await StoreTests.eventually { first.subscribed && second.subscribed }
            let stream = second.subscribe("user:u1")
            await first.publish("user:u1", #"{"type":"call_started"}"#)
            var iterator = stream.makeAsyncIterator()
            #expect(await iterator.next() == #"{"type":"call_started"}"#)
            #expect(first.fallbacks == 0 && second.fallbacks == 0)
            await first.close()
            await second.close()
        }
    }

    @Test(.enabled(if: redisAvailable), .timeLimit(.minutes(2)))
    func aHungOrDeadRedisFallsBackWithinASecondAndRecovers() async throws {
        var peer = try await RedisPeer.start()
        try await withPeer(peer) { started in
            let cache = FallbackCache(redis: try RedisSettings(url: started.url), cooldown: .milliseconds(500))
            await cache.set("profile:abc", "0.91", ttl: CacheTTL.spamProfile)
            #expect(await cache.get("profile:abc") == "0.91" && cache.fallbacks == 0)

            // Hung: the server keeps its socket and answers nothing.
            started.freeze()
            let frozenAt = ContinuousClock.now
            #expect(await cache.get("profile:abc") == "0.91", "answered by the in-process copy")
            #expect(cache.fallbacks >= 1)
            #expect(ContinuousClock.now - frozenAt < .seconds(1), "the command timeout (250 ms) bounds the wait")
            // While cooling down, nothing waits on Redis at all, and calls go on.
            for index in 0..<20 { await cache.set("call:\(index)", "state", ttl: .seconds(60)) }
            #expect(await cache.get("call:7") == "state")
            #expect(await cache.hit("rate:x", window: .seconds(10)) == 1)
            let stream = cache.subscribe("user:u1")
            await cache.publish("user:u1", "event-while-hung")
            var iterator = stream.makeAsyncIterator()
            #expect(await iterator.next() == "event-while-hung", "delivered in process while Redis is down")

            // Back: after the cooldown, Redis is used again and has the new writes.
            started.thaw()
            try await Task.sleep(for: .milliseconds(600))
            await cache.set("after:thaw", "1", ttl: .seconds(60))
            #expect(cache.usingRedis)
            #expect(try await started.command(["GET", "after:thaw"]) == "1")

            // Dead: killed outright.
            await started.process.stop(signal: SIGKILL)
            let before = cache.fallbacks
            #expect(await cache.get("after:thaw") == "1")
            #expect(cache.fallbacks > before)
            peer = try await started.restarted()
            try await Task.sleep(for: .milliseconds(600))
            await cache.set("after:restart", "2", ttl: .seconds(60))
            #expect(try await peer.command(["GET", "after:restart"]) == "2", "a new connection after the restart")
            await cache.close()
        }
        await peer.stop()
    }
}
