import AnswerNinjaCore
import CSpeexDSP

/// Acoustic and line echo cancellation on libspeexdsp's MDF canceller: the far end (what we sent) is the reference,
/// and what came back is cleaned of its echo before the VAD, so that a trunk or a handset that reflects our own
/// audio does not make the assistant interrupt itself. With the preprocessor attached, the residual echo is
/// suppressed too. 8 kHz, 20 ms frames; the filter covers `tail` of echo path (delay plus reverberation).
///
/// The one owner of its `SpeexEchoState` and `SpeexPreprocessState` (CONVENTIONS.md §12); not Sendable: a call's
/// canceller lives with that call's listener.
public final class EchoCanceller {
    public static let frameSamples = 160
    /// Echo paths up to 200 ms: the delays of trunks (60-150 ms) and a little reverberation.
    public static let defaultTail = 1600

    private let echo: OpaquePointer
    private let preprocess: OpaquePointer
    private var output = [Int16](repeating: 0, count: EchoCanceller.frameSamples)

    public init(tail: Int = EchoCanceller.defaultTail, sampleRate: Int = 8000) throws(MediaDSPError) {
        guard let echo = speex_echo_state_init(Int32(Self.frameSamples), Int32(tail)) else {
            throw MediaDSPError(code: .init("echo_init"), message: "speex_echo_state_init refused a \(tail)-sample tail")
        }
        guard let preprocess = speex_preprocess_state_init(Int32(Self.frameSamples), Int32(sampleRate)) else {
            speex_echo_state_destroy(echo)
            throw MediaDSPError(code: .init("echo_init"), message: "speex_preprocess_state_init failed")
        }
        var rate = Int32(sampleRate)
        speex_echo_ctl(echo, SPEEX_ECHO_SET_SAMPLING_RATE, &rate)
        speex_preprocess_ctl(preprocess, SPEEX_PREPROCESS_SET_ECHO_STATE, UnsafeMutableRawPointer(echo))
        // Only echo suppression from the preprocessor: no denoising or gain control, which would change what the
        // VAD and the recogniser were tuned on.
        var off: Int32 = 0
        speex_preprocess_ctl(preprocess, SPEEX_PREPROCESS_SET_DENOISE, &off)
        speex_preprocess_ctl(preprocess, SPEEX_PREPROCESS_SET_AGC, &off)
        speex_preprocess_ctl(preprocess, SPEEX_PREPROCESS_SET_VAD, &off)
        speex_preprocess_ctl(preprocess, SPEEX_PREPROCESS_SET_DEREVERB, &off)
        self.echo = echo
        self.preprocess = preprocess
    }

    deinit {
        speex_preprocess_state_destroy(preprocess)
        speex_echo_state_destroy(echo)
    }

    /// `received` (one 20 ms frame) with the echo of `sent` (the frame we sent at the same time) removed.
    public func process(received: [Int16], sent: [Int16]) -> [Int16] {
        guard received.count == Self.frameSamples, sent.count == Self.frameSamples else { return received }
        received.withUnsafeBufferPointer { near in
            sent.withUnsafeBufferPointer { far in
                output.withUnsafeMutableBufferPointer { out in
                    speex_echo_cancellation(echo, near.baseAddress, far.baseAddress, out.baseAddress)
                }
            }
        }
        output.withUnsafeMutableBufferPointer { _ = speex_preprocess_run(preprocess, $0.baseAddress) }
        return output
    }
}
