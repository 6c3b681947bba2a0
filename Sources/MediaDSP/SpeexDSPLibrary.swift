import AnswerNinjaCore
import CSpeexDSP

/// Facts about the linked libspeexdsp, for `answer-ninja selftest`.
public enum SpeexDSPLibrary {
    /// Creates and frees an 8 → 16 kHz resampler (libspeexdsp has no version call): proves the library loads and
    /// works, and returns the ratio it chose.
    public static func probe() throws(MediaDSPError) -> String {
        var status: Int32 = 0
        guard let resampler = speex_resampler_init(1, 8000, 16000, 3, &status), status == 0 else {
            throw MediaDSPError(code: .init("resampler_init"), message: String(cString: speex_resampler_strerror(status)))
        }
        defer { speex_resampler_destroy(resampler) }
        var numerator: UInt32 = 0
        var denominator: UInt32 = 0
        speex_resampler_get_ratio(resampler, &numerator, &denominator)
        return "speexdsp resampler \(numerator)/\(denominator)"
    }
}
