import AnswerNinjaCore

public enum SDPErrorDomain: NinjaErrorDomain {
    public static let name = "sdp"
}

/// The error type of the SDP module: malformed SDP (RFC 8866) and offer/answer failures (RFC 3264) that end in 488.
public typealias SDPError = NinjaError<SDPErrorDomain>

extension NinjaError.Code where Domain == SDPErrorDomain {
    /// Not valid SDP: a 400 when it came in a request (RFC 3261 §21.4.1 allows 400 for a malformed body).
    public static let malformed = Self("malformed")
    /// Nothing in the offer can be accepted: 488 Not Acceptable Here (RFC 3261 §21.4.26).
    public static let notAcceptable = Self("not_acceptable")
}

extension NinjaError where Domain == SDPErrorDomain {
    public static func malformed(_ message: String, file: String = #fileID, line: Int = #line) -> Self {
        Self(code: .malformed, message: message, file: file, line: line)
    }

    public static func notAcceptable(_ message: String, file: String = #fileID, line: Int = #line) -> Self {
        Self(code: .notAcceptable, message: message, file: file, line: line)
    }

    /// The SIP status to answer the request that carried the SDP with.
    public var sipStatus: Int { code == .notAcceptable ? 488 : 400 }
}
