import AnswerNinjaCore

/// What a recogniser heard: a partial hypothesis while the caller speaks, then the final one at the end of the
/// utterance (the VAD's end point), with word timings and a confidence.
public struct RecognitionResult: Sendable, Equatable, Codable {
    public struct Word: Sendable, Equatable, Codable {
        public var word: String
        /// From the start of the utterance.
        public var startMs: Int
        public var endMs: Int

        public init(word: String, startMs: Int, endMs: Int) {
            self.word = word
            self.startMs = startMs
            self.endMs = endMs
        }
    }

    public var text: String
    public var isFinal: Bool
    /// 0...1: the posterior probability of the hypothesis for pocketsphinx, the provider's for a remote one.
    public var confidence: Double
    public var words: [Word]

    public init(text: String, isFinal: Bool, confidence: Double, words: [Word] = []) {
        self.text = text
        self.isFinal = isFinal
        self.confidence = confidence
        self.words = words
    }
}

/// Speech to text, one stream per call. A stream takes the caller's audio as it arrives and answers with
/// partial results when the recogniser makes them (the embedded one decodes whole utterances and makes none); `finish` ends the utterance and gives the final result; the stream then takes the next one.
public protocol SpeechRecognizer: Sendable {
    /// A stream for audio at `rate`; `close` it at the end of the call.
    func makeStream(rate: AudioSampleRate) async throws -> any RecognitionStream
}

public protocol RecognitionStream: Sendable {
    /// More audio of the current utterance; a partial result when the recogniser has a new hypothesis.
    func feed(_ samples: [Int16]) async throws -> RecognitionResult?
    /// The caller may have finished: speech stopped a moment ago and the endpointer is still waiting to be sure. A
    /// recogniser may start the final decode of what it has now; `finish` then uses it, taking what came after as
    /// the trailing silence. Called again when speech resumed and stopped again: the later call wins.
    func speculate() async
    /// The caller spoke again after a `speculate`, in the same utterance: what was decoded early is not the end
    /// after all. A recogniser that stopped for the speculation may start catching up now rather than at the next
    /// pause.
    func speechResumed() async
    /// What the recogniser has heard of the current utterance so far (its first pass's best hypothesis), once all
    /// the audio fed is in; nil from recognisers that only decode at the end. For endpointing on the words: a
    /// hypothesis that reads as a finished sentence lets the turn end before a long silence timer runs out.
    func hypothesis() async -> String?
    /// The end of the utterance: the final result (empty text when nothing was recognised).
    func finish() async throws -> RecognitionResult
    /// Releases the stream's resources.
    func close() async
}

extension RecognitionStream {
    /// Recognisers that cannot decode early ignore the hint.
    public func speculate() async {}
    public func speechResumed() async {}
    /// Recognisers without a first pass have nothing to say before the end.
    public func hypothesis() async -> String? { nil }
}
