import AnswerNinjaCore

public enum SIPIdentityErrorDomain: NinjaErrorDomain {
    public static let name = "sip-identity"
}

/// The error type of the SIPIdentity module: Identity headers and PASSporTs that do not parse, and keys or
/// certificates that cannot be read (RFC 8224, RFC 8225).
public typealias SIPIdentityError = NinjaError<SIPIdentityErrorDomain>

extension NinjaError.Code where Domain == SIPIdentityErrorDomain {
    /// An Identity header, a PASSporT or a certificate that does not parse.
    public static let malformed = Self("malformed")
    /// A form or algorithm this verifier does not do (the compact form, an algorithm other than ES256).
    public static let unsupported = Self("unsupported")
}

extension NinjaError where Domain == SIPIdentityErrorDomain {
    public static func malformed(_ message: String, file: String = #fileID, line: Int = #line) -> Self {
        Self(code: .malformed, message: message, file: file, line: line)
    }

    public static func unsupported(_ message: String, file: String = #fileID, line: Int = #line) -> Self {
        Self(code: .unsupported, message: message, file: file, line: line)
    }
}
