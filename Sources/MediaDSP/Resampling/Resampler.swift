import AnswerNinjaCore
import CSpeexDSP

/// Sample-rate conversion between the rates of the media engine (8, 16, 48 kHz and espeak-ng's 22,050 Hz), on
/// libspeexdsp's windowed-sinc resampler. The one owner of its `SpeexResamplerState` (CONVENTIONS.md §12); not
/// Sendable: a call's resampler lives on that call's event loop.
///
/// Streaming: each `process` call continues the signal of the previous one; the filter delay
/// (`inputLatency` input samples) is not trimmed, so the output is that much late.
public final class Resampler {
    /// Quality 0...10; 5 is speexdsp's "VoIP" setting. The passband ripple and stopband rejection measured at the
    /// qualities we use are in docs/media.md.
    public static let defaultQuality: Int32 = 5

    public let inputRate: AudioSampleRate
    public let outputRate: AudioSampleRate
    private let state: OpaquePointer

    public init(from inputRate: AudioSampleRate, to outputRate: AudioSampleRate, quality: Int32 = Resampler.defaultQuality) throws(MediaDSPError) {
        var status: Int32 = 0
        guard let state = speex_resampler_init(1, UInt32(inputRate.hertz), UInt32(outputRate.hertz), quality, &status), status == 0 else {
            throw MediaDSPError(code: .init("resampler_init"), message: "resampler \(inputRate) → \(outputRate): \(String(cString: speex_resampler_strerror(status)))")
        }
        self.state = state
        self.inputRate = inputRate
        self.outputRate = outputRate
    }

    deinit {
        speex_resampler_destroy(state)
    }

    /// The filter's delay in input samples.
    public var inputLatency: Int { Int(speex_resampler_get_input_latency(state)) }

    /// Output samples produced for `count` input samples (at most; rounding may give one fewer).
    public func maximumOutput(for count: Int) -> Int {
        count * outputRate.hertz / inputRate.hertz + 2
    }

    /// Converts `input`, appending to `output` (whose capacity is reused).
    public func process(_ input: [Int16], into output: inout [Int16]) throws(MediaDSPError) {
        let start = output.count
        let capacity = maximumOutput(for: input.count)
        output.append(contentsOf: repeatElement(0, count: capacity))
        var consumedTotal = 0
        var producedTotal = 0
        var status: Int32 = 0
        input.withUnsafeBufferPointer { source in
            output.withUnsafeMutableBufferPointer { destination in
                while consumedTotal < source.count && producedTotal < capacity {
                    var consumed = UInt32(source.count - consumedTotal)
                    var produced = UInt32(capacity - producedTotal)
                    status = speex_resampler_process_int(
                        state, 0, source.baseAddress! + consumedTotal, &consumed, destination.baseAddress! + start + producedTotal, &produced
                    )
                    if status != 0 || (consumed == 0 && produced == 0) { break }
                    consumedTotal += Int(consumed)
                    producedTotal += Int(produced)
                }
            }
        }
        output.removeLast(capacity - producedTotal)
        guard status == 0 else {
            throw MediaDSPError(code: .init("resample"), message: String(cString: speex_resampler_strerror(status)))
        }
    }

    /// Forgets the signal history (a new stream).
    public func reset() {
        speex_resampler_reset_mem(state)
    }
}
