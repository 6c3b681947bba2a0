import AnswerNinjaCore
import Conversation
import Foundation
import Logging
import NIOSSL
import MediaDSP
import MediaTransport
import Speech
import Store
import Synchronization

/// What every assistant call shares — the intent classifier, the recogniser (pocketsphinx decoders, or a remote
/// provider) and the synthesizer — loaded once, on the first call that needs them (so that a gateway that only
/// bridges, and the many short-lived processes of the tests, do not pay for decoders they never use).
actor AssistantLoader {
    struct Services: Sendable {
        let classifier: IntentClassifier
        let recognizer: any SpeechRecognizer
        let synthesizer: any SpeechSynthesizer
        let providers: SpeechProviders
    }

    private let speech: NinjaConfiguration.Speech
    private var loading: Task<Services, any Error>?
    /// Turns may end on their words (`speech.endpointing`).
    nonisolated let endpointOnWords: Bool
    /// The conversation role's WebSocket (one connection per AI call), when it can be known; nil: the conversation
    /// runs in this process.
    nonisolated let conversationURL: @Sendable () -> String?
    /// For a wss:// conversation URL: the system's roots and `conversation.tls_ca`.
    nonisolated let conversationTrust: TLSConfiguration
    /// The client certificate presented to a conversation role that asks for one (read again when renewed).
    nonisolated let clientCertificate: ReloadingCertificate?

    /// The TLS configuration of the next conversation connection.
    nonisolated var conversationTLS: TLSConfiguration {
        var tls = conversationTrust
        if let pair = clientCertificate?.current() {
            tls.certificateChain = pair.chain
            tls.privateKey = pair.key
        }
        return tls
    }
    /// The termination policy and the other dialog defaults of `conversation.*`, for a conversation run here.
    nonisolated let dialogDefaults: DialogSettings
    nonisolated let telemetry: Telemetry

    init(
        speech: NinjaConfiguration.Speech, conversation: NinjaConfiguration.Conversation, conversationURL: @escaping @Sendable () -> String?,
        conversationCA: String? = nil, clientCertificate: ReloadingCertificate? = nil, telemetry: Telemetry
    ) {
        self.speech = speech
        endpointOnWords = speech.endpointOnWords
        self.conversationURL = conversationURL
        var tls = TLSConfiguration.makeClientConfiguration()
        if let conversationCA { tls.additionalTrustRoots = [.file(conversationCA)] }
        conversationTrust = tls
        self.clientCertificate = clientCertificate
        dialogDefaults = ConversationEndpoint.dialogSettings(conversation)
        self.telemetry = telemetry
    }

    /// The engines of this process's configuration: the conversation at `conversation.url` (or this process's own
    /// role), its CA, and the client certificate presented there.
    init(context: ServiceContext) throws {
        let configuration = context.configuration
        self.init(
            speech: configuration.speech, conversation: configuration.conversation,
            conversationURL: SIPGatewayService.conversationURL(context: context), conversationCA: configuration.media.conversationCA,
            clientCertificate: try configuration.media.conversationClientCertificate.flatMap { certificate in
                try configuration.media.conversationClientPrivateKey.map { try ReloadingCertificate(certificate: certificate, key: $0) }
            },
            telemetry: context.telemetry
        )
    }

    func services() async throws -> Services {
        if let loading { return try await loading.value }
        let speech = speech
        let task = Task {
            let providers = try await SpeechProviders.make(speech)
            return Services(classifier: try IntentClassifier.bundled(), recognizer: providers.recognizer, synthesizer: providers.synthesizer, providers: providers)
        }
        loading = task
        return try await task.value
    }

    func shutdown() async {
        guard let services = try? await loading?.value else { return }
        try? await services.providers.embeddedRecognizer.shutdown()
    }
}

/// The assistant on one answered call: the caller's audio (after the jitter buffer) → VAD and adaptive endpointing →
/// speech recognition → the conversation engine (intent, dialog, persona) → the reply synthesised → RTP at 20 ms.
/// It speaks first (the disclosure and the greeting), stops when the caller speaks over it (barge-in), hangs up after
/// its final line has played out, and asks for a take-over when the dialog transfers. Each turn reaches the call
/// record with its stage times (`vad_end → stt_final → reply → tts_first → rtp_first`, from one monotonic clock)
/// and the live view as transcript lines and a turn.
///
/// An actor fed by one stream of what the session heard: frames are handled in order, recognition and synthesis
/// run on their own threads, and the session is only ever told what to play.
actor AssistantCall {
    struct Context: Sendable {
        var callId: String
        var userId: String?
        /// The record's key.
        var startedAt: Int64
        /// The conversation's `start`: persona, the user's dialog options, the caller.
        var start: ConversationMessage.Start
        /// The user's own greeting, said instead of the persona's opening line.
        var greeting: String?
    }

    /// What the call asks of the gateway.
    struct Actions: Sendable {
        var hangUp: @Sendable (_ reason: String) async -> Void
        /// Ring the user's devices; the line is said to the one that answers before the caller is put through.
        var takeOver: @Sendable (_ announcement: String?) async -> Void
    }

    let context: Context
    private let session: RTPCallSession
    private let loader: AssistantLoader
    private let actions: Actions
    /// Where the intent, the caller's words and each turn go: the call record and the live view in the gateway's
    /// process, or the control channel from a media role.
    private let report: @Sendable (AssistantReport) -> Void
    /// The stage latencies of the caller's turns go to `call_stage_latency_seconds` and `turn_latency_seconds`.
    private let metrics: GatewayMetrics?
    private let logger: Logger
    private let answered = ContinuousClock.now

    /// The conversation: the conversation role over its WebSocket, or this process when the role is not reached.
    private var dialog: (any DialogLink)?
    private var services: AssistantLoader.Services?
    /// What the caller said, sent to the conversation and not yet answered, by utterance id: the reply that answers
    /// it (`in_reply_to`) is its turn, with these stage marks.
    private var awaiting: [String: (text: String, marks: [LatencyStage: ContinuousClock.Instant])] = [:]
    private var utterances = 0
    private var openingSaid = false
    /// When the conversation began: the transcripts' times count from here, as the conversation's clock does.
    private var dialogOpened = ContinuousClock.now
    /// The conversation ended under the call (the role gave up or could not be reached again): once the line being
    /// said has played, the call is hung up.
    private var conversationLost = false
    /// How the call is ending, for the conversation's `end`.
    private var endReason: ReleaseReason = .callerHangup
    /// Echo cancelled (our own audio, reflected by the trunk or the handset, so that the assistant does not barge in
    /// on itself), then the VAD and the endpointer.
    private var listener = CallerListener()
    private var recognition: (any RecognitionStream)?
    /// The last 300 ms heard: the start of an utterance, before the VAD's onset, goes to the recogniser too.
    private var preRoll: [Int16] = []
    private var inUtterance = false
    /// The line being synthesised or played, and its turn's number: the caller speaking meanwhile is a barge-in.
    private var speaking: Task<Void, Never>?
    private var speakingTurn: Int?
    /// The conversation's id of the line being said (for `barge_in`).
    private var speakingTurnId: String?
    private var turns = 0
    private var ended = false
    private var tasks: [Task<Void, Never>] = []
    private let heard: AsyncStream<RTPCallSession.Heard>
    private let heardContinuation: AsyncStream<RTPCallSession.Heard>.Continuation

    init(
        context: Context, session: RTPCallSession, loader: AssistantLoader, actions: Actions, report: @escaping @Sendable (AssistantReport) -> Void,
        metrics: GatewayMetrics? = nil, logger: Logger
    ) {
        self.metrics = metrics
        self.context = context
        self.session = session
        self.loader = loader
        self.actions = actions
        self.report = report
        self.logger = logger
        (heard, heardContinuation) = AsyncStream.makeStream(of: RTPCallSession.Heard.self, bufferingPolicy: .bufferingNewest(500))
    }

    private var elapsed: Duration { ContinuousClock.now - answered }

    /// Starts listening and says the opening line. If the speech engines cannot load, the caller hears nothing more
    /// than silence and the call is recorded (logged).
    func start() async {
        let continuation = heardContinuation
        session.listen { continuation.yield($0) }
        let classifier: IntentClassifier
        do {
            let services = try await loader.services()
            // The caller may have hung up while the engines loaded (the first call of a process).
            guard !ended else { return }
            self.services = services
            classifier = services.classifier
        } catch {
            logger.error("assistant not started: speech engines did not load", metadata: ["call_id": "\(context.callId)", "error": "\(error)"])
            return
        }
        let start = context.start, defaults = loader.dialogDefaults
        let dialog = await DialogLinks.open(
            url: loader.conversationURL(), tls: loader.conversationTLS, start: start, local: LocalDialogLink(start: start, classifier: classifier, settings: defaults),
            telemetry: loader.telemetry, logger: logger
        )
        guard !ended else {
            await dialog.close(endReason)
            return
        }
        self.dialog = dialog
        dialogOpened = .now
        logger.info("conversation opened", metadata: ["call_id": "\(context.callId)", "where": "\(dialog.kind)"])
        let replies = dialog.replies
        tasks.append(Task {
            for await reply in replies { self.replied(reply) }
            await self.conversationOver()
        })
        let heard = heard
        tasks.append(Task { for await frame in heard { await self.hear(frame) } })
    }

    /// The call is over: everything stops, the recogniser's decoder goes back to its pool.
    func stop(_ reason: ReleaseReason = .callerHangup) async {
        if !ended { endReason = reason }
        ended = true
        heardContinuation.finish()
        speaking?.cancel()
        for task in tasks { task.cancel() }
        await dialog?.close(endReason)
        await recognition?.close()
        recognition = nil
    }

    // MARK: Listening

    /// A digit sent in a SIP INFO (RFC 4733 digits arrive with the frames).
    func digit(_ digit: String) async {
        guard !ended, let dialog else { return }
        await dialog.send(.dtmf(.init(digit: digit, durationMs: 0)))
    }

    /// A reply of the conversation: the answer to what the caller said last, or one of its own (the opening line,
    /// the clock's).
    private func replied(_ reply: ConversationMessage.Reply) {
        guard !ended else { return }
        var reply = reply
        if !openingSaid {
            openingSaid = true
            if let greeting = context.greeting { reply.text = greeting }
            respond(reply, callerText: "", marks: [:])
            return
        }
        if let utterance = reply.inReplyTo, let (text, marks) = awaiting.removeValue(forKey: utterance) {
            respond(reply, callerText: text, marks: marks.merging([.reply: .now]) { $1 })
        } else {
            respond(reply, callerText: "", marks: [:])
        }
    }

    /// What the caller hears when the conversation is lost under the call, before the hang-up.
    static let lostGoodbye = "I'm sorry, I have to end this call now. Please call again later. Goodbye."

    /// The conversation ended without a goodbye of its own (the role gave up, or could not be reached again): the
    /// caller hears a goodbye of ours, then the call is hung up, rather than silence and a sudden BYE.
    private func conversationOver() async {
        guard !ended else { return }
        conversationLost = true
        // A line still playing ends first (`finished` comes back here).
        guard speaking == nil else { return }
        logger.warning("the conversation ended under the call: saying goodbye", metadata: ["call_id": "\(context.callId)"])
        // Nothing more is listened to: no one is left to answer, and no barge-in cuts the goodbye short.
        ended = true
        respond(.init(turnId: "goodbye", text: Self.lostGoodbye, action: .hangup, endReason: "conversation lost"), callerText: "", marks: [:])
    }

    private func hear(_ frame: RTPCallSession.Heard) async {
        guard !ended, let dialog, let services else { return }
        for digit in frame.digits { await self.digit(String(digit)) }
        let heard = listener.process(received: frame.samples, sent: frame.sent)
        preRoll += heard.samples
        if preRoll.count > 2400 { preRoll.removeFirst(preRoll.count - 2400) }
        var started = false
        for event in heard.events {
            switch event {
            case .speechStarted:
                logger.debug("caller speech started", metadata: ["call_id": "\(context.callId)", "at_ms": "\(Int(elapsed.milliseconds))", "we_speak": "\(frame.speaking)"])
                started = true
                inUtterance = true
                // Barge-in: the caller speaks over us; we stop at once (the flush takes effect on the next tick).
                if frame.speaking || speaking != nil {
                    speaking?.cancel()
                    session.flushPlayback()
                    await dialog.send(.bargeIn(.init(turnId: speakingTurnId ?? "", heardMs: 0)))
                    logger.info("barge-in", metadata: ["call_id": "\(context.callId)"])
                }
                // The caller is speaking: the dialog's silence timers know (a non-final transcript with no words).
                utterances += 1
                let at = Int((ContinuousClock.now - dialogOpened).milliseconds)
                await dialog.send(.transcript(.init(utteranceId: "u\(utterances)", text: "", final: false, confidence: 0, startMs: at, endMs: at)))
                if recognition == nil {
                    let stream = try? await services.recognizer.makeStream(rate: .narrowband)
                    // The call may have stopped while the stream was made: nobody would close it (a streaming one
                    // would hold a decoder for good).
                    guard !ended else {
                        await stream?.close()
                        return
                    }
                    recognition = stream
                }
                _ = try? await recognition?.feed(preRoll)
            case .utteranceDiscarded:
                // A click, not speech: what the recogniser gathered since its start is dropped.
                inUtterance = false
                await recognition?.close()
                recognition = nil
            case .utteranceEnded(let utterance):
                logger.debug("caller utterance ended", metadata: ["call_id": "\(context.callId)", "at_ms": "\(Int(elapsed.milliseconds))", "seconds": "\(utterance.endSeconds - utterance.startSeconds)"])
                inUtterance = false
                await utteranceEnded(vadEnd: .now, endedBy: "silence")
            }
        }
        if inUtterance, !started {
            _ = try? await recognition?.feed(heard.samples)
            // The decode starts while the endpointer waits (250-700 ms) to be sure: stt_final shrinks by that much.
            if heard.resumed { await recognition?.speechResumed() }
            if heard.mayBeOver { await recognition?.speculate() }
            if heard.undecided, loader.endpointOnWords { await endIfWordsFinished() }
        }
    }

    /// The short wait ran out on speech that did not fade: if what the recogniser heard so far reads as a finished
    /// turn, the turn ends now instead of after the long wait. Only in that direction: the first pass lags the audio,
    /// so a hypothesis read in a pause often lacks its last word ("…on your" for "…on your identity"), and holding a
    /// faded pause on it made turns wait 450 ms longer (measured; docs/benchmarks.md).
    private func endIfWordsFinished() async {
        guard let recognition, let text = await recognition.hypothesis() else { return }
        let verdict = TurnCompletion.judge(text)
        logger.debug("turn judged on its words", metadata: ["call_id": "\(context.callId)", "hypothesis": "\(text)", "verdict": "\(verdict)"])
        // The call may have ended, or the utterance been dropped, while the recogniser answered.
        guard verdict == .finished, !ended, inUtterance, self.recognition != nil else { return }
        for event in listener.endUtterance() {
            switch event {
            case .utteranceEnded:
                inUtterance = false
                await utteranceEnded(vadEnd: .now, endedBy: "words")
            case .utteranceDiscarded:
                inUtterance = false
                await self.recognition?.close()
                self.recognition = nil
            case .speechStarted:
                break
            }
        }
    }

    /// - Parameter endedBy: what found the end (`silence`: the endpointer's wait; `words`: the words judged finished).
    private func utteranceEnded(vadEnd: ContinuousClock.Instant, endedBy: String) async {
        guard let recognition, services != nil else { return }
        let result = try? await recognition.finish()
        let sttFinal = ContinuousClock.now
        let text = result?.text.trimmingCharacters(in: .whitespaces) ?? ""
        logger.info("caller utterance", metadata: [
            "call_id": "\(context.callId)", "text": "\(text)", "confidence": "\(result?.confidence ?? 0)", "stt_ms": "\(Int((sttFinal - vadEnd).milliseconds))",
            "ended_by": "\(endedBy)",
        ])
        guard !text.isEmpty, !ended, let dialog else { return }
        report(.heard(turnId: "c\(turns + 1)", text: text, atMs: unixMilliseconds()))
        // The conversation classifies and answers; its reply (in `replied`) is this utterance's turn.
        awaiting["u\(utterances)"] = (text, [.vadEnd: vadEnd, .sttFinal: sttFinal])
        let at = Int((ContinuousClock.now - dialogOpened).milliseconds)
        await dialog.send(.transcript(.init(
            utteranceId: "u\(utterances)", text: text, final: true, confidence: result?.confidence ?? 0, startMs: max(0, at - 1), endMs: at
        )))
    }

    // MARK: Speaking

    /// Says the turn's line (nothing for `listen`), and once it has played out (or was cut short by a barge-in)
    /// records the turn and acts on it: hang up, or take over.
    private func respond(_ turn: ConversationMessage.Reply, callerText: String, marks: [LatencyStage: ContinuousClock.Instant]) {
        turns += 1
        let number = turns
        if let intent = turn.intent, let confidence = turn.confidence { report(.intent(name: intent, confidence: confidence)) }
        speaking?.cancel()
        guard let services else { return }
        let session = session, text = turn.text, logger = logger
        speakingTurn = number
        speakingTurnId = turn.turnId
        speaking = Task {
            var marks = marks
            if !text.isEmpty {
                let firstFrame = Mutex<ContinuousClock.Instant?>(nil)
                do {
                    for try await chunk in services.synthesizer.synthesize(text, rate: .narrowband, priority: .reply) {
                        // A barge-in cancels the rest of the line (what was queued is flushed by the session).
                        if Task.isCancelled { break }
                        if marks[.ttsFirst] == nil {
                            marks[.ttsFirst] = .now
                            session.enqueue(chunk.samples) { firstFrame.withLock { $0 = .now } }
                        } else {
                            session.enqueue(chunk.samples)
                        }
                    }
                } catch where !(error is CancellationError) {
                    logger.error("reply not synthesised", metadata: ["error": "\(error)"])
                } catch {}
                if !Task.isCancelled {
                    let played = AsyncStream.makeStream(of: Void.self)
                    session.whenPlayedOut { played.continuation.finish() }
                    for await _ in played.stream {}
                }
                marks[.rtpFirst] = firstFrame.withLock { $0 }
            }
            await self.finished(turn, number: number, callerText: callerText, marks: marks)
        }
    }

    private func finished(_ turn: ConversationMessage.Reply, number: Int, callerText: String, marks: [LatencyStage: ContinuousClock.Instant]) async {
        if speakingTurn == number {
            speaking = nil
            speakingTurn = nil
            speakingTurnId = nil
        }
        var latencies: [String: Double] = [:]
        var previous: ContinuousClock.Instant?
        for stage in LatencyStage.allCases {
            guard let mark = marks[stage] else { continue }
            if let previous { latencies[stage.rawValue] = (mark - previous).milliseconds }
            previous = mark
        }
        report(.turn(AssistantTurn(
            number: number, turnId: turn.turnId, atMs: unixMilliseconds(), callerText: callerText, replyText: turn.text, intent: turn.intent,
            confidence: turn.confidence, latencies: latencies
        )))
        if !callerText.isEmpty { metrics?.turn(latencies) }
        logger.info("assistant turn", metadata: [
            "call_id": "\(context.callId)", "turn": "\(number)", "action": "\(turn.action.rawValue)", "intent": "\(turn.intent ?? "")",
            "caller": "\(callerText)", "reply": "\(turn.text)", "latency_ms": "\(latencies.sorted { $0.key < $1.key }.map { "\($0.key)=\(Int($0.value))" }.joined(separator: " "))",
        ])
        switch turn.action {
        case .hangup:
            ended = true
            endReason = .assistantHangup
            await actions.hangUp("The assistant ended the call: \(turn.endReason ?? "policy")")
        case .transfer:
            // The conversation's summary: who calls, why, and what they first said.
            await actions.takeOver(turn.summary)
        case .continue, .listen:
            if conversationLost, !ended, speaking == nil { await conversationOver() }
        }
    }
}
