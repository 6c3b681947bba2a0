import AnswerNinjaCore

public enum SIPMessageErrorDomain: NinjaErrorDomain {
    public static let name = "sip-message"
}

/// The error type of the SIPMessages module: syntax and semantic errors of SIP messages, each mapping to the response
/// a UAS answers a request with (400, 505, 513); a malformed response is discarded (RFC 3261 §16.7, §18.1.2).
public typealias SIPMessageError = NinjaError<SIPMessageErrorDomain>

extension NinjaError.Code where Domain == SIPMessageErrorDomain {
    /// Syntax or a semantic rule of RFC 3261 broken: 400 Bad Request.
    public static let badRequest = Self("bad_request")
    /// A SIP version other than 2.0 (RFC 3261 §8.2.2.2... §21.5.6): 505 Version Not Supported.
    public static let versionNotSupported = Self("version_not_supported")
    /// Over a size limit of this implementation: 513 Message Too Large (RFC 3261 §21.5.13).
    public static let messageTooLarge = Self("message_too_large")
}

extension NinjaError where Domain == SIPMessageErrorDomain {
    public static func badRequest(_ reason: String, file: String = #fileID, line: Int = #line) -> Self {
        Self(code: .badRequest, message: reason, file: file, line: line)
    }

    public static func versionNotSupported(_ version: String, file: String = #fileID, line: Int = #line) -> Self {
        Self(code: .versionNotSupported, message: "SIP version \(version) is not supported (only SIP/2.0)", file: file, line: line)
    }

    public static func messageTooLarge(_ what: String, file: String = #fileID, line: Int = #line) -> Self {
        Self(code: .messageTooLarge, message: what, file: file, line: line)
    }

    /// The status a UAS answers a request that raised this error with.
    public var statusCode: Int {
        switch code {
        case .versionNotSupported: 505
        case .messageTooLarge: 513
        default: 400
        }
    }

    /// The reason phrase of that response: the standard phrase, with the reason for a 400 so the sender can see it.
    public var reasonPhrase: String {
        switch code {
        case .versionNotSupported: "Version Not Supported"
        case .messageTooLarge: "Message Too Large"
        default: "Bad Request (\(message))"
        }
    }
}
