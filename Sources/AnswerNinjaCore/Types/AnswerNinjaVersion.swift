/// The version of this build, reported by `/health`, `answer-ninja version` and the status page.
public enum AnswerNinjaVersion {
    public static let current = "0.1.0"
}
