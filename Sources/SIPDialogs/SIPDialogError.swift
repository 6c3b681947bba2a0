import AnswerNinjaCore

public enum SIPDialogErrorDomain: NinjaErrorDomain {
    public static let name = "sip-dialog"
}

/// The error type of the SIPDialogs module: dialog matching, CSeq ordering and route-set errors (RFC 3261 §12).
public typealias SIPDialogError = NinjaError<SIPDialogErrorDomain>
