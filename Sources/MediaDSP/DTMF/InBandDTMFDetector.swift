#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Detects DTMF keys in 8 kHz audio (trunks that send in-band tones instead of RFC 4733), to ITU-T Q.24's
/// acceptance rules as North American equipment applies them:
/// - frequency: within ±1.5 % accepted, beyond ±3.5 % rejected (each tone is compared with Goertzel filters at
///   its nominal frequency and at ±3.5 %: the nominal one must be the strongest);
/// - twist: the high-group tone may be up to 8 dB above the low-group one ("normal"), 4 dB below ("reverse");
/// - duration: 40 ms accepted, under about 25 ms rejected; an interruption of 10 ms is bridged (up to two
///   10 ms hops without the key), a pause of 40 ms separates two presses;
/// - talk-off: both tones must carry nearly all the window's energy, and the strongest tone of each group must
///   stand clear of the others, which speech and music do not do.
///
/// A state machine without I/O: feed samples, get keys with their start and end in samples.
public struct InBandDTMFDetector: Sendable {
    public struct Key: Sendable, Equatable {
        public var digit: Character
        /// Sample offsets from the start of the stream.
        public var start: Int
        public var end: Int
        public var durationMilliseconds: Int { (end - start) / 8 }
    }

    public static let sampleRate = 8000
    /// Analysis window: 20 ms, hop 10 ms (bins of 50 Hz, enough to tell 697 from 770 Hz).
    static let window = 160
    static let hop = 80
    static let low: [Double] = [697, 770, 852, 941]
    static let high: [Double] = [1209, 1336, 1477, 1633]
    static let keys: [[Character]] = [["1", "2", "3", "A"], ["4", "5", "6", "B"], ["7", "8", "9", "C"], ["*", "0", "#", "D"]]
    /// Minimum power of each tone (fraction of full scale squared): about −35 dBm0.
    static let minimumTonePower = pow(10, -42.0 / 10)
    static let maximumNormalTwist = 8.0
    static let maximumReverseTwist = 4.0
    /// The two tones must hold this fraction of the window's energy. Not higher: a tone 1.5 % off its nominal
    /// frequency loses up to 2.4 dB in a 20 ms Goertzel filter, so an accepted key can measure as low as 0.7.
    static let minimumToneFraction = 0.6
    /// The strongest tone of a group must exceed the next by this much (dB).
    static let minimumGroupSeparation = 8.0
    /// Consecutive windows must agree in level within this (dB): a window half filled by a short burst does not.
    static let maximumLevelStep = 2.0

    private var buffer: [Int16] = []
    private var consumed = 0
    private var candidate: (digit: Character, start: Int, level: Double, windows: Int)?
    private var active: (digit: Character, start: Int, lastSeen: Int, misses: Int)?

    public init() {}

    /// Feeds 8 kHz samples; returns the keys that ended in them.
    public mutating func process(_ samples: some Collection<Int16>) -> [Key] {
        buffer.append(contentsOf: samples)
        var keys: [Key] = []
        var offset = 0
        while buffer.count - offset >= Self.window {
            let start = consumed + offset
            let detection = Self.analyse(buffer[offset..<(offset + Self.window)])
            keys += step(detection, windowStart: start)
            offset += Self.hop
        }
        buffer.removeFirst(offset)
        consumed += offset
        return keys
    }

    /// Ends a key still sounding at the end of the stream.
    public mutating func flush() -> [Key] {
        guard let current = active else { return [] }
        active = nil
        return [Key(digit: current.digit, start: current.start, end: current.lastSeen + Self.window)]
    }

    private mutating func step(_ detection: (digit: Character, level: Double)?, windowStart: Int) -> [Key] {
        var ended: [Key] = []
        if var current = active {
            if detection?.digit == current.digit {
                current.lastSeen = windowStart
                current.misses = 0
                active = current
                return []
            }
            current.misses += 1
            if current.misses <= 2 && detection == nil {
                active = current  // bridge a short interruption
                return []
            }
            ended.append(Key(digit: current.digit, start: current.start, end: current.lastSeen + Self.window))
            active = nil
        }
        guard let detection else {
            candidate = nil
            return ended
        }
        if var pending = candidate, pending.digit == detection.digit, abs(pending.level - detection.level) <= Self.maximumLevelStep {
            pending.windows += 1
            candidate = pending
            if pending.windows >= 2 {
                active = (pending.digit, pending.start, windowStart, 0)
                candidate = nil
            }
        } else {
            candidate = (detection.digit, windowStart, detection.level, 1)
        }
        return ended
    }

    /// The key in one window, if its two tones pass every check; with their combined level in dB.
    static func analyse(_ samples: ArraySlice<Int16>) -> (digit: Character, level: Double)? {
        let scale = 1.0 / 32768.0
        var energy = 0.0
        for sample in samples { energy += Double(sample) * scale * Double(sample) * scale }
        let n = Double(samples.count)
        guard energy / n > minimumTonePower else { return nil }
        func power(_ frequency: Double) -> Double {
            // Goertzel: |X(f)|² normalised so that a sine of amplitude a gives a²/2 (its mean power).
            let coefficient = 2 * cos(2 * .pi * frequency / Double(sampleRate))
            var s1 = 0.0, s2 = 0.0
            for sample in samples {
                let s0 = Double(sample) * scale + coefficient * s1 - s2
                s2 = s1
                s1 = s0
            }
            let magnitude = s1 * s1 + s2 * s2 - coefficient * s1 * s2
            return 2 * magnitude / (n * n)
        }
        func strongest(_ group: [Double]) -> (index: Int, power: Double, separation: Double)? {
            let powers = group.map(power)
            let sorted = powers.enumerated().sorted { $0.element > $1.element }
            let best = sorted[0]
            guard best.element > minimumTonePower else { return nil }
            // Frequency tolerance: the nominal filter must beat the ones at ±3.5 %.
            let frequency = group[best.offset]
            guard best.element > power(frequency * 1.035), best.element > power(frequency * 0.965) else { return nil }
            return (best.offset, best.element, 10 * log10(best.element / max(sorted[1].element, 1e-15)))
        }
        guard let row = strongest(low), let column = strongest(high) else { return nil }
        guard row.separation >= minimumGroupSeparation, column.separation >= minimumGroupSeparation else { return nil }
        let twist = 10 * log10(column.power / row.power)
        guard twist <= maximumNormalTwist, -twist <= maximumReverseTwist else { return nil }
        guard (row.power + column.power) / (energy / n) >= minimumToneFraction else { return nil }
        return (keys[row.index][column.index], 10 * log10(row.power + column.power))
    }
}
