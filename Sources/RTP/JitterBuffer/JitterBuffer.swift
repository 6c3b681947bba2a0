import AnswerNinjaCore

/// The receive-side jitter buffer of one RTP stream, for audio we consume (AI calls, recording); bridged calls
/// relay packets without one. A state machine without I/O: `insert` each packet with its arrival instant, `pull`
/// once per playout tick (every `frameUnits` of the stream's clock); nothing reads a clock.
///
/// - Storage: payloads are copied into a preallocated ring (holding the receive buffers would keep their storage
///   alive), so steady state allocates nothing.
/// - Order: packets are played by sequence number; duplicates and packets whose turn has passed ("late") are
///   dropped and counted.
/// - Delay: the target delay is a high percentile of the observed transit variation over a sliding window of
///   packets (as WebRTC's NetEQ does), clamped to `minimumDelay...maximumDelay`, and applied only when a talkspurt
///   starts (marker bit, or packets again after silence or DTX), never in the middle of speech.
/// - Robustness: an SSRC change or a jump in sequence or timestamp restarts the buffer; clock drift is absorbed by
///   dropping a frame when the buffer runs far past its target and by concealment when it runs dry.
/// - Timing: `nextPlayout` says when the next frame is due, to the nanosecond: a per-stream timer that pulls then
///   plays every packet exactly its target delay after its best-case arrival (the AI path, whose playout clock is
///   its own). A mixer on a fixed 20 ms grid may pull on its grid instead; a packet then waits for the next tick,
///   10 ms more on average (docs/media.md has both figures).
public struct JitterBuffer: Sendable {
    public struct Configuration: Sendable {
        public var clockRate: Int
        /// Packets held at most (a power of two).
        public var capacity: Int
        /// Largest payload stored (bigger ones are refused and counted).
        public var maximumPayload: Int
        public var minimumDelay: Duration
        public var maximumDelay: Duration
        /// Delay before the first talkspurt, when nothing has been measured yet.
        public var initialDelay: Duration
        /// The fraction of packets that should arrive in time: the target is this percentile of the variation.
        public var percentile: Double
        /// Packets in the sliding window of the delay estimate.
        public var history: Int
        /// The late-loss rate the buffer steers to: after each talkspurt the percentile moves so that the measured
        /// rate (over about the last 500 packets) comes to this, as the window's percentile is only an estimate.
        public var lateLossGoal: Double

        public init(
            clockRate: Int, capacity: Int = 64, maximumPayload: Int = 640, minimumDelay: Duration = .milliseconds(20),
            maximumDelay: Duration = .milliseconds(200), initialDelay: Duration = .milliseconds(40), percentile: Double = 0.99, history: Int = 400,
            lateLossGoal: Double = 0.008
        ) {
            self.clockRate = clockRate
            self.capacity = capacity
            self.maximumPayload = maximumPayload
            self.minimumDelay = minimumDelay
            self.maximumDelay = maximumDelay
            self.initialDelay = initialDelay
            self.percentile = percentile
            self.history = history
            self.lateLossGoal = lateLossGoal
        }
    }

    public enum InsertResult: Sendable, Equatable {
        case accepted
        case duplicate
        /// Its turn had passed: counted as late loss.
        case late
        case tooLarge
        /// A new SSRC, or a jump, started the buffer over (the packet is accepted).
        case restarted
    }

    /// What to play for one tick.
    public enum Playout: Sendable, Equatable {
        /// A packet: read its payload with `payload(of:)` before the next `insert` or `pull`.
        case packet(sequence: UInt16, timestamp: UInt32, slot: Int)
        /// A packet that should be here is missing: conceal (Opus PLC/FEC, G.711 waveform repetition).
        case conceal(timestamp: UInt32)
        /// Nothing to play: before the first talkspurt, in silence or DTX.
        case silence
    }

    /// Per-stream figures, defined so that they can be checked against an independent scorer.
    public struct Statistics: Sendable, Equatable {
        public var received = 0
        public var played = 0
        public var duplicates = 0
        /// Arrived after their turn.
        public var late = 0
        /// Ticks concealed (lost or late packets, underruns).
        public var concealed = 0
        /// Of those, ticks concealed in an underrun that the next packet showed was a pause: it came in sequence (none
        /// missing) with a timestamp at or after those ticks (the sender stopped sending: DTX, its VAD, or the end of
        /// the talkspurt). Nothing was lost there.
        public var paused = 0
        /// Ticks of the current underrun, not yet known to be loss or a pause: a pause if the stream ends here.
        public var underrun = 0
        /// Frames dropped to catch up with a sender whose clock runs fast.
        public var dropped = 0
        public var restarts = 0
        /// Ticks concealed without moving the playout point, to raise the delay within a talkspurt when the path
        /// got worse than its schedule allows.
        public var stretched = 0
        public var tooLarge = 0
        /// The target delay applied at the last talkspurt start, in milliseconds.
        public var targetDelayMilliseconds = 0.0

        /// Late packets over packets received.
        public var lateLossRate: Double { received == 0 ? 0 : Double(late) / Double(received) }
        /// Concealed ticks over played and concealed ticks.
        public var concealmentRatio: Double { played + concealed == 0 ? 0 : Double(concealed) / Double(played + concealed) }
        /// Ticks concealed for packets that were lost or late: the concealed ones but for pauses (those known, and the
        /// underrun the stream ended in).
        public var lossConcealed: Int { concealed - paused - underrun }
    }

    public let configuration: Configuration
    public private(set) var statistics = Statistics()

    // The ring: slot = sequence mod capacity.
    private var valid: [Bool]
    private var sequences: [UInt16]
    private var timestamps: [Int64]
    private var lengths: [Int]
    private var payloads: [UInt8]

    private var ssrc: UInt32?
    /// Timestamp unwrapping (RFC 3550 timestamps wrap at 2^32).
    private var lastTimestamp: UInt32 = 0
    private var timestampCycles: Int64 = 0
    private var highestSequence: UInt16 = 0
    private var started = false

    private var playoutSequence: UInt16 = 0
    private var playoutTimestamp: Int64 = 0
    private var playing = false
    private var needsAnchor = true
    private var idleTicks = 0
    /// Where the current underrun began: the sequence and timestamp the next packet would have had.
    private var underrunSequence: UInt16 = 0
    private var underrunTimestamp: Int64 = 0
    /// Duration of one packet in timestamp units, learned from consecutive packets.
    public private(set) var frameUnits: Int64

    // Delay estimate: transit = arrival (in timestamp units) − timestamp, over a sliding window.
    private var transits: [Int64]
    /// The timestamp of each transit in `transits`.
    private var transitStamps: [Int64]
    private var transitCount = 0
    private var transitNext = 0
    private var scratch: [Double]
    private var targetUnits: Int64
    /// The schedule of the talkspurt being played: when each timestamp's frame is due.
    private var schedule = Plan(target: 0, baseTransit: 0, drift: 0, reference: 0)
    /// The schedule planned for the next talkspurt when its first packet arrived.
    private var planned: Plan?
    private var drift = DriftEstimator()
    /// The late-loss rate over about the last 500 packets (exponentially weighted), and the tail of the transit
    /// distribution the target leaves uncovered (1 − the percentile in use).
    private var recentLateRate = 0.0
    private var tail: Double

    /// The sender's clock against ours: an exponentially weighted least-squares line of transit against timestamp
    /// over about the last minute of packets (a clock property is stable; a short window would fit the jitter).
    /// The sums are kept relative to the newest timestamp and the first transit, so doubles keep their precision.
    struct DriftEstimator {
        static let forgetting = 1 - 1.0 / 3000
        private var weight = 0.0, sumX = 0.0, sumY = 0.0, sumXX = 0.0, sumXY = 0.0
        private var reference: Int64?
        private var transitOrigin: Int64 = 0

        mutating func add(timestamp: Int64, transit: Int64) {
            if reference == nil {
                reference = timestamp
                transitOrigin = transit
            }
            // Move the origin of x to this timestamp (x' = x − shift).
            let shift = Double(timestamp - reference!)
            if shift > 0 {
                sumXX += shift * (shift * weight - 2 * sumX)
                sumXY -= shift * sumY
                sumX -= shift * weight
                reference = timestamp
            }
            let x = Double(timestamp - reference!), y = Double(transit - transitOrigin)
            let f = Self.forgetting
            weight = weight * f + 1
            sumX = sumX * f + x
            sumY = sumY * f + y
            sumXX = sumXX * f + x * x
            sumXY = sumXY * f + x * y
        }

        /// Transit units per timestamp unit; 0 until the line is determined, that is until the timestamps spread
        /// over `minimumSpread` (a standard deviation, in clock units; a few seconds): over a shorter span, jitter
        /// looks like drift. More than 0.5 % is not drift but a path that changed.
        func slope(minimumSpread: Double) -> Double {
            let variance = sumXX - sumX * sumX / max(weight, 1)
            guard weight >= 50, variance > 0, variance / weight >= minimumSpread * minimumSpread else { return 0 }
            return min(0.005, max(-0.005, (sumXY - sumX * sumY / weight) / variance))
        }

        mutating func reset() { self = DriftEstimator() }
    }

    /// A playout schedule: a packet sent with the least transit the path allows arrives at
    /// `timestamp + baseTransit + drift · (timestamp − reference)` (clock units of the arrival time base, the drift
    /// of the sender's clock against ours removed by a least-squares line) and is played `target` later.
    struct Plan {
        var target: Int64
        var baseTransit: Double
        var drift: Double
        var reference: Int64
        /// Planned before enough packets were seen: the target is the initial delay, a guess.
        var provisional = false

        func due(_ timestamp: Int64) -> Int64 {
            timestamp + target + Int64((baseTransit + drift * Double(timestamp - reference)).rounded(.up))
        }

        /// The timestamp due at `units`: the inverse of `due`.
        func timestamp(dueAt units: Int64) -> Int64 {
            let base = Double(units - target) - baseTransit + drift * Double(reference)
            return Int64((base / (1 + drift)).rounded(.down))
        }
    }

    public init(configuration: Configuration) {
        precondition(configuration.capacity > 0 && configuration.capacity & (configuration.capacity - 1) == 0, "capacity must be a power of two")
        self.configuration = configuration
        valid = [Bool](repeating: false, count: configuration.capacity)
        sequences = [UInt16](repeating: 0, count: configuration.capacity)
        timestamps = [Int64](repeating: 0, count: configuration.capacity)
        lengths = [Int](repeating: 0, count: configuration.capacity)
        payloads = [UInt8](repeating: 0, count: configuration.capacity * configuration.maximumPayload)
        transits = [Int64](repeating: 0, count: configuration.history)
        transitStamps = [Int64](repeating: 0, count: configuration.history)
        scratch = [Double](repeating: 0, count: configuration.history)
        frameUnits = Int64(configuration.clockRate / 50)
        targetUnits = Self.units(configuration.initialDelay, configuration.clockRate)
        tail = 1 - configuration.percentile
        recentLateRate = configuration.lateLossGoal
    }

    /// Stores a packet. `payload` is copied.
    public mutating func insert(
        sequence: UInt16, timestamp: UInt32, ssrc: UInt32, marker: Bool, payload: UnsafeRawBufferPointer, arrival: MediaInstant
    ) -> InsertResult {
        guard payload.count <= configuration.maximumPayload else {
            statistics.tooLarge += 1
            return .tooLarge
        }
        var result = InsertResult.accepted
        if !started || self.ssrc != ssrc || isJump(sequence: sequence, timestamp: timestamp) {
            if started { statistics.restarts += 1; result = .restarted }
            // A new stream: the old one ended in its underrun, if it was in one.
            statistics.paused += statistics.underrun
            statistics.underrun = 0
            restart(ssrc: ssrc, sequence: sequence, timestamp: timestamp)
        }
        let extended = unwrap(timestamp)
        if statistics.underrun > 0 { resolveUnderrun(sequence: sequence, timestamp: extended) }
        let slot = Int(sequence) & (configuration.capacity - 1)
        if valid[slot] && sequences[slot] == sequence {
            statistics.duplicates += 1
            return .duplicate
        }
        // Every packet's transit counts, late ones above all: leaving them out would hide the tail the target
        // must cover.
        recordTransit(arrival: arrival, timestamp: extended)
        if playing, Int16(bitPattern: sequence &- playoutSequence) < 0 {
            statistics.received += 1
            statistics.late += 1
            recentLateRate += (1 - recentLateRate) / 500
            return .late
        }
        recentLateRate -= recentLateRate / 500
        if valid[slot] {
            // The ring wrapped over an unplayed packet far behind: it is lost to us now.
            valid[slot] = false
        }
        statistics.received += 1
        valid[slot] = true
        sequences[slot] = sequence
        timestamps[slot] = extended
        lengths[slot] = payload.count
        payloads.withUnsafeMutableBytes { storage in
            storage.baseAddress!.advanced(by: slot * configuration.maximumPayload).copyMemory(from: payload.baseAddress!, byteCount: payload.count)
        }
        let step = sequence &- highestSequence
        if step > 0 && step < 0x8000 {
            let units = (extended - timestamps[Int(highestSequence) & (configuration.capacity - 1)]) / Int64(step)
            let previous = Int(highestSequence) & (configuration.capacity - 1)
            if valid[previous], lengths[previous] != Self.eventLength, units > 0, units <= Int64(configuration.clockRate) / 8 { frameUnits = units }
            highestSequence = sequence
        }
        if marker || (!playing && idleTicks > 0) { needsAnchor = true }
        if needsAnchor && !playing && planned == nil {
            // Once per talkspurt: steer the percentile by the late loss measured (a square-root step, within
            // 0.97...0.999), then plan.
            let ratio = configuration.lateLossGoal / max(recentLateRate, configuration.lateLossGoal / 4)
            tail = min(0.03, max(0.001, tail * ratio.squareRoot()))
            planned = plan()
        }
        return result
    }

    /// An RFC 4733 telephone-event packet of the stream (it shares the audio's SSRC and sequence numbers, RFC 4733
    /// §2.1): its number is not audio that went missing. During an underrun that waited for this number, the
    /// underrun now waits for the next one (so the audio after the digit resolves it as a pause, not loss); ahead of
    /// the playout point, the playout passes it by.
    public mutating func insertEvent(sequence: UInt16, ssrc: UInt32) {
        guard started, self.ssrc == ssrc else { return }
        if Int16(bitPattern: sequence &- highestSequence) > 0 { highestSequence = sequence }
        if statistics.underrun > 0, sequence == underrunSequence {
            underrunSequence &+= 1
            return
        }
        guard !playing || Int16(bitPattern: sequence &- playoutSequence) >= 0 else { return }
        // Held in the ring as a slot without audio (length -1), which the playout passes by.
        let slot = Int(sequence) & (configuration.capacity - 1)
        guard !(valid[slot] && sequences[slot] == sequence) else { return }
        valid[slot] = true
        sequences[slot] = sequence
        lengths[slot] = Self.eventLength
        timestamps[slot] = playoutTimestamp
    }

    /// The length of a ring slot that holds a telephone-event packet's number, not audio.
    private static let eventLength = -1

    /// When the next frame is due: while playing, the instant of the next timestamp on the talkspurt's schedule;
    /// before a talkspurt, the instant its earliest packet is due; nil when nothing waits.
    public var nextPlayout: MediaInstant? {
        if playing { return Self.instant(units: schedule.due(playoutTimestamp), configuration.clockRate) }
        guard needsAnchor, let first = earliestPending(), let planned else { return nil }
        return Self.instant(units: planned.due(timestamps[first]), configuration.clockRate)
    }

    /// The payload of a `.packet` playout.
    public func payload<R>(of playout: Playout, _ body: (UnsafeRawBufferPointer) -> R) -> R? {
        guard case .packet(_, _, let slot) = playout else { return nil }
        return payloads.withUnsafeBytes { storage in
            body(UnsafeRawBufferPointer(rebasing: storage[(slot * configuration.maximumPayload)..<(slot * configuration.maximumPayload + lengths[slot])]))
        }
    }

    /// What to play now (one tick). Call it at the stream's frame rate.
    public mutating func pull(now: MediaInstant) -> Playout {
        guard started else { return .silence }
        if needsAnchor && !playing, let first = earliestPending() {
            anchor(at: now, firstSlot: first)
        }
        guard playing else {
            idleTicks += 1
            return .silence
        }
        let slot = Int(playoutSequence) & (configuration.capacity - 1)
        if valid[slot] && sequences[slot] == playoutSequence && lengths[slot] == Self.eventLength {
            // A telephone-event packet took this number: no audio was sent for it, none is missing.
            valid[slot] = false
            playoutSequence &+= 1
            return pull(now: now)
        }
        if valid[slot] && sequences[slot] == playoutSequence {
            if timestamps[slot] > playoutTimestamp {
                // A gap in timestamps (silence suppressed by the sender): wait for its turn.
                playoutTimestamp += frameUnits
                return .silence
            }
            // Far behind a fast sender: drop this frame to come back to the target.
            if pendingUnits() > targetUnits + 3 * frameUnits + Self.units(configuration.maximumDelay, configuration.clockRate) / 2 {
                valid[slot] = false
                statistics.dropped += 1
                playoutSequence &+= 1
                playoutTimestamp = timestamps[slot] + frameUnits
                return pull(now: now)
            }
            valid[slot] = false
            statistics.played += 1
            let playout = Playout.packet(sequence: playoutSequence, timestamp: UInt32(truncatingIfNeeded: timestamps[slot]), slot: slot)
            playoutTimestamp = timestamps[slot] + frameUnits
            playoutSequence &+= 1
            idleTicks = 0
            return playout
        }
        if let first = earliestPending() {
            // The next packet is missing while later ones are here. Before its turn (its timestamp, inferred from
            // the later packet, is still ahead), wait; at its turn it is lost, or late if it still comes.
            let expected = timestamps[first] - Int64(sequences[first] &- playoutSequence) * frameUnits
            if expected > playoutTimestamp {
                playoutTimestamp += frameUnits
                return .silence
            }
            if let stretched = stretchProvisionalSchedule() { return stretched }
            statistics.concealed += 1
            let timestamp = UInt32(truncatingIfNeeded: playoutTimestamp)
            playoutSequence &+= 1
            playoutTimestamp += frameUnits
            return .conceal(timestamp: timestamp)
        }
        // Nothing buffered: an underrun (packets delayed up to the maximum delay) or the end of a talkspurt (DTX).
        // Conceal while a delayed packet could still come, then fall silent and re-anchor when packets return.
        idleTicks += 1
        if let stretched = stretchProvisionalSchedule() { return stretched }
        if Int64(idleTicks) * frameUnits <= Self.units(configuration.maximumDelay, configuration.clockRate) + frameUnits {
            statistics.concealed += 1
            if statistics.underrun == 0 {
                underrunSequence = playoutSequence
                underrunTimestamp = playoutTimestamp
            }
            statistics.underrun += 1
            let timestamp = UInt32(truncatingIfNeeded: playoutTimestamp)
            playoutSequence &+= 1
            playoutTimestamp += frameUnits
            return .conceal(timestamp: timestamp)
        }
        playing = false
        needsAnchor = true
        return .silence
    }

    // MARK: Private

    /// The first packet after an underrun tells what its concealed ticks were: with none missing in between
    /// (`sequence` is the one the underrun waited for), ticks before the packet's timestamp were a pause in the
    /// sender's stream (DTX, its VAD); ticks its audio should have filled were a late packet, as was any tick with a
    /// packet missing. A pause gives back the sequence numbers its ticks took, so that the packet is not "late" but
    /// plays at its timestamp: a short pause (under the maximum delay) would otherwise drop the start of the next
    /// talkspurt as late, packet after packet.
    private mutating func resolveUnderrun(sequence: UInt16, timestamp: Int64) {
        defer { statistics.underrun = 0 }
        guard sequence == underrunSequence, frameUnits > 0 else { return }
        if playing, timestamp >= playoutTimestamp {
            statistics.paused += statistics.underrun
            playoutSequence = sequence
            return
        }
        statistics.paused += Int(max(0, min(Int64(statistics.underrun), (timestamp - underrunTimestamp) / frameUnits)))
    }

    /// The first talkspurt runs on a guess (the initial delay): when the path proves worse than the guess, stretch
    /// by one frame, concealing without moving the playout point, so that the delayed packet still plays. Later
    /// talkspurts keep their schedule: stretching on every loss would pay a frame of delay for each.
    private mutating func stretchProvisionalSchedule() -> Playout? {
        guard schedule.provisional, let fresh = plan(), fresh.target > schedule.target else { return nil }
        schedule.target += frameUnits
        targetUnits = schedule.target
        statistics.concealed += 1
        statistics.stretched += 1
        return .conceal(timestamp: UInt32(truncatingIfNeeded: playoutTimestamp))
    }

    static func units(_ duration: Duration, _ clockRate: Int) -> Int64 {
        duration.nanosecondsClamped * Int64(clockRate) / 1_000_000_000
    }

    /// An instant in clock units of the arrival time base (`arrivalUnits`), back to nanoseconds (rounded up, so a
    /// timer set for it never fires before the frame is due).
    static func instant(units: Int64, _ clockRate: Int) -> MediaInstant {
        let nanoseconds = max(0, units) * 1_000_000_000
        return MediaInstant(nanoseconds: UInt64((nanoseconds + Int64(clockRate) - 1) / Int64(clockRate)))
    }

    /// An arrival instant in clock units, to the unit (a flooring of nanoseconds · rate).
    static func arrivalUnits(_ instant: MediaInstant, _ clockRate: Int) -> Int64 {
        Int64(instant.nanoseconds / 1000) * Int64(clockRate) / 1_000_000
    }

    private mutating func restart(ssrc: UInt32, sequence: UInt16, timestamp: UInt32) {
        for index in valid.indices { valid[index] = false }
        self.ssrc = ssrc
        started = true
        playing = false
        needsAnchor = true
        idleTicks = 0
        lastTimestamp = timestamp
        timestampCycles = 0
        highestSequence = sequence
        transitCount = 0
        transitNext = 0
        planned = nil
        drift.reset()
    }

    private func isJump(sequence: UInt16, timestamp: UInt32) -> Bool {
        let sequenceStep = Int16(bitPattern: sequence &- highestSequence)
        let timestampStep = Int64(Int32(bitPattern: timestamp &- lastTimestamp))
        return abs(Int(sequenceStep)) > 1000 || abs(timestampStep) > Int64(configuration.clockRate) * 60
    }

    private mutating func unwrap(_ timestamp: UInt32) -> Int64 {
        if timestamp < lastTimestamp && lastTimestamp - timestamp > 0x8000_0000 {
            timestampCycles += 1 << 32
        } else if timestamp > lastTimestamp && timestamp - lastTimestamp > 0x8000_0000 {
            return timestampCycles - (1 << 32) + Int64(timestamp)  // a late packet from before the wrap
        }
        lastTimestamp = timestamp
        return timestampCycles + Int64(timestamp)
    }

    private mutating func recordTransit(arrival: MediaInstant, timestamp: Int64) {
        transits[transitNext] = Self.arrivalUnits(arrival, configuration.clockRate) - timestamp
        transitStamps[transitNext] = timestamp
        drift.add(timestamp: timestamp, transit: transits[transitNext])
        transitNext = (transitNext + 1) % transits.count
        transitCount = min(transitCount + 1, transits.count)
    }

    /// The slot of the lowest pending sequence number, if any packet waits.
    private func earliestPending() -> Int? {
        var best: Int?
        for slot in valid.indices where valid[slot] && lengths[slot] != Self.eventLength {
            if let current = best {
                if Int16(bitPattern: sequences[slot] &- sequences[current]) < 0 { best = slot }
            } else {
                best = slot
            }
        }
        return best
    }

    /// Timestamp units buffered ahead of the playout point.
    private func pendingUnits() -> Int64 {
        var newest = playoutTimestamp
        for slot in valid.indices where valid[slot] && lengths[slot] != Self.eventLength { newest = max(newest, timestamps[slot]) }
        return newest - playoutTimestamp
    }

    /// The schedule from the delay distribution of the window: the sender's clock drift (`DriftEstimator`) is
    /// removed, and the target covers `percentile` of what varies around it. The initial
    /// delay, without drift, until five packets have been seen.
    private mutating func plan() -> Plan? {
        guard transitCount > 0 else { return nil }
        let reference = transitStamps[(transitNext + transits.count - 1) % transits.count]
        let drift = transitCount >= 5 ? self.drift.slope(minimumSpread: Double(configuration.clockRate) * 4) : 0
        for index in 0..<transitCount {
            scratch[index] = Double(transits[index]) - drift * Double(transitStamps[index] - reference)
        }
        scratch[0..<transitCount].sort()
        let baseTransit = scratch[0]
        guard transitCount >= 5 else {
            return Plan(
                target: Self.units(configuration.initialDelay, configuration.clockRate), baseTransit: baseTransit, drift: 0, reference: reference,
                provisional: true
            )
        }
        // The percentile, interpolated between the two ranks around it.
        let position = (1 - tail) * Double(transitCount - 1)
        let lower = min(transitCount - 1, Int(position.rounded(.down))), upper = min(transitCount - 1, lower + 1)
        let quantile = scratch[lower] + (scratch[upper] - scratch[lower]) * (position - Double(lower))
        let variation = Int64((quantile - baseTransit).rounded(.up))
        let low = Self.units(configuration.minimumDelay, configuration.clockRate)
        let high = Self.units(configuration.maximumDelay, configuration.clockRate)
        return Plan(target: min(high, max(low, variation)), baseTransit: baseTransit, drift: drift, reference: reference)
    }

    /// Starts a talkspurt on the schedule planned when its first packet arrived: the playout point is the timestamp
    /// that is due now, and later frames follow the schedule (drift included).
    private mutating func anchor(at now: MediaInstant, firstSlot: Int) {
        let nowUnits = Self.arrivalUnits(now, configuration.clockRate)
        guard var plan = planned ?? plan() else { return }
        targetUnits = plan.target
        let due = plan.timestamp(dueAt: nowUnits)
        playoutTimestamp = min(due, timestamps[firstSlot])
        if due < timestamps[firstSlot] - targetUnits - 4 * frameUnits { playoutTimestamp = timestamps[firstSlot] - targetUnits }
        // The schedule starts now with the playout point: shift it so that the playout point is due now.
        plan.baseTransit += Double(nowUnits - plan.due(playoutTimestamp))
        schedule = plan
        planned = nil
        statistics.targetDelayMilliseconds = Double(targetUnits) * 1000 / Double(configuration.clockRate)
        playoutSequence = sequences[firstSlot]
        playing = true
        needsAnchor = false
        idleTicks = 0
    }
}
