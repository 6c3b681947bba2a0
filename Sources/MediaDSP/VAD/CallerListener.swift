/// What the assistant hears of the caller, one 20 ms tick at a time: our own echo cancelled (what we sent at the
/// same tick is the reference), then the VAD and the adaptive endpointer on what is left. It says when the caller
/// started speaking (a barge-in, when we are speaking), when an utterance ended, and when the caller may have
/// finished (quiet for `speculateAfterQuietFrames` inside an utterance: time to start decoding early).
///
/// No I/O; it owns its echo canceller (a libspeexdsp handle), so it belongs to one call.
public struct CallerListener {
    public struct Heard {
        /// The caller's audio with our echo taken out.
        public var samples: [Int16]
        public var events: [Endpointer.Event]
        public var mayBeOver: Bool
    }

    /// 10 ms VAD frames of quiet inside an utterance before its decode starts early: longer than the pauses between
    /// words, shorter than the endpointer's shortest wait (so the last speculation always covers all the speech).
    public static let speculateAfterQuietFrames = 15

    private let echo: EchoCanceller?
    private var vad = VoiceActivityDetector()
    public private(set) var endpointer = Endpointer()
    private var quietFrames = 0

    /// `cancelEcho` false, or a canceller libspeexdsp refuses: the caller's audio goes to the VAD as it came.
    public init(cancelEcho: Bool = true) {
        echo = cancelEcho ? try? EchoCanceller() : nil
    }

    public var cancelsEcho: Bool { echo != nil }

    /// One tick: what arrived from the caller (after the jitter buffer) and what we sent.
    public mutating func process(received: [Int16], sent: [Int16]) -> Heard {
        let samples = echo.map { $0.process(received: received, sent: sent) } ?? received
        var events: [Endpointer.Event] = []
        var mayBeOver = false
        for start in stride(from: 0, to: samples.count - 79, by: 80) {
            let decision = vad.process(samples[start..<start + 80])
            events += endpointer.process(probability: decision.probability, energyDB: decision.energyDB)
            quietFrames = decision.probability >= 0.5 ? 0 : quietFrames + 1
            mayBeOver = mayBeOver || quietFrames == Self.speculateAfterQuietFrames
        }
        return Heard(samples: samples, events: events, mayBeOver: mayBeOver)
    }
}
