import AnswerNinjaCore

/// One AI call as the conversation role sees it: the protocol's rules (docs/protocols/conversation.md) around a
/// `ConversationEngine`. Frames in, frames out; no I/O and no clock (every event carries its offset from the start).
///
/// The session outlives its connection: after a drop, the media role reconnects and sends `resume`, and the
/// session retransmits what the media role missed and reports the last frame it received itself.
public struct ConversationSession: Sendable {
    /// Why an inbound frame was refused: the `error` frame sent back (its code, and whether the connection can go on).
    public typealias Refusal = ConversationMessage.ErrorInfo

    /// What handling one inbound frame produced.
    public struct Output: Sendable, Equatable {
        /// Frames to send, in order.
        public var frames: [ProtocolFrame<ConversationMessage>] = []
        /// The dialog turn produced, if any (for metrics and the record).
        public var turn: DialogTurn?
        /// The intent classification of a final transcript, if any.
        public var classification: IntentClassification?
        /// The session is over (an `end` either way, or an unrecoverable error): close the connection and forget it.
        public var finished = false
        /// A reply held back for the LLM responder to word (`holdsRepliesForRewrite`): send it with `release`.
        public var heldTurn: DialogTurn?
    }

    public let start: ConversationMessage.Start
    /// When an LLM responder is configured: caller replies that continue the conversation are held back so that
    /// the responder can word them; the decision (action, intent) is the policy's and never changes.
    public var holdsRepliesForRewrite = false
    public private(set) var engine: ConversationEngine
    public private(set) var ended: ReleaseReason?
    private var outbound = OutboundSequencer<ConversationMessage>()
    private var inbound = InboundSequencer()
    private var transcripts: [String: ConversationMessage.Transcript] = [:]
    /// The utterance a reply held for rewording answers.
    private var heldUtterance: String?

    /// A session for the `start` frame (which must be the connection's first frame, with seq 1).
    public init(start frame: ProtocolFrame<ConversationMessage>, classifier: IntentClassifier, settings: DialogSettings) throws(Refusal) {
        guard case .start(let start) = frame.message else {
            throw Refusal(code: "no_session", message: "the first frame of a connection is start or resume, not \(frame.message.type)", recoverable: false)
        }
        guard frame.seq == 1 else {
            throw Refusal(code: "bad_sequence", message: "start must have seq 1, got \(frame.seq)", recoverable: false)
        }
        var settings = settings
        guard let persona = Persona(rawValue: start.persona) else {
            throw Refusal(code: "bad_value", message: "unknown persona \"\(start.persona)\" (\(Persona.allCases.map(\.rawValue).joined(separator: ", ")))", recoverable: false)
        }
        settings.persona = persona
        if let name = start.userName, !name.isEmpty { settings.userName = name }
        if let announce = start.announceRecording { settings.announceRecording = announce }
        if let challenge = start.challenge { settings.challenge = challenge }
        if let timeWaster = start.timeWaster { settings.timeWaster = timeWaster }
        if let offerConnect = start.offerConnect { settings.offerConnect = offerConnect }
        self.start = start
        self.engine = ConversationEngine(classifier: classifier, settings: settings)
        _ = inbound.receive(seq: frame.seq)
    }

    public var lastReceivedSeq: UInt64 { inbound.lastSeq }

    /// The opening turn, sent right after `start`.
    public mutating func open() -> Output {
        let turn = engine.open()
        var output = Output()
        output.turn = turn
        output.frames.append(send(.reply(Self.reply(turn))))
        return output
    }

    /// The classification a frame needs, if it is a final transcript with words in it; pass it to `receive`.
    public func classify(_ frame: ProtocolFrame<ConversationMessage>) -> IntentClassification? {
        guard case .transcript(let transcript) = frame.message, transcript.final, ended == nil else { return nil }
        let text = transcript.text.trimmingWhitespace()
        return text.isEmpty ? nil : engine.classifier.classify(String(text))
    }

    /// A frame from the media role, `at` after the call's start; a final transcript's `classification` comes from
    /// `classify(_:)` (computed here when nil).
    public mutating func receive(_ frame: ProtocolFrame<ConversationMessage>, at: Duration, classification: IntentClassification? = nil) -> Output {
        var output = Output()
        if let ack = frame.ack { outbound.acknowledge(upTo: ack) }
        switch inbound.receive(seq: frame.seq) {
        case .accept: break
        case .duplicate: return output  // a retransmission after resume: already handled
        case .gap(let expected, let received):
            // Over one WebSocket nothing is lost; a gap means the peer skipped frames. Resume fixes it.
            return refuse(Refusal(code: "sequence_gap", message: "expected seq \(expected), got \(received): send resume", recoverable: false), into: &output)
        }
        switch frame.message {
        case .transcript(let transcript):
            guard transcript.final else {
                // The caller is speaking: a recorded message still going is not "quiet".
                transcripts[transcript.utteranceId] = transcript
                engine.callerActive(at: max(at, .milliseconds(transcript.endMs)))
                return output
            }
            transcripts[transcript.utteranceId] = nil
            let text = transcript.text.trimmingWhitespace()
            guard !text.isEmpty else { return output }
            let callerAt = max(at, .milliseconds(transcript.endMs))
            let classification = classification ?? engine.classifier.classify(String(text))
            guard let turn = engine.caller(said: String(text), classification: classification, at: callerAt) else { return output }
            output.classification = classification
            if holdsRepliesForRewrite, turn.action == .continue, !turn.text.isEmpty {
                output.turn = turn
                output.heldTurn = turn
                heldUtterance = transcript.utteranceId
            } else {
                emit(turn, inReplyTo: transcript.utteranceId, into: &output)
            }
        case .dtmf(let dtmf):
            guard dtmf.digit.count == 1, "0123456789*#ABCD".contains(dtmf.digit) else {
                return refuse(Refusal(code: "bad_value", message: "dtmf digit must be one of 0-9 * # A-D, got \"\(dtmf.digit)\"", recoverable: true), into: &output)
            }
            if let turn = engine.digit(dtmf.digit, at: at) { emit(turn, into: &output) }
        case .bargeIn:
            engine.bargedIn()
        case .playbackStarted, .playbackFinished:
            break
        case .ping(let ping):
            output.frames.append(send(.pong(ping)))
        case .pong:
            break
        case .error(let error):
            if !error.recoverable {
                ended = .error
                output.finished = true
            }
        case .end(let end):
            ended = end.reason
            output.finished = true
        case .start:
            return refuse(Refusal(code: "unexpected_message", message: "start is only the first frame of a connection", recoverable: true), into: &output)
        case .resume:
            return refuse(Refusal(code: "unexpected_message", message: "resume is only the first frame of a new connection", recoverable: true), into: &output)
        case .reply:
            return refuse(Refusal(code: "unexpected_message", message: "reply is sent by the conversation role, not to it", recoverable: true), into: &output)
        }
        return output
    }

    /// Sends a held reply with `text` (the LLM's wording or the template's); nothing when the call ended meanwhile.
    public mutating func release(_ turn: DialogTurn, text: String) -> Output {
        var output = Output()
        guard ended == nil, engine.dialog.ended == nil else { return output }
        var worded = turn
        worded.text = text
        emit(worded, inReplyTo: heldUtterance, into: &output)
        heldUtterance = nil
        return output
    }

    /// The clock, about once a second: the maximum duration and the end of a recorded message.
    public mutating func tick(at: Duration) -> Output {
        var output = Output()
        if ended == nil, let turn = engine.tick(at: at) { emit(turn, into: &output) }
        return output
    }

    /// A new connection's `resume`: the frames the media role missed, after our own `resume` with the last frame
    /// we received (so the media role retransmits what we missed).
    public mutating func resume(after lastSeq: UInt64) throws(Refusal) -> [ProtocolFrame<ConversationMessage>] {
        let missed: [ProtocolFrame<ConversationMessage>]
        do {
            missed = try outbound.resend(after: lastSeq)
        } catch {
            throw Refusal(code: "cannot_resume", message: "\(error)", recoverable: false)
        }
        // `resume` stands outside the sequence (seq 0) both ways, like media-control's hello and welcome.
        let resume = ProtocolFrame<ConversationMessage>(seq: 0, ack: inbound.lastSeq, message: .resume(.init(callId: start.callId, lastSeq: inbound.lastSeq)))
        return [resume] + missed.map { frame in
            var frame = frame
            frame.ack = inbound.lastSeq
            return frame
        }
    }

    /// An error frame for a frame that could not be decoded; `seq` when it could still be read, so that the frames
    /// after it are in order.
    public mutating func refusal(_ refusal: Refusal, seq: UInt64? = nil) -> Output {
        var output = Output()
        if let seq, seq == inbound.lastSeq + 1 { _ = inbound.receive(seq: seq) }
        return refuse(refusal, into: &output)
    }

    private mutating func refuse(_ refusal: Refusal, into output: inout Output) -> Output {
        output.frames.append(send(.error(refusal)))
        if !refusal.recoverable {
            ended = .error
            output.finished = true
        }
        return output
    }

    private mutating func emit(_ turn: DialogTurn, inReplyTo utterance: String? = nil, into output: inout Output) {
        output.turn = turn
        var reply = Self.reply(turn)
        reply.inReplyTo = utterance
        if turn.action == .transfer {
            // What they first said is who they are and why they call (the last is their "yes").
            let dialog = engine.dialog
            reply.summary = CallSummary.line(caller: start.caller.number?.rawValue, intent: dialog.callIntent, said: dialog.callerUtterances.first ?? "")
        }
        output.frames.append(send(.reply(reply)))
    }

    private mutating func send(_ message: ConversationMessage) -> ProtocolFrame<ConversationMessage> {
        outbound.send(message, ack: inbound.lastSeq)
    }

    static func reply(_ turn: DialogTurn) -> ConversationMessage.Reply {
        .init(turnId: turn.turnId, text: turn.text, action: turn.action, intent: turn.intent?.rawValue, confidence: turn.confidence, endReason: turn.endReason?.rawValue)
    }
}
