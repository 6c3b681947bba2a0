import Foundation

/// What the assistant hears of the caller, one 20 ms tick at a time: our own echo cancelled (what we sent at the
/// same tick is the reference), then the VAD and the adaptive endpointer on what is left. It says when the caller
/// started speaking (a barge-in, when we are speaking), when an utterance ended, and when the caller may have
/// finished (quiet for `speculateAfterQuietFrames` inside an utterance: time to start decoding early).
///
/// **Double-talk gate while the canceller converges.** In the first seconds of a call (the assistant speaks first)
/// the canceller has not yet learnt the echo path, and what it leaves of our own voice can look like speech. A trunk
/// reflects our audio at least 20 dB down (its echo return loss), so until we have spoken for `convergenceTicks` a
/// speech start counts only when what arrived (before the canceller) is within `doubleTalkMarginDB` of the loudest we sent in the last
/// `echoWindowTicks` (longer than any echo delay): residual echo cannot reach that even with nothing cancelled, a
/// caller talking over us at a telephone level does. A start below it is held; the utterance is let through as soon
/// as one of its ticks is loud enough (and above −45 dBFS), and dropped unheard if none is. Once the canceller has had
/// its time, and whenever we are not speaking, new starts are not gated (a quiet caller can still barge in).
///
/// No I/O; it owns its echo canceller (a libspeexdsp handle), so it belongs to one call.
public struct CallerListener {
    public struct Heard {
        /// The caller's audio with our echo taken out.
        public var samples: [Int16]
        public var events: [Endpointer.Event]
        public var mayBeOver: Bool
        /// The caller spoke again, in the same utterance, after a pause long enough for `mayBeOver`: a decode started
        /// early is not the end after all.
        public var resumed: Bool
        /// This tick the short wait ran out on speech that did not fade: the endpointer now waits the long one unless
        /// something else (what the recogniser heard so far) finds the utterance finished and calls `endUtterance`.
        public var undecided: Bool
    }

    /// 10 ms VAD frames of quiet inside an utterance before its decode starts early: longer than the pauses between
    /// words, shorter than the endpointer's shortest wait (so the last speculation always covers all the speech).
    public static let speculateAfterQuietFrames = 15

    /// How far below our own level the caller may be and still start speech over us while the gate is on. 10 dB:
    /// 10 dB clear of an echo 20 dB down with nothing cancelled.
    public var doubleTalkMarginDB = 10.0
    /// Ticks of our own speech (above −50 dBFS) after which the canceller has converged and the gate opens: 6 s
    /// (measured: no false start after 5.5 s, docs/media.md).
    public static let convergenceTicks = 300
    /// −45 dBFS as a mean square: below any caller talking over us.
    static let floorEnergy = 32768.0 * 32768.0 * pow(10, -4.5)
    /// About −50 dBFS as a mean square: a tick of ours above it is speech going out.
    static let speakingEnergy = 10_000.0
    /// Ticks of what we sent that the gate looks back over (200 ms: echo comes back within 150 ms).
    public static let echoWindowTicks = 10

    private let echo: EchoCanceller?
    private var vad = VoiceActivityDetector()
    public private(set) var endpointer = Endpointer()
    private var quietFrames = 0
    /// Mean square of what we sent, per tick, the last `echoWindowTicks`.
    private var sentEnergies: [Double] = []
    private var spokenTicks = 0
    /// The start (its 10 ms frame) of an utterance the gate held back, not yet heard as the caller.
    private var held: Int?
    /// Speech starts held back and utterances dropped unheard by the gate.
    public private(set) var gatedStarts = 0
    /// The endpointer was waiting its long wait after the last tick.
    private var wasWaitingLong = false

    /// `cancelEcho` false, or a canceller libspeexdsp refuses: the caller's audio goes to the VAD as it came.
    /// `gate` false: every speech start counts.
    public init(cancelEcho: Bool = true, gate: Bool = true) {
        echo = cancelEcho ? try? EchoCanceller() : nil
        if !gate { doubleTalkMarginDB = .infinity }
    }

    public var cancelsEcho: Bool { echo != nil }

    /// One tick: what arrived from the caller (after the jitter buffer) and what we sent.
    public mutating func process(received: [Int16], sent: [Int16]) -> Heard {
        let samples = echo.map { $0.process(received: received, sent: sent) } ?? received
        let sentEnergy = Self.meanSquare(sent[...])
        sentEnergies.append(sentEnergy)
        if sentEnergies.count > Self.echoWindowTicks { sentEnergies.removeFirst() }
        if sentEnergy > Self.speakingEnergy { spokenTicks += 1 }
        var events: [Endpointer.Event] = []
        var mayBeOver = false
        var resumed = false
        var undecided = false
        for start in stride(from: 0, to: samples.count - 79, by: 80) {
            let decision = vad.process(samples[start..<start + 80])
            let frameEvents = endpointer.process(probability: decision.probability, energyDB: decision.energyDB)
            events += frameEvents
            let speech = decision.probability >= 0.5
            // Within the same utterance only: a new one starts its recognition afresh anyway.
            if speech && quietFrames >= Self.speculateAfterQuietFrames && frameEvents.isEmpty && endpointer.speechFramesSoFar > 0 {
                resumed = true
                mayBeOver = false  // a pause that ended within this tick: nothing to speculate on
            }
            quietFrames = speech ? 0 : quietFrames + 1
            // Only for what is long enough to be an utterance: a click is dropped, not decoded.
            mayBeOver = mayBeOver || (quietFrames == Self.speculateAfterQuietFrames && endpointer.speechFramesSoFar >= endpointer.minimumSpeech)
            if endpointer.waitingLong, !wasWaitingLong, endpointer.speechFramesSoFar >= endpointer.minimumSpeech { undecided = true }
            wasWaitingLong = endpointer.waitingLong
        }
        // On while the canceller converges, and only while we are speaking (something above −50 dBFS went out in the
        // last 200 ms).
        let loudestSent = sentEnergies.max() ?? 0
        let gateOn = spokenTicks < Self.convergenceTicks && loudestSent > Self.speakingEnergy
        // What arrived, before the canceller: echo alone stays 20 dB under what we sent whatever a converging
        // canceller makes of it (its output can even be louder than its input while it is still wrong).
        let arrived = Self.meanSquare(received[...])
        let overUs = arrived >= loudestSent * pow(10, -doubleTalkMarginDB / 10)
        var passed = gated(events, startsPass: !gateOn || overUs)
        // A held start (heard while we spoke) goes through only on a tick that is plainly someone talking: above
        // −45 dBFS, and over us if we still speak; line noise in a pause of ours never lets our echo through.
        if let frame = held, arrived >= Self.floorEnergy, !gateOn || overUs {
            held = nil
            passed.append(.speechStarted(frame: frame))
        }
        return Heard(samples: samples, events: passed, mayBeOver: mayBeOver, resumed: resumed, undecided: undecided && held == nil)
    }

    /// Ends the caller's utterance now if they are quiet (`Endpointer.endNow`): for a judge that found it finished
    /// before the endpointer's long wait ran out. An utterance the gate still holds is dropped unheard, as it would
    /// be at its natural end.
    public mutating func endUtterance() -> [Endpointer.Event] {
        let events = endpointer.endNow()
        wasWaitingLong = false
        return gated(events, startsPass: true)
    }

    /// The endpointer's events with the gate applied: a start that does not pass is held; the end of a held
    /// utterance is dropped.
    private mutating func gated(_ events: [Endpointer.Event], startsPass: Bool) -> [Endpointer.Event] {
        var passed: [Endpointer.Event] = []
        for event in events {
            switch event {
            case .speechStarted(let frame):
                if startsPass { passed.append(event) } else { held = frame }
            case .utteranceEnded, .utteranceDiscarded:
                if held != nil {
                    held = nil
                    gatedStarts += 1
                } else {
                    passed.append(event)
                }
            }
        }
        return passed
    }

    static func meanSquare(_ samples: ArraySlice<Int16>) -> Double {
        guard !samples.isEmpty else { return 0 }
        return samples.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(samples.count)
    }
}
