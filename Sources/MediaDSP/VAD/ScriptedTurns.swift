/// When a scripted caller (`call --script`) takes its turns: each step starts once the other side's turn has ended —
/// it spoke (at least `minimumSpeech`) and then went quiet for `gap` — or once `patience` has passed since our last
/// step without the other side saying anything (an assistant that only listens, a silent far end). After the last
/// step the same rule says when to hang up. It also times each step's reply at the wire, as `VoiceToVoice` does: from
/// the end of what we sent to the first frame heard above −40 dBFS.
///
/// A state machine without I/O, fed one 20 ms frame at a time (8 kHz): what was heard (after the jitter buffer) and
/// whether our own audio went out in that tick. It says what to do; the caller plays, sends digits or hangs up.
public struct ScriptedTurns: Sendable {
    public enum Step: Sendable, Equatable {
        /// Audio: it lasts while the session says we are speaking.
        case speech
        /// RFC 4733 digits: 100 ms each and 100 ms between (`RTPCallSession.send(digits:)`).
        case digits(count: Int)
        /// Silence for this many 20 ms frames; the step after it starts when the wait is over, without a turn rule.
        case wait(frames: Int)
    }

    public enum Action: Sendable, Equatable {
        case start(step: Int)
        case hangUp
    }

    /// What happened to one step, in 20 ms frames from the first frame fed.
    public struct Turn: Sendable, Equatable {
        public var startFrame: Int
        public var endFrame: Int?
        /// The first frame heard above −40 dBFS after the step ended and before the next one started.
        public var replyFrame: Int?
        /// Milliseconds from the end of the step to its reply (nil: no reply, a wait, or not ended).
        public var voiceToVoiceMs: Double? {
            guard let endFrame, let replyFrame else { return nil }
            return Double(replyFrame - endFrame) * 20
        }
    }

    public let steps: [Step]
    public var gapFrames: Int
    public var patienceFrames: Int
    /// Frames of the other side's speech that make a turn (shorter bursts are clicks and noise).
    public var minimumSpeech = 10
    public private(set) var turns: [Turn] = []

    private enum State: Sendable {
        /// Waiting for the other side's turn to end before `next` (== steps.count: before hanging up).
        case listening(next: Int, since: Int)
        /// Step `index` started at `frame`; `sawSpeaking`: its audio has begun to go out.
        case running(index: Int, sawSpeaking: Bool)
        case finished
    }

    private var state: State = .listening(next: 0, since: 0)
    private var frame = -1
    private var vad = VoiceActivityDetector()
    private var speechFrames = 0
    private var lastSpeech = -1

    /// `gap` and `patience` in milliseconds.
    public init(steps: [Step], gapMs: Int = 800, patienceMs: Int = 6000) {
        self.steps = steps
        gapFrames = max(1, gapMs / 20)
        patienceFrames = max(1, patienceMs / 20)
    }

    public var isFinished: Bool {
        if case .finished = state { return true }
        return false
    }

    /// Feeds one 20 ms frame (160 samples) heard, and whether we were sending audio in that tick.
    public mutating func process(heard: ArraySlice<Int16>, speaking: Bool) -> Action? {
        frame += 1
        var speech = false
        if heard.count >= 160 {
            let start = heard.startIndex
            let first = vad.process(heard[start..<start + 80]).speech
            speech = vad.process(heard[start + 80..<start + 160]).speech || first
        }
        switch state {
        case .finished:
            return nil
        case .running(let index, var sawSpeaking):
            sawSpeaking = sawSpeaking || speaking
            let elapsed = frame - turns[index].startFrame
            let ended: Bool
            switch steps[index] {
            // Audio that never went out (empty) ends after a few frames rather than never.
            case .speech: ended = sawSpeaking ? !speaking : elapsed >= 5
            case .digits(let count): ended = elapsed >= count * 10
            case .wait(let frames): ended = elapsed >= frames
            }
            guard ended else {
                state = .running(index: index, sawSpeaking: sawSpeaking)
                return nil
            }
            turns[index].endFrame = frame
            speechFrames = 0
            lastSpeech = -1
            if case .wait = steps[index], index + 1 < steps.count { return begin(index + 1) }
            state = .listening(next: index + 1, since: frame)
            noteReply(heard)
            return nil
        case .listening(let next, let since):
            noteReply(heard)
            if speech {
                speechFrames += 1
                lastSpeech = frame
                return nil
            }
            let turnEnded = speechFrames >= minimumSpeech && frame - lastSpeech >= gapFrames
            let nothingSaid = speechFrames < minimumSpeech && frame - max(since, lastSpeech) >= patienceFrames
            guard turnEnded || nothingSaid else { return nil }
            guard next < steps.count else {
                state = .finished
                return .hangUp
            }
            return begin(next)
        }
    }

    private mutating func begin(_ index: Int) -> Action {
        turns.append(Turn(startFrame: frame))
        state = .running(index: index, sawSpeaking: false)
        return .start(step: index)
    }

    /// The last step's reply: the first frame loud enough, for a step that is not a wait.
    private mutating func noteReply(_ heard: ArraySlice<Int16>) {
        guard let last = turns.indices.last, turns[last].replyFrame == nil, turns[last].endFrame != nil else { return }
        if case .wait = steps[last] { return }
        if VoiceToVoice.isHeard(heard) { turns[last].replyFrame = frame }
    }
}
