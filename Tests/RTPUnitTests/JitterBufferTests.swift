import AnswerNinjaCore
import RTP
import AnswerNinjaTestSupport
import Testing

/// Drives a jitter buffer with a packet trace on a 20 ms playout clock, as a call's event loop would.
struct TraceRunner {
    struct Packet {
        var sequence: UInt16
        var timestamp: UInt32
        var ssrc: UInt32 = 0xABCD
        var marker = false
        /// Arrival in milliseconds since the start.
        var arrival: Double
        /// An RFC 4733 telephone-event packet (no audio) rather than a frame.
        var event = false
    }

    var buffer: JitterBuffer
    var played: [UInt16] = []
    var concealed = 0
    var silence = 0
    var payloadsOK = true
    /// Milliseconds of audio produced so far.
    var audioClock = 0.0

    init(configuration: JitterBuffer.Configuration = .init(clockRate: 8000)) {
        buffer = JitterBuffer(configuration: configuration)
    }

    static func instant(_ milliseconds: Double) -> MediaInstant { MediaInstant(nanoseconds: UInt64(1_000_000_000 + milliseconds * 1_000_000)) }

    mutating func run(_ packets: [Packet], until end: Double) -> [JitterBuffer.InsertResult] {
        var results: [JitterBuffer.InsertResult] = []
        let ordered = packets.sorted { $0.arrival < $1.arrival }
        var next = 0
        var now = 0.0
        while now <= end {
            while next < ordered.count && ordered[next].arrival <= now {
                let packet = ordered[next]
                if packet.event {
                    buffer.insertEvent(sequence: packet.sequence, ssrc: packet.ssrc)
                    next += 1
                    continue
                }
                let payload = [UInt8](repeating: UInt8(truncatingIfNeeded: packet.sequence), count: 160)
                results.append(payload.withUnsafeBytes {
                    buffer.insert(sequence: packet.sequence, timestamp: packet.timestamp, ssrc: packet.ssrc, marker: packet.marker, payload: $0, arrival: Self.instant(packet.arrival))
                })
                next += 1
            }
            // Pull frames until the audio produced reaches the present, as a mixer filling 20 ms ticks does: one
            // pull per tick for 20 ms packets, two ticks in three for 30 ms packets.
            while audioClock <= now {
                let playout = buffer.pull(now: Self.instant(now))
                switch playout {
                case .packet(let sequence, _, _):
                    played.append(sequence)
                    let first = buffer.payload(of: playout) { $0.first } ?? nil
                    if first != UInt8(truncatingIfNeeded: sequence) { payloadsOK = false }
                case .conceal: concealed += 1
                case .silence: silence += 1
                }
                audioClock += Double(buffer.frameUnits) * 1000 / 8000
            }
            now += 20
        }
        return results
    }

    /// `count` packets of 20 ms from `firstSequence`, sent at 20 ms intervals, arriving after `base` ms plus `jitter(i)`.
    static func stream(count: Int, firstSequence: UInt16 = 1000, firstTimestamp: UInt32 = 16000, start: Double = 0, base: Double = 30, jitter: (Int) -> Double = { _ in 0 }) -> [Packet] {
        (0..<count).map { index in
            Packet(sequence: firstSequence &+ UInt16(truncatingIfNeeded: index), timestamp: firstTimestamp &+ UInt32(index) * 160, marker: index == 0, arrival: start + Double(index) * 20 + base + jitter(index))
        }
    }
}


@Suite struct JitterBufferTests {
    @Test func anInOrderStreamPlaysEveryPacketOnce() {
        var runner = TraceRunner()
        _ = runner.run(TraceRunner.stream(count: 100), until: 2500)
        #expect(runner.played == (0..<100).map { 1000 + UInt16($0) })
        #expect(runner.payloadsOK)
        #expect(runner.buffer.statistics.late == 0 && runner.buffer.statistics.duplicates == 0)
        #expect(runner.buffer.statistics.played == 100)
    }

    @Test func reorderedPacketsPlayInSequenceAndDuplicatesOnce() {
        var packets = TraceRunner.stream(count: 50)
        packets[10].arrival += 25  // after 11
        packets[30].arrival += 15
        packets.append(packets[20])  // a duplicate
        packets[packets.count - 1].arrival += 5
        var runner = TraceRunner()
        let results = runner.run(packets, until: 1500)
        #expect(runner.played == (0..<50).map { 1000 + UInt16($0) })
        #expect(results.filter { $0 == .duplicate }.count == 1)
        #expect(runner.buffer.statistics.duplicates == 1)
    }

    @Test func aLostPacketIsConcealedOnceAtItsTurn() {
        var packets = TraceRunner.stream(count: 50)
        packets.remove(at: 25)
        var runner = TraceRunner()
        _ = runner.run(packets, until: 1300)
        #expect(runner.played.count == 49)
        #expect(!runner.played.contains(1025))
        #expect(runner.buffer.statistics.concealed >= 1)
        #expect(runner.buffer.statistics.late == 0)
    }

    @Test func ticksConcealedInAPauseOfTheSendersAreNotCountedAsLoss() {
        // Two talkspurts with a 1 s pause between (DTX: the sequence goes on, the timestamp jumps), and the stream
        // ending in a pause: every tick concealed while waiting was a pause, none a loss.
        let first = TraceRunner.stream(count: 50)
        let second = TraceRunner.stream(count: 50, firstSequence: 1050, firstTimestamp: 16000 + 50 * 160 + 8000, start: 2000)
        var runner = TraceRunner()
        _ = runner.run(first + second, until: 4000)
        let statistics = runner.buffer.statistics
        #expect(runner.played.count == 100)
        #expect(statistics.concealed > 0, "the buffer conceals while a delayed packet could still come: \(statistics)")
        #expect(statistics.paused + statistics.underrun == statistics.concealed && statistics.lossConcealed == 0, "\(statistics)")
        #expect(statistics.underrun > 0, "the stream ended in a pause: \(statistics)")

        // A lost packet mid-talkspurt is loss; so is one missing at a talkspurt's end, after which the next comes a
        // sequence number too far.
        var lossy = first + second
        lossy.remove(at: 75)  // 1075
        lossy.remove(at: 49)  // 1049, the first talkspurt's last
        var other = TraceRunner()
        _ = other.run(lossy, until: 4000)
        #expect(other.buffer.statistics.lossConcealed >= 2, "\(other.buffer.statistics)")

        // A packet delayed past its turn (an underrun, then the packet the underrun waited for, with its own
        // timestamp) was late: concealment, not a pause.
        var delayed = TraceRunner.stream(count: 60)
        for index in 30..<60 { delayed[index].arrival += 200 }
        var late = TraceRunner()
        _ = late.run(delayed, until: 2500)
        #expect(late.buffer.statistics.lossConcealed > 0 && late.buffer.statistics.paused == 0, "\(late.buffer.statistics)")
    }

    @Test(arguments: [60, 100, 160])
    func aShortPauseOfTheSendersLosesNothingOfTheNextTalkspurt(pauseMilliseconds: Int) {
        // A pause shorter than the maximum delay (DTX or the sender's VAD: the sequence goes on, the timestamp jumps):
        // the buffer is still concealing when the next packet comes; that packet and the ones after it play, none late.
        let first = TraceRunner.stream(count: 50)
        let gapUnits = UInt32(pauseMilliseconds * 8)
        let start = 50 * 20 + Double(pauseMilliseconds)
        var second = TraceRunner.stream(count: 50, firstSequence: 1050, firstTimestamp: 16000 + 50 * 160 + gapUnits, start: start)
        second[0].marker = true
        var runner = TraceRunner()
        _ = runner.run(first + second, until: 3500)
        let statistics = runner.buffer.statistics
        #expect(runner.played == (0..<100).map { 1000 + UInt16($0) }, "\(statistics)")
        #expect(statistics.late == 0 && statistics.lossConcealed == 0, "\(statistics)")
    }

    @Test(arguments: [60, 250, 600])
    func aDigitsTelephoneEventsTakeSequenceNumbersButLoseNothing(digitMilliseconds: Int) {
        // A caller presses a key: the sender stops its audio and sends RFC 4733 event packets on the stream's next
        // sequence numbers (one every 50 ms, then the end three times, RFC 4733 §2.5.1.4), then the audio goes on with
        // the next number and a timestamp after the digit. No audio went missing: nothing is concealed as loss, and
        // the audio after the digit plays, none of it late.
        let first = TraceRunner.stream(count: 50)
        let updates = max(1, digitMilliseconds / 50)
        let digitStart = 50 * 20 + 30.0
        var events = (0..<updates).map { index in
            TraceRunner.Packet(sequence: 1050 + UInt16(index), timestamp: 16000 + 50 * 160, arrival: digitStart + Double(index) * 50, event: true)
        }
        events += (0..<3).map { index in
            TraceRunner.Packet(
                sequence: 1050 + UInt16(updates + index), timestamp: 16000 + 50 * 160, arrival: digitStart + Double(digitMilliseconds) - 3 + Double(index), event: true
            )
        }
        let resumed = 1050 + UInt16(events.count)
        var second = TraceRunner.stream(
            count: 50, firstSequence: resumed, firstTimestamp: 16000 + 50 * 160 + UInt32(digitMilliseconds * 8), start: 1000 + Double(digitMilliseconds)
        )
        second[0].marker = false  // the sender's audio simply goes on
        var runner = TraceRunner()
        _ = runner.run(first + events + second, until: 4000)
        let statistics = runner.buffer.statistics
        #expect(runner.played == (0..<50).map { 1000 + UInt16($0) } + (0..<50).map { resumed + UInt16($0) }, "\(statistics)")
        #expect(statistics.late == 0 && statistics.lossConcealed == 0, "\(statistics)")
    }

    @Test func aPacketAfterItsTurnIsLateLoss() {
        var packets = TraceRunner.stream(count: 60)
        packets[30].arrival += 400
        var runner = TraceRunner()
        let results = runner.run(packets, until: 2000)
        #expect(results.contains(.late))
        #expect(runner.buffer.statistics.late == 1)
        #expect(!runner.played.contains(1030))
    }

    @Test(arguments: UInt64(1)...40)
    func theTargetFollowsTheJitterBetweenTalkspurts(seed: UInt64) {
        var generator = SplitMix64(state: seed)
        // First talkspurt: jitter up to 80 ms. Second talkspurt after 1 s of silence: the target has grown and late
        // loss is small.
        let first = TraceRunner.stream(count: 150, jitter: { _ in Double.random(in: 0...80, using: &generator) })
        let second = TraceRunner.stream(count: 300, firstSequence: 1150, firstTimestamp: 16000 + 150 * 160 + 8000, start: 4000, jitter: { _ in Double.random(in: 0...80, using: &generator) })
        var runner = TraceRunner()
        _ = runner.run(first, until: 3900)
        let lateInFirst = runner.buffer.statistics.late
        _ = runner.run(second, until: 11_000)
        let target = runner.buffer.statistics.targetDelayMilliseconds
        #expect((60...120).contains(target), "target \(target) ms for jitter up to 80 ms")
        let lateInSecond = runner.buffer.statistics.late - lateInFirst
        #expect(Double(lateInSecond) / 300 < 0.05, "late \(lateInSecond) of 300 with a target of \(target) ms: \(runner.buffer.statistics)")
        #expect(runner.silence > 30, "the silence between talkspurts is silence, not concealment")
    }

    @Test func sequenceAndTimestampWrapsAreContinuous() {
        var runner = TraceRunner()
        // Played from 80 ms (first tick after arrival, plus the 40 ms initial delay) to 860 ms.
        _ = runner.run(TraceRunner.stream(count: 40, firstSequence: 65520, firstTimestamp: UInt32.max - 160 * 10), until: 860)
        #expect(runner.played.count == 40)
        #expect(runner.played.first == 65520 && runner.played.last == 65520 &+ 39)
        #expect(runner.buffer.statistics.restarts == 0 && runner.buffer.statistics.concealed == 0)
    }

    @Test func aNewSSRCRestartsTheBuffer() {
        var packets = TraceRunner.stream(count: 30)
        var other = TraceRunner.stream(count: 30, firstSequence: 7, firstTimestamp: 99, start: 600)
        for index in other.indices { other[index].ssrc = 0x1234 }
        packets += other
        var runner = TraceRunner()
        let results = runner.run(packets, until: 1500)
        #expect(results.filter { $0 == .restarted }.count == 1)
        #expect(runner.played.suffix(20).allSatisfy { $0 >= 7 && $0 < 37 })
        #expect(runner.buffer.statistics.restarts == 1)
    }

    @Test(arguments: [0.001, -0.001])
    func clockDriftStaysBounded(drift: Double) {
        // Five minutes of speech from a sender whose clock runs 0.1 % fast or slow (300 ms of drift).
        let packets = (0..<15_000).map { index in
            TraceRunner.Packet(sequence: UInt16(truncatingIfNeeded: index), timestamp: UInt32(index) * 160, marker: index == 0, arrival: Double(index) * 20 * (1 - drift) + 30)
        }
        var runner = TraceRunner()
        _ = runner.run(packets, until: 301_000)
        let statistics = runner.buffer.statistics
        #expect(statistics.played + statistics.dropped + statistics.late >= 14_990)
        #expect(statistics.concealmentRatio < 0.02, "\(statistics)")
        if drift > 0 { #expect(statistics.dropped > 0, "a fast sender is caught up by dropping frames") }
    }

    @Test func oversizedPayloadsAreRefused() {
        var buffer = JitterBuffer(configuration: .init(clockRate: 8000, maximumPayload: 100))
        let result = [UInt8](repeating: 0, count: 200).withUnsafeBytes {
            buffer.insert(sequence: 1, timestamp: 1, ssrc: 1, marker: true, payload: $0, arrival: MediaInstant(nanoseconds: 0))
        }
        #expect(result == .tooLarge && buffer.statistics.tooLarge == 1)
    }
}

@Suite struct ReorderBufferTests {
    @Test func inOrderPassesAtOnceAndReorderingIsUndone() {
        var buffer = ReorderBuffer(depth: 3)
        #expect(buffer.insert(10) == [10])
        #expect(buffer.insert(11) == [11])
        #expect(buffer.insert(13).isEmpty)
        #expect(buffer.insert(12) == [12, 13])
        #expect(buffer.insert(12).isEmpty, "a duplicate behind the output")
        #expect(buffer.insert(14) == [14])
    }

    @Test func aLostPacketIsSkippedAfterDepthLaterOnes() {
        var buffer = ReorderBuffer(depth: 2)
        #expect(buffer.insert(65534) == [65534])
        #expect(buffer.insert(0).isEmpty)  // 65535 missing, across the wrap
        #expect(buffer.insert(1).isEmpty)
        #expect(buffer.insert(2) == [0, 1, 2])
        #expect(buffer.insert(65535).isEmpty, "too late for the fast path")
    }
}

@Suite struct JitterBufferPtimeTests {
    @Test func aPtimeChangeMidStreamPlaysOn() {
        // 50 packets of 20 ms, then 40 packets of 30 ms (240 timestamp units) on a 20 ms tick: nothing is lost or
        // late; the buffer follows the new packet duration.
        var packets = TraceRunner.stream(count: 50)
        let base = packets.last!
        for index in 1...40 {
            packets.append(.init(sequence: base.sequence &+ UInt16(index), timestamp: base.timestamp &+ 160 &+ UInt32(index - 1) * 240, arrival: base.arrival + 20 + Double(index - 1) * 30))
        }
        var runner = TraceRunner()
        _ = runner.run(packets, until: 3000)
        #expect(runner.played.count == 90)
        #expect(runner.buffer.statistics.late == 0)
        #expect(runner.buffer.frameUnits == 240)
    }
}

/// Drives a jitter buffer as a per-stream timer does: each frame is pulled when the buffer says it is due.
struct ScheduledRunner {
    var buffer: JitterBuffer
    /// Sequence number and play instant (ms) of every packet played.
    var played: [(sequence: UInt16, at: Double)] = []

    init(configuration: JitterBuffer.Configuration = .init(clockRate: 8000)) {
        buffer = JitterBuffer(configuration: configuration)
    }

    mutating func run(_ packets: [TraceRunner.Packet]) {
        let ordered = packets.sorted { $0.arrival < $1.arrival }
        var next = 0
        var now = 0.0
        for _ in 0..<(packets.count * 20 + 100) {
            let due = buffer.nextPlayout.map { Double($0.nanoseconds) / 1_000_000 - 1000 }
            if next < ordered.count, due.map({ ordered[next].arrival <= $0 }) ?? true {
                let packet = ordered[next]
                now = packet.arrival
                _ = [UInt8](repeating: 0, count: 160).withUnsafeBytes {
                    buffer.insert(sequence: packet.sequence, timestamp: packet.timestamp, ssrc: packet.ssrc, marker: packet.marker, payload: $0, arrival: TraceRunner.instant(now))
                }
                next += 1
            } else if let due {
                now = max(now, due)
                if case .packet(let sequence, _, _) = buffer.pull(now: TraceRunner.instant(now)) { played.append((sequence, now)) }
            } else {
                return
            }
        }
        Issue.record("the runner did not finish: the buffer kept asking to be pulled")
    }
}

@Suite struct JitterBufferScheduleTests {
    @Test func aTimerThatPullsWhenDuePlaysEachPacketItsTargetAfterItsBestArrival() {
        // Two talkspurts on a path with a constant 30 ms transit: the second plays every packet exactly the minimum
        // delay (20 ms) after it arrived, with no 20 ms mixer grid in between.
        let first = TraceRunner.stream(count: 100)
        let second = TraceRunner.stream(count: 100, firstSequence: 1100, firstTimestamp: 16000 + 100 * 160 + 8000, start: 3000)
        var runner = ScheduledRunner()
        runner.run(first + second)
        #expect(runner.played.count == 200)
        #expect(runner.played.map(\.sequence) == (0..<200).map { 1000 + UInt16($0) })
        for (index, play) in runner.played.enumerated().dropFirst(100) {
            let arrival = 3000 + Double(index - 100) * 20 + 30
            #expect(abs(play.at - (arrival + 20)) < 0.5, "packet \(play.sequence) played at \(play.at) ms, arrived at \(arrival) ms")
        }
        #expect(runner.buffer.statistics.late == 0 && runner.buffer.statistics.concealed > 0)  // concealment only after each talkspurt
        #expect(runner.buffer.nextPlayout == nil, "nothing waits: no pull is due")
    }

    @Test func theFirstTalkspurtStretchesWhenThePathIsWorseThanTheInitialGuess() {
        // Jitter up to 120 ms against a 40 ms initial delay: without stretching, most of the first talkspurt would
        // arrive after its turn.
        var generator = SplitMix64(state: 7)
        let packets = TraceRunner.stream(count: 200, jitter: { _ in Double.random(in: 0...120, using: &generator) })
        var runner = ScheduledRunner()
        runner.run(packets)
        let statistics = runner.buffer.statistics
        #expect(statistics.stretched > 0)
        #expect(Double(statistics.late) / 200 < 0.1, "\(statistics)")
        #expect(runner.played.map(\.sequence) == runner.played.map(\.sequence).sorted())
    }

    @Test func aMixerOnAFixedGridStillPlaysEverything() {
        // The same buffer pulled every 20 ms regardless of nextPlayout.
        var runner = TraceRunner()
        _ = runner.run(TraceRunner.stream(count: 100), until: 2500)
        #expect(runner.buffer.statistics.played == 100 && runner.buffer.statistics.stretched == 0)
    }
}
