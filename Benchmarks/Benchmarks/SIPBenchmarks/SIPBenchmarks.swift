import AnswerNinjaCore
import Benchmark
import HeapModule
import NIOCore
import SIPMessages
import SIPTransactions

/// SIP's per-message and per-timer costs, each with a baseline in the same run:
/// - `TimerWheel` with 100,000 live timers: one schedule, and one tick that fires what is due, per iteration,
///   against a binary heap (swift-collections) doing the same (the usual priority-queue timer);
/// - parsing one INVITE datagram, against splitting the same bytes into lines (the least a parser does).
/// Names have no spaces (see MediaBenchmarks).
let benchmarks: @Sendable () -> Void = {
    let configuration = Benchmark.Configuration(metrics: [.wallClock, .mallocCountTotal, .throughput], scalingFactor: .kilo, maxDuration: .seconds(2), maxIterations: 10_000)

    Benchmark("Baseline.Heap.100kLiveTimers.scheduleAndExpire", configuration: configuration) { benchmark in
        var heap = Heap<UInt64>()
        var now: UInt64 = 0
        var state: UInt64 = 1
        func deadline() -> UInt64 {
            state = state &* 6_364_136_223_846_793_005 &+ 1
            return now + 1_000_000 + (state >> 33) % 32_000_000_000  // up to 32 s, like SIP's timers
        }
        for _ in 0..<100_000 { heap.insert(deadline()) }
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            heap.insert(deadline())
            now += 320_000  // 100,000 timers over 32 s: one expires every 320 µs
            while let first = heap.min, first <= now { _ = heap.popMin() }
        }
        benchmark.stopMeasurement()
        blackHole(heap.count)
    }

    Benchmark("TimerWheel.100kLiveTimers.scheduleAndExpire", configuration: configuration) { benchmark in
        var now: UInt64 = 0
        var wheel = TimerWheel<UInt32>(tick: .milliseconds(10), slots: 4096, now: MediaInstant(nanoseconds: now))
        var state: UInt64 = 1
        func deadline() -> MediaInstant {
            state = state &* 6_364_136_223_846_793_005 &+ 1
            return MediaInstant(nanoseconds: now + 1_000_000 + (state >> 33) % 32_000_000_000)
        }
        for index in 0..<100_000 { wheel.schedule(UInt32(index), at: deadline()) }
        var fired = 0
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            wheel.schedule(1, at: deadline())
            now += 320_000
            wheel.advance(to: MediaInstant(nanoseconds: now)) { _ in fired += 1 }
        }
        benchmark.stopMeasurement()
        blackHole(fired)
    }

    let invite = ByteBuffer(string: SIPBenchmarkMessage.invite)

    Benchmark("Baseline.SplitIntoLines.INVITE", configuration: configuration) { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(String(decoding: invite.readableBytesView, as: UTF8.self).split(separator: "\r\n").count)
        }
    }

    Benchmark("SIPMessage.parse.INVITE", configuration: configuration) { benchmark in
        for _ in benchmark.scaledIterations { blackHole(try SIPMessage(parsing: invite)) }
    }
}
