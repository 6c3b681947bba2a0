import AnswerNinjaCore

public enum SDPErrorDomain: NinjaErrorDomain {
    public static let name = "sdp"
}

/// The error type of the SDP module: malformed SDP (RFC 8866) and offer/answer failures (RFC 3264) that end in 488.
public typealias SDPError = NinjaError<SDPErrorDomain>
