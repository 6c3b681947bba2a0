/// Whether what the caller has said so far reads as a finished turn, judged from the words alone: a lexical
/// end-of-turn check for the moment the endpointer's short wait has run out on speech that did not fade (see
/// `Endpointer.waitingLong`). The best voice agents segment on a short silence and let a turn model decide
/// (docs/media.md); this is the smallest such model: a turn that stops on a word that cannot end an English sentence
/// (an article, a preposition, a conjunction, a subject pronoun, an auxiliary, a filler: "I'm calling about the",
/// "and um") is not finished; anything else that has words is.
///
/// Pure: text in, verdict out.
public enum TurnCompletion: Sendable, Equatable {
    /// The words read as a finished turn: end it now.
    case finished
    /// The last word leads on to more: keep waiting.
    case continuing
    /// No words to judge (nothing recognised yet, or only noise markers).
    case unknown

    /// Words after which an English sentence goes on.
    static let continuingWords: Set<String> = [
        // articles and determiners
        "a", "an", "the", "my", "your", "our", "their", "his", "her", "its", "some", "any", "every", "each",
        // prepositions
        "to", "of", "for", "with", "about", "from", "in", "on", "at", "by", "into", "onto", "like", "than", "as", "over",
        "under", "through", "between", "regarding",
        // conjunctions
        "and", "or", "but", "so", "because", "if", "when", "while", "although", "though", "unless", "whether", "nor",
        // subject pronouns and contractions that need a verb or a complement
        "i", "i'm", "i'll", "i've", "i'd", "we", "we're", "we'll", "we've", "you're", "you'll", "they", "they're", "he's",
        "she's", "it's", "there's", "that's",
        // auxiliaries and modals
        "is", "are", "was", "were", "am", "be", "been", "will", "would", "can", "could", "should", "shall", "may", "might",
        "must", "have", "has", "had", "do", "does", "did", "not", "just", "very", "really",
        // fillers
        "uh", "um", "er", "ah", "hmm", "mm",
    ]

    /// Judges a recogniser's hypothesis. Noise and silence markers (`<sil>`, `[noise]`, `++breath++`) and
    /// alternate-pronunciation suffixes (`the(2)`) are ignored; case does not matter.
    public static func judge(_ hypothesis: String) -> TurnCompletion {
        let words = hypothesis.lowercased().split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).compactMap(spoken)
        guard let last = words.last else { return .unknown }
        return continuingWords.contains(last) ? .continuing : .finished
    }

    /// The word as spoken, or nil for a marker.
    private static func spoken(_ token: Substring) -> String? {
        guard let first = token.first, first != "<", first != "[", first != "+" else { return nil }
        let word = token.split(separator: "(").first.map(String.init) ?? String(token)
        let kept = word.filter { $0.isLetter || $0.isNumber || $0 == "'" }
        return kept.isEmpty ? nil : kept
    }
}
