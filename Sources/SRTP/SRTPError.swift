import AnswerNinjaCore

public enum SRTPErrorDomain: NinjaErrorDomain {
    public static let name = "srtp"
}

/// The error type of the SRTP module: libsrtp2 status codes with their text, bad SDES crypto attributes (RFC 4568).
public typealias SRTPError = NinjaError<SRTPErrorDomain>

extension NinjaError.Code where Domain == SRTPErrorDomain {
    /// Authentication tag mismatch (a forged or corrupted packet, or the wrong key).
    public static let authenticationFailed = Self("auth_fail")
    /// The packet's index was already seen or is older than the replay window.
    public static let replay = Self("replay")
    /// Key material of the wrong length or a policy libsrtp refuses.
    public static let badParameters = Self("bad_parameters")
    /// An `a=crypto` attribute that RFC 4568 does not allow.
    public static let badCryptoAttribute = Self("bad_crypto_attribute")
    /// Any other libsrtp status.
    public static let library = Self("libsrtp")
}
