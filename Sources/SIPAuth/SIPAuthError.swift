import AnswerNinjaCore

public enum SIPAuthErrorDomain: NinjaErrorDomain {
    public static let name = "sip-auth"
}

/// The error type of the SIPAuth module: digest challenges and credentials that cannot be parsed or verified (RFC 8760).
public typealias SIPAuthError = NinjaError<SIPAuthErrorDomain>
