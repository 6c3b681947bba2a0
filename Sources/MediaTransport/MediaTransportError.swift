import AnswerNinjaCore

public enum MediaTransportErrorDomain: NinjaErrorDomain {
    public static let name = "media-transport"
}

/// The error type of the MediaTransport module: RTP port pool exhaustion and socket errors of media sessions.
public typealias MediaTransportError = NinjaError<MediaTransportErrorDomain>

extension NinjaError where Domain == MediaTransportErrorDomain {
    public static func connectionClosed(_ reason: String, file: String = #fileID, line: Int = #line) -> Self {
        Self(code: .init("connection_closed"), message: "control connection closed: \(reason)", file: file, line: line)
    }

    public static func timeout(_ what: String, file: String = #fileID, line: Int = #line) -> Self {
        Self(code: .init("timeout"), message: what, file: file, line: line)
    }

    /// The media role answered a command with an error result.
    public static func refused(code: String, message: String, file: String = #fileID, line: Int = #line) -> Self {
        Self(code: .init(code), message: message, file: file, line: line)
    }
}
