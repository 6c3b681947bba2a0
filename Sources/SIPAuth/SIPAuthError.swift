import AnswerNinjaCore

public enum SIPAuthErrorDomain: NinjaErrorDomain {
    public static let name = "sip-auth"
}

/// The error type of the SIPAuth module: digest challenges and credentials that cannot be parsed or verified (RFC 8760).
public typealias SIPAuthError = NinjaError<SIPAuthErrorDomain>

extension NinjaError.Code where Domain == SIPAuthErrorDomain {
    /// A challenge or credentials header that does not parse.
    public static let malformed = Self("malformed")
    /// An algorithm or qop this implementation does not do.
    public static let unsupported = Self("unsupported")
}

extension NinjaError where Domain == SIPAuthErrorDomain {
    public static func malformed(_ message: String, file: String = #fileID, line: Int = #line) -> Self {
        Self(code: .malformed, message: message, file: file, line: line)
    }

    public static func unsupported(_ message: String, file: String = #fileID, line: Int = #line) -> Self {
        Self(code: .unsupported, message: message, file: file, line: line)
    }
}
