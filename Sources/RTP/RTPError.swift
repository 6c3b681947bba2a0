import AnswerNinjaCore

public enum RTPErrorDomain: NinjaErrorDomain {
    public static let name = "rtp"
}

/// The error type of the RTP module: malformed RTP, RTCP and telephone-event packets (RFC 3550, RFC 4733).
public typealias RTPError = NinjaError<RTPErrorDomain>

extension NinjaError.Code where Domain == RTPErrorDomain {
    /// Fewer bytes than the fixed header, the CSRCs, the extension or the padding need.
    public static let truncated = Self("truncated")
    /// Version is not 2 (RFC 3550 §5.1).
    public static let badVersion = Self("bad_version")
    /// Padding count of 0 or larger than the packet (RFC 3550 §5.1).
    public static let badPadding = Self("bad_padding")
    /// An RTCP length or compound structure that RFC 3550 §6.1 and A.2 forbid.
    public static let badLength = Self("bad_length")
    /// A header-extension element or payload that violates its RFC.
    public static let malformed = Self("malformed")
}

extension NinjaError where Domain == RTPErrorDomain {
    static func truncated(_ what: String, need: Int, have: Int, file: String = #fileID, line: Int = #line) -> Self {
        Self(code: .truncated, message: "\(what): need \(need) bytes, have \(have)", file: file, line: line)
    }
}
