import AnswerNinjaCore

public enum ConversationErrorDomain: NinjaErrorDomain {
    public static let name = "conversation"
}

/// The error type of the Conversation module: dialog policy and classifier errors.
public typealias ConversationError = NinjaError<ConversationErrorDomain>
