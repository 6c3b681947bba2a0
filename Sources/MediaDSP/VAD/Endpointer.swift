/// Turns frame decisions into utterances with an adaptive end-of-speech wait: short (`shortWait`, about 250 ms)
/// when the speech so far looks finished — it fell off in level at its end, as a sentence does — and long
/// (`longWait`, about 700 ms) when it does not (a pause for breath, a hesitation), so that the bot answers fast
/// without cutting callers off. It also learns the caller: when speech resumes within a second of an utterance it
/// ended (the caller had not finished: a cut-off), the short wait grows past that pause, up to the long wait, for
/// the rest of the call. Another judge may end an utterance sooner (`waitingLong`, `endNow`): the assistant reads
/// the recogniser's words when the short wait runs out on speech that did not fade. (The measured trade-off is in
/// docs/media.md.)
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
        /// What started was too short to be speech (`minimumSpeech`): a click, a cough, a tone burst. Every
        /// `speechStarted` is followed by one `utteranceEnded` or one `utteranceDiscarded`.
        case utteranceDiscarded
    }

    public var shortWait = 25
    public var longWait = 70
    /// Speech that resumes within this many frames of an utterance's end shows that it was cut off.
    public var resumeWindow = 100
    /// Utterances the caller continued right after they were ended (cut-offs noticed, each one teaching the wait).
    public private(set) var resumptions = 0
    /// Utterances with fewer speech frames than this are dropped as clicks, coughs and tone bursts.
    public var minimumSpeech = 15

    private var frame = -1
    private var start: Int?
    private var lastSpeech = 0
    private var levels: [Double] = []
    private var speechFrames = 0
    /// The last speech frame of the last utterance ended, while a resumption would still count.
    private var lastEnded: Int?

    public init() {}

    /// Speech frames of the utterance in progress (0 between utterances).
    public var speechFramesSoFar: Int { start == nil ? 0 : speechFrames }

    /// Feeds one frame's probability and energy; returns the events it causes.
    public mutating func process(probability: Double, energyDB: Double) -> [Event] {
        frame += 1
        let isSpeech = probability >= 0.5
        if isSpeech {
            if start == nil {
                start = frame
                speechFrames = 0
                levels.removeAll(keepingCapacity: true)
                if let ended = lastEnded, frame - ended <= resumeWindow {
                    // The caller went on after a pause we took for the end: wait longer than that pause from now on.
                    resumptions += 1
                    shortWait = min(longWait, max(shortWait, frame - ended + 5))
                }
                lastEnded = nil
            }
            speechFrames += 1
            lastSpeech = frame
            levels.append(energyDB)
            return start == frame ? [.speechStarted(frame: frame)] : []
        }
        guard start != nil else { return [] }
        let silence = frame - lastSpeech
        let wait = looksFinished() ? shortWait : longWait
        guard silence >= wait else { return [] }
        return end()
    }

    /// The short wait has passed and the speech did not look finished, so the endpointer is waiting the long one:
    /// the moment for another judge (what the caller said, `endNow`) to decide sooner.
    public var waitingLong: Bool {
        start != nil && frame > lastSpeech && frame - lastSpeech >= shortWait
    }

    /// Ends the utterance in progress now, if the caller is quiet (another judge found it finished): the same
    /// events as the wait running out. Nothing while the caller is speaking or between utterances.
    public mutating func endNow() -> [Event] {
        guard start != nil, frame > lastSpeech else { return [] }
        return end()
    }

    private mutating func end() -> [Event] {
        guard let begin = start else { return [] }
        start = nil
        guard speechFrames >= minimumSpeech else { return [.utteranceDiscarded] }
        lastEnded = lastSpeech
        return [.utteranceEnded(Utterance(startFrame: begin, endFrame: lastSpeech))]
    }

    /// Ends an utterance in progress at the end of the audio.
    public mutating func flush() -> [Event] {
        guard let begin = start else { return [] }
        start = nil
        guard speechFrames >= minimumSpeech else { return [.utteranceDiscarded] }
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
