import AnswerNinjaCore

public enum CodecErrorDomain: NinjaErrorDomain {
    public static let name = "codecs"
}

/// The error type of the Codecs module: libopus errors with opus_strerror's text, unsupported formats and frame sizes.
public typealias CodecError = NinjaError<CodecErrorDomain>
