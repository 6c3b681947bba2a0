import AnswerNinjaCore

public enum SIPMessageErrorDomain: NinjaErrorDomain {
    public static let name = "sip-message"
}

/// The error type of the SIPMessages module: syntax and semantic errors of SIP messages, each mapping to the 400/505 a UAS answers.
public typealias SIPMessageError = NinjaError<SIPMessageErrorDomain>
