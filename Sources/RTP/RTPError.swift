import AnswerNinjaCore

public enum RTPErrorDomain: NinjaErrorDomain {
    public static let name = "rtp"
}

/// The error type of the RTP module: malformed RTP, RTCP and telephone-event packets (RFC 3550, RFC 4733).
public typealias RTPError = NinjaError<RTPErrorDomain>
