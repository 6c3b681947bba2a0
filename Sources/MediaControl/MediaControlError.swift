import AnswerNinjaCore

public enum MediaControlErrorDomain: NinjaErrorDomain {
    public static let name = "media-control"
}

/// The error type of the MediaControl module: refused control commands and protocol violations on the control channel.
public typealias MediaControlError = NinjaError<MediaControlErrorDomain>
