import AnswerNinjaCore
import Conversation
import Foundation
import Hummingbird
import HummingbirdWebSocket
import Logging
import NIOConcurrencyHelpers
import ServiceLifecycle

/// The conversation role's WebSocket, `/internal/conversation` (docs/protocols/conversation.md): one connection
/// per AI call from the media role. Text frames only; a frame that cannot be read gets an `error` with a code and
/// the connection stays up unless the error says otherwise.
public struct ConversationEndpoint: Sendable {
    public static let path = "/internal/conversation"
    /// Frames and messages larger than this are refused by the WebSocket layer (a transcript is a few hundred
    /// bytes); `webSocketConfiguration` sets it on the server.
    public static let maxFrameSize = 64 * 1024

    /// The WebSocket server settings of the role's HTTP listener: the frame limit above, pings every 30 s.
    public static var webSocketConfiguration: WebSocketServerConfiguration {
        WebSocketServerConfiguration(maxFrameSize: maxFrameSize, autoPing: .enabled(timePeriod: .seconds(30)))
    }

    let sessions: ConversationSessions
    let responder: ChatResponder?
    let telemetry: Telemetry
    let logger: Logger
    private let connections = NIOLockedValueBox<UInt64>(0)

    public init(configuration: NinjaConfiguration, telemetry: Telemetry, logger: Logger) throws {
        let conversation = configuration.conversation
        let settings = Self.dialogSettings(conversation)
        let classifier = try IntentClassifier.bundled(threshold: conversation.intentThreshold)
        self.responder = conversation.llmURL.map {
            ChatResponder(settings: .init(url: $0, model: conversation.llmModel, apiKey: conversation.llmAPIKey, budget: conversation.llmBudget), logger: logger)
        }
        self.sessions = ConversationSessions(
            classifier: classifier, settings: settings, rewritesReplies: responder != nil, resumeWindow: conversation.resumeWindow,
            telemetry: telemetry, logger: logger
        )
        self.telemetry = telemetry
        self.logger = logger
    }

    /// The dialog defaults of `conversation.*` (the termination policy); each call's `start` sets the rest.
    static func dialogSettings(_ conversation: NinjaConfiguration.Conversation) -> DialogSettings {
        var settings = DialogSettings()
        settings.policy.maximumTurns = conversation.maxTurns
        settings.policy.maximumDuration = conversation.maxDuration
        settings.policy.persistenceLimit = conversation.persistenceLimit
        settings.policy.frustrationLimit = conversation.frustrationLimit
        settings.policy.effectivenessFloor = conversation.effectivenessFloor
        settings.policy.effectivenessAfterTurns = conversation.effectivenessAfter
        settings.policy.recordingSilence = conversation.recordingSilence
        return settings
    }

    /// Adds the WebSocket route to `router`.
    public func register(on router: Router<BasicWebSocketRequestContext>) {
        router.ws(RouterPath(stringLiteral: Self.path)) { inbound, outbound, _ in
            await self.serve(inbound: inbound, outbound: outbound)
        }
    }

    /// The clock of every call (maximum duration, end of a recorded message) and the resume window. At graceful
    /// shutdown it drains: `/ready` turns 503 (no new conversations are sent here) and the conversations in progress
    /// go on until they end or `grace` runs out. Put it after the HTTP service in the group, which stops services in
    /// reverse order: the WebSockets stay open while it drains.
    public func clockService(readiness: Readiness, grace: Duration) -> some Service {
        ConversationClock(sessions: sessions, readiness: readiness, telemetry: telemetry, grace: grace, logger: logger)
    }

    func serve(inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter) async {
        let connection = connections.withLockedValue { $0 += 1; return $0 }
        let gauge = telemetry.websocketConnections(.conversation)
        gauge.increment()
        defer { gauge.decrement() }
        let (queue, sink) = AsyncStream<ConversationSessions.Outgoing>.makeStream()
        await withTaskGroup(of: Void.self) { group in
            // The writer: frames in the order the sessions numbered them, then a close.
            group.addTask {
                for await item in queue {
                    switch item {
                    case .text(let text):
                        do { try await outbound.write(.text(text)) } catch { return }
                    case .close(let reason):
                        try? await outbound.close(.normalClosure, reason: reason)
                        return
                    }
                }
            }
            await self.read(inbound, connection: connection, sink: sink)
            sink.finish()
            await group.waitForAll()
        }
    }

    private func read(_ inbound: WebSocketInboundStream, connection: UInt64, sink: ConversationSessions.Sink) async {
        var callId: CallID?
        do {
            for try await message in inbound.messages(maxSize: Self.maxFrameSize) {
                let receivedAt = ContinuousClock.now
                guard case .text(let text) = message else {
                    let refusal = ConversationSession.Refusal(code: "bad_message", message: "binary frames are not part of the conversation protocol (text only)", recoverable: true)
                    guard let callId else {
                        await sessions.refuseFirst(refusal, sink: sink)
                        return  // the connection is closing: nothing after a refused first frame counts
                    }
                    await sessions.refuse(refusal, seq: nil, callId: callId, connection: connection)
                    continue
                }
                let frame: ProtocolFrame<ConversationMessage>
                do {
                    frame = try ProtocolCodec.decode(ConversationMessage.self, from: text)
                } catch {
                    let refusal = Self.refusal(for: error)
                    guard let callId else {
                        await sessions.refuseFirst(refusal, sink: sink)
                        return
                    }
                    await sessions.refuse(refusal, seq: Self.sequenceNumber(in: text), callId: callId, connection: connection)
                    continue
                }
                if let callId {
                    if let held = await sessions.receive(frame, callId: callId, connection: connection, receivedAt: receivedAt) {
                        await word(held, callId: callId, receivedAt: receivedAt)
                    }
                } else {
                    callId = await sessions.attach(first: frame, connection: connection, sink: sink)
                    if callId == nil { return }
                }
            }
        } catch {
            logger.info("conversation connection failed", metadata: ["call_id": "\(callId.map { "\($0)" } ?? "-")", "error": "\(error)"])
        }
        if let callId { await sessions.detach(callId: callId, connection: connection) }
    }

    /// The LLM responder's wording of a held reply, or the template's when it is late or fails. This connection's
    /// next frame waits meanwhile, so replies stay in order.
    private func word(_ held: ConversationSessions.Held, callId: CallID, receivedAt: ContinuousClock.Instant) async {
        var text = held.turn.text
        if let responder {
            let started = ContinuousClock.now
            let outcome = await responder.rewrite(held.prompt)
            telemetry.histogram(.conversationStageLatency, ["stage": "llm"]).record(ContinuousClock.now - started)
            switch outcome {
            case .rewritten(let worded):
                text = worded
                telemetry.counter(.conversationLLM, ["outcome": "rewritten"]).increment()
            case .overBudget:
                telemetry.counter(.conversationLLM, ["outcome": "over_budget"]).increment()
            case .failed(let reason):
                telemetry.counter(.conversationLLM, ["outcome": "failed"]).increment()
                logger.warning("LLM responder failed; the template reply is used", metadata: ["call_id": "\(callId)", "error": "\(reason)"])
            }
        }
        await sessions.release(held.turn, text: text, callId: callId, receivedAt: receivedAt)
    }

    static func refusal(for error: CoreError) -> ConversationSession.Refusal {
        if error.code == .unsupportedVersion {
            return .init(code: "unsupported_version", message: error.message, recoverable: false)
        }
        return .init(code: "bad_message", message: error.message, recoverable: true)
    }

    /// The `seq` of a frame that did not decode, when its JSON still has one.
    static func sequenceNumber(in text: String) -> UInt64? {
        struct Header: Decodable { var seq: UInt64? }
        return (try? JSONDecoder().decode(Header.self, from: Data(text.utf8)))?.seq
    }
}

/// Ticks every conversation once a second until shutdown, then drains them.
struct ConversationClock: Service {
    let sessions: ConversationSessions
    let readiness: Readiness
    let telemetry: Telemetry
    let grace: Duration
    let logger: Logger

    /// Returns at graceful shutdown once the conversations have ended (or `grace` has passed): the sleep's
    /// cancellation is the signal to stop ticking.
    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    try await Task.sleep(for: .seconds(1))
                } catch {
                    return
                }
                await sessions.tick()
            }
        }
        readiness.report("conversation", ready: false, detail: "draining")
        telemetry.setDraining(true)
        let open = await sessions.count
        guard open > 0 else { return }
        logger.notice("draining conversations", metadata: ["conversations": "\(open)", "grace": "\(grace)"])
        let deadline = ContinuousClock.now + grace
        while await sessions.count > 0, ContinuousClock.now < deadline {
            do { try await Task.sleep(for: .milliseconds(200)) } catch { break }  // cancelled: stop waiting
            await sessions.tick()
        }
        let left = await sessions.count
        if left > 0 { logger.warning("drain timed out", metadata: ["conversations": "\(left)", "grace": "\(grace)"]) }
    }
}
