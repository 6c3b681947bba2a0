import AnswerNinjaCore

public enum ConversationErrorDomain: NinjaErrorDomain {
    public static let name = "conversation"
}

/// The error type of the Conversation module: dialog policy and classifier errors.
public typealias ConversationError = NinjaError<ConversationErrorDomain>

extension NinjaError.Code where Domain == ConversationErrorDomain {
    public static let invalidCorpus = Self("invalid_corpus")
    public static let invalidModel = Self("invalid_model")
    public static let invalidScript = Self("invalid_script")
    public static let invalidPolicy = Self("invalid_policy")
}

extension NinjaError where Domain == ConversationErrorDomain {
    public static func invalidCorpus(_ message: String, file: String = #fileID, line: Int = #line) -> Self {
        Self(code: .invalidCorpus, message: message, file: file, line: line)
    }
    public static func invalidModel(_ message: String, file: String = #fileID, line: Int = #line) -> Self {
        Self(code: .invalidModel, message: message, file: file, line: line)
    }
    public static func invalidScript(_ message: String, file: String = #fileID, line: Int = #line) -> Self {
        Self(code: .invalidScript, message: message, file: file, line: line)
    }
    public static func invalidPolicy(_ message: String, file: String = #fileID, line: Int = #line) -> Self {
        Self(code: .invalidPolicy, message: message, file: file, line: line)
    }
}
