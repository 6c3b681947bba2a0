#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Speech probability per 10 ms frame of 8 kHz audio, cheap enough for every call (a few arithmetic operations
/// per sample). Per frame: a 150 Hz high-pass (mains hum and DC out); the energy against a noise floor tracked by
/// minimum statistics; the zero-crossing rate; a 4th-order linear predictor (its prediction gain: one or two steady
/// tones — DTMF, dial and busy tones, hum — are predictable to 30 dB and more, speech to 10-20 dB; and the first two
/// normalised autocorrelations, the spectral tilt); and over the last 200 ms, how the level and the spectral shape
/// move (speech changes every syllable; music on hold, tones and line noise hold still). A small neural network
/// (`VADModel`, trained on the project's labelled set by tools/vad/train.py, docs/media.md) turns these 14 features
/// into a probability, and a state machine smooths the decisions with onset and hangover.
///
/// A state machine without I/O that allocates nothing per frame: `process` 80-sample frames (16 kHz callers
/// decimate first, or use `processWideband`).
public struct VoiceActivityDetector: Sendable {
    public struct Frame: Sendable, Equatable {
        /// Probability that the frame is speech, 0...1.
        public var probability: Double
        /// The smoothed decision (with onset and hangover).
        public var speech: Bool
        public var energyDB: Double
        public var noiseFloorDB: Double
    }

    public static let frameLength = 80
    /// Frames above threshold before speech starts (20 ms).
    public var onsetFrames = 2
    /// Frames below threshold before speech ends (hangover, 30 ms; tuned on the train split with the model).
    public var hangoverFrames = 3
    public var threshold = 0.5

    // High-pass biquad (150 Hz, Q 0.707, at 8 kHz) state.
    private var x1 = 0.0, x2 = 0.0, y1 = 0.0, y2 = 0.0
    private var noiseFloor = 30.0
    private var framesSeen = 0
    private var above = 0
    private var below = 0
    private var speaking = false
    /// The high-passed frame, reused from frame to frame.
    private var filtered: [Double] = []
    // Decimation state for 16 kHz input.
    private var previousWideSample = 0.0
    private var context = FeatureContext()
    /// The features of the last frame (`VADModel.featureCount` of them), for quality harnesses and training.
    public private(set) var features = [Double](repeating: 0, count: VADModel.featureCount)
    private var hidden = [Double](repeating: 0, count: VADModel.hiddenCount)

    public init() {}

    public mutating func process(_ samples: ArraySlice<Int16>) -> Frame {
        // Biquad coefficients (RBJ cookbook high-pass, f0 = 150 Hz, fs = 8000, Q = 0.7071).
        let b0 = 0.920_066, b1 = -1.840_132, b2 = 0.920_066, a1 = -1.833_733, a2 = 0.846_532
        var energy = 0.0
        var crossings = 0
        var previous = y1
        if filtered.count != samples.count { filtered = [Double](repeating: 0, count: samples.count) }
        var position = 0
        for sample in samples {
            let x = Double(sample)
            let y = b0 * x + b1 * x1 + b2 * x2 - a1 * y1 - a2 * y2
            x2 = x1
            x1 = x
            y2 = y1
            y1 = y
            energy += y * y
            if (y >= 0) != (previous >= 0) { crossings += 1 }
            previous = y
            filtered[position] = y
            position += 1
        }
        let prediction = Self.linearPrediction(filtered)

        let count = Double(max(1, samples.count))
        let energyDB = 10 * log10(energy / count + 1)
        let zeroCrossingRate = Double(crossings) / count
        framesSeen += 1
        // Minimum statistics: the floor starts at the first frame, drops at once to quieter frames and creeps up
        // slowly (0.1 dB per frame), so speech cannot raise it within an utterance but a louder line does within
        // a few seconds.
        if framesSeen == 1 || energyDB < noiseFloor {
            noiseFloor = energyDB
        } else {
            noiseFloor += 0.1
        }
        noiseFloor = max(noiseFloor, 20)  // below about −70 dBFS everything is silence
        let snr = energyDB - noiseFloor
        context.update(
            snr: snr, energyDB: energyDB, zeroCrossingRate: zeroCrossingRate, gain: prediction.gain, r1: prediction.r1, r2: prediction.r2,
            into: &features
        )
        var probability = VADModel.evaluate(features, hidden: &hidden)
        // A steady tone is never speech, however loud: it vetoes the frame.
        if prediction.gain > 30 { probability = 0 }
        if probability >= threshold {
            above += 1
            below = 0
            if !speaking && above >= onsetFrames { speaking = true }
        } else {
            below += 1
            above = 0
            if speaking && below >= hangoverFrames { speaking = false }
        }
        return Frame(probability: probability, speech: speaking, energyDB: energyDB, noiseFloorDB: noiseFloor)
    }

    /// The 4th-order linear prediction gain (`predictionGain`) and the first two normalised autocorrelations of
    /// the frame (its spectral tilt: near 1 for low, voiced sounds, near 0 or below for hiss and fricatives).
    static func linearPrediction(_ x: [Double]) -> (gain: Double, r1: Double, r2: Double) {
        var lag0 = 0.0, lag1 = 0.0, lag2 = 0.0
        for index in x.indices {
            lag0 += x[index] * x[index]
            if index >= 1 { lag1 += x[index] * x[index - 1] }
            if index >= 2 { lag2 += x[index] * x[index - 2] }
        }
        guard lag0 > 0 else { return (0, 0, 0) }
        return (predictionGain(x), lag1 / lag0, lag2 / lag0)
    }

    /// 10·log10(signal / residual) of a 4th-order linear predictor fitted by the covariance method (no window,
    /// so steady tones are predicted almost exactly, which the autocorrelation method on a 10 ms frame does not).
    /// No heap allocation: the 5×5 covariance matrix and the 4×5 system live on the stack.
    public static func predictionGain(_ x: [Double]) -> Double {
        let order = 4
        let count = x.count
        guard count > 2 * order else { return 0 }
        return withUnsafeTemporaryAllocation(of: Double.self, capacity: 25 + 20 + 4) { storage in
            let phi = UnsafeMutableBufferPointer(rebasing: storage[0..<25])  // phi[i*5+k] = Σ x[n-i]·x[n-k], n in order..<count
            let m = UnsafeMutableBufferPointer(rebasing: storage[25..<45])   // the 4×5 augmented system
            let a = UnsafeMutableBufferPointer(rebasing: storage[45..<49])
            for k in 0...order {
                var sum = 0.0
                for n in order..<count { sum += x[n] * x[n - k] }
                phi[k] = sum
                phi[k * 5] = sum
            }
            // phi[i][k] = phi[i-1][k-1] + x[order−i]·x[order−k] − x[count−i]·x[count−k]
            for i in 1...order {
                for k in i...order {
                    let value = phi[(i - 1) * 5 + (k - 1)] + x[order - i] * x[order - k] - x[count - i] * x[count - k]
                    phi[i * 5 + k] = value
                    phi[k * 5 + i] = value
                }
            }
            let signal = phi[0]
            guard signal > Double(count) else { return 0 }
            for row in 0..<order {
                for column in 0..<order { m[row * 5 + column] = phi[(row + 1) * 5 + column + 1] }
                m[row * 5 + order] = phi[(row + 1) * 5]
            }
            // Gaussian elimination with partial pivoting.
            for column in 0..<order {
                var pivot = column
                for row in (column + 1)..<order where abs(m[row * 5 + column]) > abs(m[pivot * 5 + column]) { pivot = row }
                if pivot != column {
                    for entry in 0...order { m.swapAt(column * 5 + entry, pivot * 5 + entry) }
                }
                let diagonal = m[column * 5 + column]
                guard abs(diagonal) > signal * 1e-12 else { return 0 }
                for row in (column + 1)..<order {
                    let factor = m[row * 5 + column] / diagonal
                    for entry in column...order { m[row * 5 + entry] -= factor * m[column * 5 + entry] }
                }
            }
            for row in stride(from: order - 1, through: 0, by: -1) {
                var value = m[row * 5 + order]
                for column in (row + 1)..<order { value -= m[row * 5 + column] * a[column] }
                a[row] = value / m[row * 5 + row]
            }
            var residual = signal
            for k in 0..<order { residual -= a[k] * phi[k + 1] }
            guard residual > signal * 1e-9 else { return 90 }
            return 10 * log10(signal / residual)
        }
    }

    /// 16 kHz input: averages sample pairs (a two-tap low-pass, enough for these features) and processes the 8 kHz
    /// result. `samples` must hold 160 samples (10 ms).
    public mutating func processWideband(_ samples: ArraySlice<Int16>) -> Frame {
        var narrow = [Int16](repeating: 0, count: samples.count / 2)
        var index = samples.startIndex
        for output in narrow.indices {
            let a = Double(samples[index]), b = Double(samples[index + 1])
            narrow[output] = Int16(clamping: Int((previousWideSample + 2 * a + b) / 4))
            previousWideSample = b
            index += 2
        }
        return process(narrow[...])
    }
}

/// The 14 inputs of `VADModel` for one frame, from it, the 20 frames before it (200 ms) and slow averages over
/// about half a second, with running sums so that nothing is recomputed or allocated.
struct FeatureContext: Sendable {
    static let window = 20
    private var levels = [Double](repeating: 0, count: window)
    private var flux = [Double](repeating: 0, count: window)
    private var tonal = [Double](repeating: 0, count: window)
    private var snrs = [Double](repeating: 0, count: window)
    private var next = 0
    private var filled = 0
    private var sumLevel = 0.0, sumLevelSquared = 0.0, sumFlux = 0.0, sumTonal = 0.0, sumSNR = 0.0
    private var lastR1 = 0.0, lastR2 = 0.0, lastLevel = 0.0
    /// Slow averages (about the last half second): spectral change, tonality and level change. Music on hold
    /// changes notes, but its spectrum and level move less often than speech's.
    private var slowFlux = 0.0, slowTonal = 0.0, slowLevelChange = 0.0
    static let slow = 0.03

    mutating func update(snr: Double, energyDB: Double, zeroCrossingRate: Double, gain: Double, r1: Double, r2: Double, into features: inout [Double]) {
        let clippedSNR = min(max(snr, -10), 40)
        let change = abs(r1 - lastR1) + abs(r2 - lastR2)
        lastR1 = r1
        lastR2 = r2
        let isTonal = gain > 20 ? 1.0 : 0.0
        if filled == Self.window {
            sumLevel -= levels[next]
            sumLevelSquared -= levels[next] * levels[next]
            sumFlux -= flux[next]
            sumTonal -= tonal[next]
            sumSNR -= snrs[next]
        } else {
            filled += 1
        }
        levels[next] = energyDB
        flux[next] = change
        tonal[next] = isTonal
        snrs[next] = clippedSNR
        sumLevel += energyDB
        sumLevelSquared += energyDB * energyDB
        sumFlux += change
        sumTonal += isTonal
        sumSNR += clippedSNR
        next = (next + 1) % Self.window
        let count = Double(filled)
        let mean = sumLevel / count
        let deviation = max(0, sumLevelSquared / count - mean * mean).squareRoot()
        features[0] = clippedSNR / 10
        features[1] = (min(max(energyDB, 30), 90) - 60) / 10
        features[2] = zeroCrossingRate * 4
        features[3] = min(max(gain, 0), 40) / 10
        features[4] = r1
        features[5] = r2
        features[6] = sumSNR / count / 10
        features[7] = min(deviation, 30) / 10
        features[8] = sumFlux / count
        features[9] = sumTonal / count
        features[10] = change
        let levelChange = filled > 1 ? min(abs(energyDB - lastLevel), 20) : 0
        lastLevel = energyDB
        slowFlux += Self.slow * (change - slowFlux)
        slowTonal += Self.slow * (isTonal - slowTonal)
        slowLevelChange += Self.slow * (levelChange - slowLevelChange)
        features[11] = slowFlux
        features[12] = slowTonal
        features[13] = slowLevelChange / 5
    }
}
