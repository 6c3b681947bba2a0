import AnswerNinjaCore

public enum SIPTransactionErrorDomain: NinjaErrorDomain {
    public static let name = "sip-transaction"
}

/// The error type of the SIPTransactions module: transaction matching and state errors (RFC 3261 §17).
public typealias SIPTransactionError = NinjaError<SIPTransactionErrorDomain>
