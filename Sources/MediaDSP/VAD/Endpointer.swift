/// Turns frame decisions into utterances with an adaptive end-of-speech wait: short (`shortWait`, about 250 ms)
/// when the speech so far looks finished — it fell off in level at its end, as a sentence does — and long
/// (`longWait`, about 700 ms) when it does not (a pause for breath, a hesitation), so that the bot answers fast
/// without cutting callers off.
public struct Endpointer: Sendable {
    public struct Utterance: Sendable, Equatable {
        /// Frame indexes (10 ms each) of the first and last speech frame.
        public var startFrame: Int
        public var endFrame: Int
        public var startSeconds: Double { Double(startFrame) / 100 }
        public var endSeconds: Double { Double(endFrame + 1) / 100 }
    }

    public enum Event: Sendable, Equatable {
        case speechStarted(frame: Int)
        case utteranceEnded(Utterance)
    }

    public var shortWait = 25
    public var longWait = 70
    /// Utterances with fewer speech frames than this are dropped as clicks, coughs and tone bursts.
    public var minimumSpeech = 15

    private var frame = -1
    private var start: Int?
    private var lastSpeech = 0
    private var levels: [Double] = []
    private var speechFrames = 0

    public init() {}

    /// Feeds one frame's probability and energy; returns the events it causes.
    public mutating func process(probability: Double, energyDB: Double) -> [Event] {
        frame += 1
        let isSpeech = probability >= 0.5
        if isSpeech {
            if start == nil {
                start = frame
                speechFrames = 0
                levels.removeAll(keepingCapacity: true)
            }
            speechFrames += 1
            lastSpeech = frame
            levels.append(energyDB)
            return start == frame ? [.speechStarted(frame: frame)] : []
        }
        guard let begin = start else { return [] }
        let silence = frame - lastSpeech
        let wait = looksFinished() ? shortWait : longWait
        guard silence >= wait else { return [] }
        start = nil
        guard speechFrames >= minimumSpeech else { return [] }
        return [.utteranceEnded(Utterance(startFrame: begin, endFrame: lastSpeech))]
    }

    /// Ends an utterance in progress at the end of the audio.
    public mutating func flush() -> [Event] {
        guard let begin = start else { return [] }
        start = nil
        guard speechFrames >= minimumSpeech else { return [] }
        return [.utteranceEnded(Utterance(startFrame: begin, endFrame: lastSpeech))]
    }

    /// The last 50 ms of speech (their median, so one odd frame does not decide) lie at least 6 dB below the
    /// utterance's median level: it faded out, as the end of a sentence does, rather than stopping on a loud
    /// syllable.
    private func looksFinished() -> Bool {
        guard levels.count >= 30 else { return false }
        let tail = levels.suffix(5).sorted()[2]
        let median = levels.sorted()[levels.count / 2]
        return tail < median - 6
    }
}
