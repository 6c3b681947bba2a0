/// Packet-loss concealment for codecs without their own (G.711, L16), after ITU-T G.711 Appendix I: keep the last
/// 48.75 ms of decoded audio; on a loss, find the pitch period (5-15 ms) by autocorrelation and repeat it, joined
/// with a quarter-period overlap-add; after the first 10 ms of loss attenuate by 20 % per 10 ms, so that 60 ms
/// of loss ends in silence; when audio returns, cross-fade into it over 4 ms so there is no click.
///
/// A state machine without I/O, for 8 kHz mono; `process` every good frame and `conceal` every lost one. Both work
/// in the caller's buffer and the history is kept in place: nothing is allocated per frame.
public struct WaveformConcealer: Sendable {
    static let historyLength = 390
    static let minimumPeriod = 40
    static let maximumPeriod = 120
    /// Correlation window for the pitch search (20 ms).
    static let correlationLength = 160
    /// Samples of cross-fade into the first good frame after a loss (4 ms).
    static let fadeInLength = 32

    /// The history is `storage[(historyEnd − historyLength)..<historyEnd]`; frames are appended after it and the
    /// history moves back to the front only when the storage runs out (once every few frames, not every frame).
    private var storage = [Int16](repeating: 0, count: historyLength * 6)
    private var historyEnd = historyLength
    private var period = 0
    /// Position in the repeated period, and how many samples have been concealed in this loss.
    private var phase = 0
    private var concealedSamples = 0
    public init() {}

    /// Samples concealed in the current loss (0 when audio flows).
    public var lossLength: Int { concealedSamples }

    /// A good frame: left unchanged, or cross-faded from the concealment into it when it ends a loss.
    public mutating func process(_ frame: inout [Int16]) {
        if concealedSamples > 0 {
            let fade = min(Self.fadeInLength, frame.count)
            let gain = attenuation(at: concealedSamples)
            for index in 0..<fade {
                let synthetic = Double(nextSynthetic(advancing: true)) * gain
                let weight = Double(index + 1) / Double(fade + 1)
                frame[index] = Int16(clamping: Int((1 - weight) * synthetic + weight * Double(frame[index])))
            }
            concealedSamples = 0
        }
        remember(frame)
    }

    /// A lost frame: `output` is replaced by `count` samples synthesised from the history (its storage is reused).
    public mutating func conceal(count: Int, into output: inout [Int16]) {
        if concealedSamples == 0 {
            period = Self.pitchPeriod(storage, end: historyEnd)
            phase = 0
        }
        output.removeAll(keepingCapacity: true)
        for _ in 0..<count {
            let gain = attenuation(at: concealedSamples)
            output.append(Int16(clamping: Int(Double(nextSynthetic(advancing: true)) * gain)))
            concealedSamples += 1
        }
    }

    /// 1 for the first 10 ms, then −20 % per 10 ms: 0 from 60 ms on.
    func attenuation(at sample: Int) -> Double {
        let milliseconds = Double(sample) / 8
        guard milliseconds > 10 else { return 1 }
        return max(0, 1 - 0.2 * (milliseconds - 10) / 10)
    }

    /// The next sample of the repeated last pitch period. The first quarter of each repetition is blended with
    /// the same position one period earlier, which softens the splice where the period wraps.
    private mutating func nextSynthetic(advancing: Bool) -> Int16 {
        let start = historyEnd - period
        let overlap = period / 4
        var value = Double(storage[start + phase])
        if phase < overlap {
            let weight = Double(phase + 1) / Double(overlap + 1)
            value = weight * value + (1 - weight) * Double(storage[start - period + phase])
        }
        if advancing { phase = (phase + 1) % period }
        return Int16(clamping: Int(value))
    }

    /// Appends `frame` to the history, in place.
    private mutating func remember(_ frame: [Int16]) {
        let length = Self.historyLength
        storage.withUnsafeMutableBufferPointer { storage in
            if frame.count >= length {
                for index in 0..<length { storage[index] = frame[frame.count - length + index] }
                historyEnd = length
                return
            }
            if historyEnd + frame.count > storage.count {
                for index in 0..<length { storage[index] = storage[historyEnd - length + index] }
                historyEnd = length
            }
            for (offset, sample) in frame.enumerated() { storage[historyEnd + offset] = sample }
            historyEnd += frame.count
        }
    }

    /// The lag in 40...120 samples that maximises the normalised autocorrelation of the last 20 ms.
    static func pitchPeriod(_ history: [Int16], end: Int) -> Int {
        var bestLag = maximumPeriod
        var bestScore = -Double.infinity
        for lag in minimumPeriod...maximumPeriod {
            var cross = 0.0, energy = 0.0
            for index in (end - correlationLength)..<end {
                let a = Double(history[index]), b = Double(history[index - lag])
                cross += a * b
                energy += b * b
            }
            let score = energy > 0 ? cross / energy.squareRoot() : 0
            if score > bestScore {
                bestScore = score
                bestLag = lag
            }
        }
        return bestLag
    }
}
