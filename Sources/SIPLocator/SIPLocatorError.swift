import AnswerNinjaCore

public enum SIPLocatorErrorDomain: NinjaErrorDomain {
    public static let name = "sip-locator"
}

/// The error type of the SIPLocator module: DNS answers that do not parse, lookups that fail, and SIP URIs that
/// lead nowhere (RFC 1035, RFC 3263).
public typealias SIPLocatorError = NinjaError<SIPLocatorErrorDomain>

extension NinjaError.Code where Domain == SIPLocatorErrorDomain {
    /// A DNS message that breaks RFC 1035's format (a short record, a compression loop).
    public static let malformed = Self("malformed")
    /// The DNS server failed or did not answer in time (SERVFAIL, TRY_AGAIN): the lookup may be retried.
    public static let lookupFailed = Self("lookup_failed")
    /// Every lookup answered, and no server is left to try.
    public static let noTarget = Self("no_target")
}

extension NinjaError where Domain == SIPLocatorErrorDomain {
    public static func malformed(_ message: String, file: String = #fileID, line: Int = #line) -> Self {
        Self(code: .malformed, message: message, file: file, line: line)
    }

    public static func lookupFailed(_ message: String, file: String = #fileID, line: Int = #line) -> Self {
        Self(code: .lookupFailed, message: message, file: file, line: line)
    }

    public static func noTarget(_ message: String, file: String = #fileID, line: Int = #line) -> Self {
        Self(code: .noTarget, message: message, file: file, line: line)
    }
}
