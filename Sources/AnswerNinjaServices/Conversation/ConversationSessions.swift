import AnswerNinjaCore
import Conversation
import Foundation
import Logging
import Metrics
import Prometheus

/// The conversation role's calls: one `ConversationSession` per AI call, kept across dropped connections for the
/// resume window. Each connection hands the actor a sink; the actor encodes and queues outbound frames in `seq`
/// order while it holds the session, so frames reach the socket in the order they were numbered, whichever task
/// (the connection's reader or the clock) produced them.
actor ConversationSessions {
    /// What a connection writes: a text frame, or a close after the frames before it.
    enum Outgoing: Sendable, Equatable {
        case text(String)
        case close(reason: String)
    }

    typealias Sink = AsyncStream<Outgoing>.Continuation

    private struct Entry {
        var session: ConversationSession
        let startedAt: ContinuousClock.Instant
        /// The connection that holds the call now, if any, and its sink.
        var connection: UInt64?
        var sink: Sink?
        var detachedAt: ContinuousClock.Instant?
    }

    /// A reply held for the LLM responder, with what it needs to word it.
    struct Held: Sendable {
        var turn: DialogTurn
        var prompt: ChatResponder.Prompt
    }

    let classifier: IntentClassifier
    let settings: DialogSettings
    let rewritesReplies: Bool
    let resumeWindow: Duration
    let telemetry: Telemetry
    let logger: Logger
    private let clock = ContinuousClock()
    private var entries: [CallID: Entry] = [:]

    init(classifier: IntentClassifier, settings: DialogSettings, rewritesReplies: Bool, resumeWindow: Duration, telemetry: Telemetry, logger: Logger) {
        self.classifier = classifier
        self.settings = settings
        self.rewritesReplies = rewritesReplies
        self.resumeWindow = resumeWindow
        self.telemetry = telemetry
        self.logger = logger
    }

    var count: Int { entries.count }

    /// A connection's first frame. Returns the call it now holds, or nil when the frame was refused (the error is
    /// queued on `sink` and the connection closed).
    func attach(first frame: ProtocolFrame<ConversationMessage>, connection: UInt64, sink: Sink) -> CallID? {
        switch frame.message {
        case .start(let start):
            if let existing = entries[start.callId], existing.session.ended == nil {
                refuseBeforeSession(.init(code: "duplicate_call", message: "call \(start.callId) already has a conversation: send resume", recoverable: false), sink: sink)
                return nil
            }
            do {
                var session = try ConversationSession(start: frame, classifier: classifier, settings: settings)
                session.holdsRepliesForRewrite = rewritesReplies
                let output = session.open()
                entries[start.callId] = Entry(session: session, startedAt: clock.now, connection: connection, sink: sink)
                logger.info("conversation started", metadata: ["call_id": "\(start.callId)", "persona": "\(start.persona)"])
                deliver(output, for: start.callId)
                return start.callId
            } catch {
                refuseBeforeSession(error, sink: sink)
                return nil
            }
        case .resume(let resume):
            guard frame.seq == 0 else {
                refuseBeforeSession(.init(code: "bad_sequence", message: "resume stands outside the sequence: seq 0, got \(frame.seq)", recoverable: false), sink: sink)
                return nil
            }
            guard var entry = entries[resume.callId], entry.session.ended == nil else {
                refuseBeforeSession(.init(code: "unknown_call", message: "no conversation for call \(resume.callId) (ended or expired): start a new one", recoverable: false), sink: sink)
                return nil
            }
            do {
                let frames = try entry.session.resume(after: resume.lastSeq)
                entry.sink?.yield(.close(reason: "resumed elsewhere"))
                entry.connection = connection
                entry.sink = sink
                entry.detachedAt = nil
                entries[resume.callId] = entry
                logger.info("conversation resumed", metadata: ["call_id": "\(resume.callId)", "resent": "\(frames.count - 1)"])
                for frame in frames { queue(frame, on: sink) }
                return resume.callId
            } catch {
                entries[resume.callId] = nil
                refuseBeforeSession(error, sink: sink)
                return nil
            }
        default:
            refuseBeforeSession(.init(code: "no_session", message: "the first frame of a connection is start or resume, not \(frame.message.type)", recoverable: false), sink: sink)
            return nil
        }
    }

    /// A first frame that could not be decoded.
    func refuseFirst(_ refusal: ConversationSession.Refusal, sink: Sink) {
        refuseBeforeSession(refusal, sink: sink)
    }

    /// A later frame of the connection that holds `callId`; a reply held for the LLM responder, if any.
    func receive(_ frame: ProtocolFrame<ConversationMessage>, callId: CallID, connection: UInt64, receivedAt: ContinuousClock.Instant) -> Held? {
        guard var entry = entries[callId], entry.connection == connection else { return nil }
        let at = clock.now - entry.startedAt
        let classifyStart = clock.now
        let classification = entry.session.classify(frame)
        let dialogStart = clock.now
        let output = entry.session.receive(frame, at: at, classification: classification)
        let done = clock.now
        entries[callId] = entry
        if classification != nil {
            telemetry.histogram(.conversationStageLatency, ["stage": "classify"]).record(dialogStart - classifyStart)
        }
        if output.turn != nil {
            telemetry.histogram(.conversationStageLatency, ["stage": "dialog"]).record(done - dialogStart)
        }
        deliver(output, for: callId)
        if let held = output.heldTurn {
            let dialog = entry.session.engine.dialog
            let prompt = ChatResponder.Prompt(
                persona: dialog.settings.persona, userName: dialog.settings.userName, intent: held.intent, template: held.text,
                callerSaid: dialog.callerUtterances
            )
            return Held(turn: held, prompt: prompt)
        }
        if output.turn != nil {
            telemetry.histogram(.conversationStageLatency, ["stage": "reply"]).record(clock.now - receivedAt)
        }
        return nil
    }

    /// Sends a held reply worded `text`.
    func release(_ turn: DialogTurn, text: String, callId: CallID, receivedAt: ContinuousClock.Instant) {
        guard var entry = entries[callId] else { return }
        let output = entry.session.release(turn, text: text)
        entries[callId] = entry
        deliver(output, for: callId)
        telemetry.histogram(.conversationStageLatency, ["stage": "reply"]).record(clock.now - receivedAt)
    }

    /// A frame of the connection that holds `callId` that could not be decoded; `seq` when it could be read.
    func refuse(_ refusal: ConversationSession.Refusal, seq: UInt64?, callId: CallID, connection: UInt64) {
        guard var entry = entries[callId], entry.connection == connection else { return }
        let output = entry.session.refusal(refusal, seq: seq)
        entries[callId] = entry
        deliver(output, for: callId)
    }

    /// The connection that held `callId` is gone: keep the call for the resume window.
    func detach(callId: CallID, connection: UInt64) {
        guard var entry = entries[callId], entry.connection == connection else { return }
        entry.connection = nil
        entry.sink = nil
        entry.detachedAt = clock.now
        entries[callId] = entry
        logger.info("conversation detached", metadata: ["call_id": "\(callId)", "resume_window": "\(resumeWindow)"])
    }

    /// The clock, about once a second: every call's timers, and calls whose connection did not come back.
    func tick() {
        let now = clock.now
        for callId in Array(entries.keys) {
            guard var entry = entries[callId] else { continue }
            if let detachedAt = entry.detachedAt, now - detachedAt >= resumeWindow {
                entries[callId] = nil
                logger.info("conversation expired", metadata: ["call_id": "\(callId)"])
                continue
            }
            let output = entry.session.tick(at: now - entry.startedAt)
            entries[callId] = entry
            deliver(output, for: callId)
        }
    }

    /// Queues `output` on the call's connection (frames produced while detached wait in the session's sequencer for
    /// a resume) and forgets the call when it is over.
    private func deliver(_ output: ConversationSession.Output, for callId: CallID) {
        let sink = entries[callId]?.sink
        for frame in output.frames {
            if case .reply(let reply) = frame.message {
                telemetry.counter(.conversationTurns, ["action": reply.action.rawValue]).increment()
            }
            if case .error(let error) = frame.message {
                telemetry.counter(.conversationProtocolErrors, ["code": error.code]).increment()
            }
            if let sink { queue(frame, on: sink) }
        }
        if output.finished {
            sink?.yield(.close(reason: "conversation over"))
            entries[callId] = nil
            logger.info("conversation ended", metadata: ["call_id": "\(callId)"])
        }
    }

    private func refuseBeforeSession(_ refusal: ConversationSession.Refusal, sink: Sink) {
        telemetry.counter(.conversationProtocolErrors, ["code": refusal.code]).increment()
        let frame = ProtocolFrame<ConversationMessage>(seq: 1, message: .error(.init(code: refusal.code, message: refusal.message, recoverable: false)))
        queue(frame, on: sink)
        sink.yield(.close(reason: refusal.code))
    }

    private func queue(_ frame: ProtocolFrame<ConversationMessage>, on sink: Sink) {
        do {
            sink.yield(.text(try ProtocolCodec.encode(frame)))
        } catch {
            logger.error("cannot encode a conversation frame", metadata: ["type": "\(frame.message.type)", "error": "\(error)"])
        }
    }
}
