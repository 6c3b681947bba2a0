#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Speech probability per 10 ms frame of 8 kHz audio, cheap enough for every call (a few arithmetic operations
/// per sample): a 150 Hz high-pass (mains hum and DC out), frame energy against a noise floor tracked by minimum
/// statistics, the zero-crossing rate (fricatives and voiced speech sit in a band that line noise and most
/// tones do not), and the prediction gain of a 4th-order linear predictor (one or two steady tones — DTMF, dial
/// and busy tones, hum — are predictable to 30 dB and more, speech to 10-20 dB), combined by a logistic model,
/// then smoothed into speech and non-speech states with onset and hangover.
///
/// A state machine without I/O: `process` 80-sample frames (16 kHz callers decimate first, or use
/// `processWideband`).
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
    /// Frames below threshold before speech ends (hangover, 120 ms).
    public var hangoverFrames = 12
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
        let predictionGain = Self.predictionGain(filtered)

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
        // Speech has zero-crossing rates from about 0.05 (voiced) to 0.5 (fricatives); tones below 300 Hz and
        // hiss near Nyquist fall outside.
        let zcrScore = zeroCrossingRate > 0.03 && zeroCrossingRate < 0.6 ? 1.0 : -1.5
        let absolute = energyDB > 45 ? 0.5 : -1.0  // about −45 dBFS: quieter is not speech we can recognise
        // A steady tone is never speech, however loud: it vetoes the frame.
        let tonal = predictionGain > 30 ? -40.0 : 0
        let logit = 0.45 * (min(snr, 30) - 9) + zcrScore + absolute + tonal
        let probability = 1 / (1 + exp(-logit))
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
