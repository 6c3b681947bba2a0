import AnswerNinjaCore

public enum MediaDSPErrorDomain: NinjaErrorDomain {
    public static let name = "media-dsp"
}

/// The error type of the MediaDSP module: resampler, echo canceller and preprocessor errors of libspeexdsp.
public typealias MediaDSPError = NinjaError<MediaDSPErrorDomain>
