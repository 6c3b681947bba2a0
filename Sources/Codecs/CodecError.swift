import COpus
import AnswerNinjaCore

public enum CodecErrorDomain: NinjaErrorDomain {
    public static let name = "codecs"
}

/// The error type of the Codecs module: libopus errors with opus_strerror's text, unsupported formats and frame sizes.
public typealias CodecError = NinjaError<CodecErrorDomain>

extension NinjaError where Domain == CodecErrorDomain {
    static func opus(_ status: Int32, _ what: String, file: String = #fileID, line: Int = #line) -> Self {
        Self(code: .init("opus"), message: "\(what): \(String(cString: opus_strerror(status)))", file: file, line: line)
    }
}
