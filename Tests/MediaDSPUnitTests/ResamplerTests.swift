import AnswerNinjaCore
import Foundation
import MediaDSP
import Testing

/// The resampler's frequency response, measured with pure tones: passband ripple (the spread of gains over the
/// band a telephone call carries) and stopband rejection (what is left of a tone the output rate cannot carry).
@Suite struct ResamplerTests {
    static func tone(_ frequency: Double, rate: Int, seconds: Double, amplitude: Double = 16000) -> [Int16] {
        (0..<Int(Double(rate) * seconds)).map { Int16(amplitude * sin(2 * .pi * frequency * Double($0) / Double(rate))) }
    }

    static func rms(_ samples: ArraySlice<Int16>) -> Double {
        sqrt(samples.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(max(1, samples.count)))
    }

    /// Gain in dB of a tone through `from → to`, measured on the middle of one second (transients excluded),
    /// fed in 20 ms blocks as a call would.
    static func gain(_ frequency: Double, from: AudioSampleRate, to: AudioSampleRate, quality: Int32 = Resampler.defaultQuality) throws -> Double {
        let resampler = try Resampler(from: from, to: to, quality: quality)
        let input = tone(frequency, rate: from.hertz, seconds: 1)
        var output: [Int16] = []
        let block = from.samples(in: .milliseconds(20))
        for start in stride(from: 0, to: input.count, by: block) {
            try resampler.process(Array(input[start..<min(start + block, input.count)]), into: &output)
        }
        let inputLevel = rms(input[input.count / 4..<input.count * 3 / 4])
        let outputLevel = rms(output[output.count / 4..<output.count * 3 / 4])
        return 20 * log10(max(outputLevel, 1e-9) / inputLevel)
    }

    @Test(arguments: [
        (AudioSampleRate.narrowband, AudioSampleRate.wideband), (.narrowband, .fullband), (.wideband, .narrowband),
        (.fullband, .narrowband), (.espeak, .narrowband), (.espeak, .fullband),
    ])
    func passbandRippleIsSmallAcrossTheTelephoneBand(from: AudioSampleRate, to: AudioSampleRate) throws {
        let gains = try stride(from: 200.0, through: 3400.0, by: 200.0).map { try Self.gain($0, from: from, to: to) }
        let ripple = gains.max()! - gains.min()!
        print(String(format: "resampler %@ → %@: passband ripple %.3f dB over 200-3400 Hz", from.description, to.description, ripple))
        #expect(ripple < 0.5, "\(from) → \(to): gains \(gains.map { String(format: "%.2f", $0) })")
        #expect(abs(gains.reduce(0, +) / Double(gains.count)) < 0.5, "unity gain in the passband")
    }

    @Test(arguments: [(AudioSampleRate.fullband, 5000.0), (.fullband, 8000.0), (.fullband, 15000.0), (.wideband, 5500.0), (.espeak, 6000.0)])
    func tonesAboveTheNewNyquistAreRejected(from: AudioSampleRate, frequency: Double) throws {
        let gain = try Self.gain(frequency, from: from, to: .narrowband)
        print(String(format: "resampler %@ → 8000 Hz: %.0f Hz at %.1f dB", from.description, frequency, gain))
        #expect(gain < -40, "\(frequency) Hz from \(from) to 8 kHz leaks at \(String(format: "%.1f", gain)) dB")
    }

    @Test func lengthsFollowTheRatioAndStreamsContinue() throws {
        let resampler = try Resampler(from: .narrowband, to: .fullband)
        var output: [Int16] = []
        for _ in 0..<50 { try resampler.process([Int16](repeating: 1000, count: 160), into: &output) }
        #expect(abs(output.count - 50 * 960) <= 2)
        #expect(resampler.inputLatency > 0)
        let upsampled = try Resampler(from: .espeak, to: .narrowband)
        var narrow: [Int16] = []
        try upsampled.process([Int16](repeating: 0, count: 22050), into: &narrow)
        #expect(abs(narrow.count - 8000) <= 2)
    }
}
