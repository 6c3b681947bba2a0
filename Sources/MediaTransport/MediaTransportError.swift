import AnswerNinjaCore

public enum MediaTransportErrorDomain: NinjaErrorDomain {
    public static let name = "media-transport"
}

/// The error type of the MediaTransport module: RTP port pool exhaustion and socket errors of media sessions.
public typealias MediaTransportError = NinjaError<MediaTransportErrorDomain>
