import AnswerNinjaCore

public enum SIPDialogErrorDomain: NinjaErrorDomain {
    public static let name = "sip-dialog"
}

/// The error type of the SIPDialogs module: dialog matching, CSeq ordering and route-set errors (RFC 3261 §12).
public typealias SIPDialogError = NinjaError<SIPDialogErrorDomain>

extension NinjaError.Code where Domain == SIPDialogErrorDomain {
    /// The message cannot make or continue a dialog (a header the dialog needs is missing).
    public static let malformed = Self("malformed")
    /// A request's CSeq is lower than the last one in the dialog (§12.2.2): answered 500.
    public static let outOfOrder = Self("out_of_order")
}

extension NinjaError where Domain == SIPDialogErrorDomain {
    public static func malformed(_ message: String, file: String = #fileID, line: Int = #line) -> Self {
        Self(code: .malformed, message: message, file: file, line: line)
    }

    public static func outOfOrder(_ message: String, file: String = #fileID, line: Int = #line) -> Self {
        Self(code: .outOfOrder, message: message, file: file, line: line)
    }
}
