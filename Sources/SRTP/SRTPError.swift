import AnswerNinjaCore

public enum SRTPErrorDomain: NinjaErrorDomain {
    public static let name = "srtp"
}

/// The error type of the SRTP module: libsrtp2 status codes with their text, bad SDES crypto attributes (RFC 4568).
public typealias SRTPError = NinjaError<SRTPErrorDomain>
