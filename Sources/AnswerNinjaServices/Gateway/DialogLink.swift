import AnswerNinjaCore
import Conversation
import Foundation
import HummingbirdWSClient
import Logging
import NIOSSL

/// One AI call's conversation as the assistant sees it (docs/protocols/conversation.md): what the caller does goes
/// out as protocol messages (`start` is sent when the link is made); the conversation's replies, the opening line
/// first and then its answers and its clock's own turns, come on `replies`, which ends when the conversation does.
protocol DialogLink: Sendable {
    var replies: AsyncStream<ConversationMessage.Reply> { get }
    /// Where the conversation runs: `remote` (the conversation role's WebSocket) or `local` (in this process).
    var kind: String { get }
    func send(_ message: ConversationMessage) async
    /// Sends `end` with `reason` and lets go of the conversation.
    func close(_ reason: ReleaseReason) async
}

enum DialogLinks {
    /// Opens a link for `start`: over the conversation role's WebSocket at `url` when one is given and answers in
    /// time, else in this process with `local` (logged: a conversation role that is down costs no call).
    static func open(
        url: String?, tls: TLSConfiguration? = nil, start: ConversationMessage.Start, local: @autoclosure () -> LocalDialogLink, telemetry: Telemetry,
        logger: Logger
    ) async -> any DialogLink {
        if let url {
            do {
                return try await RemoteDialogLink.open(url: url, tls: tls, start: start, telemetry: telemetry, logger: logger)
            } catch {
                telemetry.counter(.conversationFallbacks, [:]).increment()
                logger.warning("conversation role not reached: the conversation runs in this process", metadata: [
                    "call_id": "\(start.callId)", "url": "\(url)", "error": "\(error)",
                ])
            }
        }
        let link = local()
        await link.run()
        return link
    }
}

/// The conversation in this process: the protocol's `ConversationSession`, fed the frames the WebSocket would carry,
/// with its own clock (once a second, as the conversation role's). The fallback when the role cannot be reached.
actor LocalDialogLink: DialogLink {
    nonisolated let replies: AsyncStream<ConversationMessage.Reply>
    nonisolated let kind = "local"
    private let continuation: AsyncStream<ConversationMessage.Reply>.Continuation
    private var session: ConversationSession?
    private var outbound = OutboundSequencer<ConversationMessage>()
    private let started = ContinuousClock.now
    private var clock: Task<Void, Never>?

    init(start: ConversationMessage.Start, classifier: IntentClassifier, settings: DialogSettings) {
        (replies, continuation) = AsyncStream.makeStream(of: ConversationMessage.Reply.self)
        let frame = outbound.send(.start(start))
        do {
            var session = try ConversationSession(start: frame, classifier: classifier, settings: settings)
            let output = session.open()
            self.session = session
            for case .reply(let reply) in output.frames.map(\.message) { continuation.yield(reply) }
        } catch {
            continuation.finish()
        }
    }

    /// Starts the clock (the dialog's maximum duration and silence timers).
    func run() {
        guard clock == nil else { return }
        clock = Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(1))
                guard let self else { return }
                await self.tick()
            }
        }
    }

    func send(_ message: ConversationMessage) {
        guard var session else { return }
        let frame = outbound.send(message)
        let output = session.receive(frame, at: ContinuousClock.now - started)
        self.session = session
        deliver(output)
    }

    func close(_ reason: ReleaseReason) {
        send(.end(.init(reason: reason)))
        finish()
    }

    private func tick() {
        guard var session else { return }
        let output = session.tick(at: ContinuousClock.now - started)
        self.session = session
        deliver(output)
    }

    private func deliver(_ output: ConversationSession.Output) {
        for case .reply(let reply) in output.frames.map(\.message) { continuation.yield(reply) }
        if output.finished { finish() }
    }

    private func finish() {
        session = nil
        clock?.cancel()
        continuation.finish()
    }
}

/// The conversation role over its WebSocket: one connection per AI call, frames numbered both ways; a dropped
/// connection is resumed (a new connection sends `resume` with the last frame received, and each side resends what
/// the other missed) up to three times in a row, after which the replies end and the assistant hangs up.
/// While connected it counts in `websocket_connections{role="media"}`: the media role's autoscaling metric.
actor RemoteDialogLink: DialogLink {
    nonisolated let replies: AsyncStream<ConversationMessage.Reply>
    nonisolated let kind = "remote"
    private let continuation: AsyncStream<ConversationMessage.Reply>.Continuation
    private let url: String
    /// For a wss:// URL (nil: the system's roots).
    private let tls: TLSConfiguration?
    private let callId: CallID
    private let telemetry: Telemetry
    private let logger: Logger
    private var outbound = OutboundSequencer<ConversationMessage>()
    private var inbound = InboundSequencer()
    /// The open connection's writer.
    private var writer: AsyncStream<String>.Continuation?
    /// The role has answered this connection's `resume` (or it is the first connection): new frames may go out.
    /// Before that they wait in the sequencer and go with the resend, in order.
    private var inStep = true
    private var connection: Task<Void, Never>?
    private var closing = false
    private var finished = false
    private var resumeAttempts = 3
    /// Resumed once the opening reply (or, after a drop, the role's `resume`) has arrived.
    private var ready: CheckedContinuation<Void, any Error>?

    /// Connects and sends `start`; returns once the opening line has come back, or throws when the role cannot be
    /// reached or does not answer within `timeout`.
    static func open(
        url: String, tls: TLSConfiguration? = nil, start: ConversationMessage.Start, telemetry: Telemetry, logger: Logger, timeout: Duration = .seconds(2)
    ) async throws -> RemoteDialogLink {
        let link = RemoteDialogLink(url: url, tls: tls, callId: start.callId, telemetry: telemetry, logger: logger)
        try await link.connect(first: start, timeout: timeout)
        return link
    }

    private init(url: String, tls: TLSConfiguration?, callId: CallID, telemetry: Telemetry, logger: Logger) {
        (replies, continuation) = AsyncStream.makeStream(of: ConversationMessage.Reply.self)
        self.url = url
        self.tls = tls
        self.callId = callId
        self.telemetry = telemetry
        self.logger = logger
    }

    private func connect(first start: ConversationMessage.Start, timeout: Duration) async throws {
        _ = outbound.send(.start(start))
        let timer = Task { [weak self] in
            try? await Task.sleep(for: timeout)
            await self?.giveUp(waiting: CoreError.invalidValue("the conversation role did not answer within \(timeout)"))
        }
        defer { timer.cancel() }
        try await withCheckedThrowingContinuation { (waiting: CheckedContinuation<Void, any Error>) in
            ready = waiting
            connection = Task { await self.run(resuming: false) }
        }
    }

    /// The connection did not come up: the caller of `open` hears why, and nothing is retried.
    private func giveUp(waiting error: any Error) {
        guard let waiting = ready else { return }
        ready = nil
        closing = true
        writer?.finish()
        waiting.resume(throwing: error)
        finish()
    }

    /// One connection, until it closes; then a resume while attempts are left and the call goes on.
    private func run(resuming: Bool) async {
        let gauge = telemetry.websocketConnections(.media)
        do {
            try await WebSocketClient.connect(url: url, tlsConfiguration: tls, logger: logger) { inbound, outbound, _ in
                gauge.increment()
                defer { gauge.decrement() }
                let (queue, writer) = AsyncStream<String>.makeStream()
                await self.attached(writer, resuming: resuming)
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        for await text in queue { try await outbound.write(.text(text)) }
                        try await outbound.close(.normalClosure, reason: "call over")
                    }
                    for try await message in inbound.messages(maxSize: ConversationEndpoint.maxFrameSize) {
                        if case .text(let text) = message { await self.received(text) }
                    }
                    writer.finish()
                    group.cancelAll()
                }
            }
        } catch {
            logger.info("conversation connection failed", metadata: ["call_id": "\(callId)", "error": "\(error)"])
        }
        dropped()
    }

    private func attached(_ writer: AsyncStream<String>.Continuation, resuming: Bool) {
        guard !closing else {
            writer.finish()
            return
        }
        self.writer = writer
        inStep = !resuming
        if resuming {
            // `resume` stands outside the sequence; the role answers with its own and what we missed.
            write(ProtocolFrame(seq: 0, ack: inbound.lastSeq, message: .resume(.init(callId: callId, lastSeq: inbound.lastSeq))))
        } else {
            for frame in (try? outbound.resend(after: 0)) ?? [] { write(frame) }
        }
    }

    private func dropped() {
        writer = nil
        if let waiting = ready {
            ready = nil
            waiting.resume(throwing: CoreError.invalidValue("the conversation role closed the connection before the opening line"))
            finish()
            return
        }
        guard !closing, !finished else { return }
        guard resumeAttempts > 0 else {
            logger.warning("conversation lost: no more resumes", metadata: ["call_id": "\(callId)"])
            finish()
            return
        }
        resumeAttempts -= 1
        logger.info("conversation connection dropped: resuming", metadata: ["call_id": "\(callId)", "attempts_left": "\(resumeAttempts)"])
        connection = Task {
            try? await Task.sleep(for: .milliseconds(100))
            await self.run(resuming: true)
        }
    }

    private func received(_ text: String) {
        let frame: ProtocolFrame<ConversationMessage>
        do {
            frame = try ProtocolCodec.decode(ConversationMessage.self, from: text)
        } catch {
            logger.warning("conversation frame not understood", metadata: ["call_id": "\(callId)", "error": "\(error.message)"])
            return
        }
        if let ack = frame.ack { outbound.acknowledge(upTo: ack) }
        if case .resume(let resume) = frame.message {
            do {
                for missed in try outbound.resend(after: resume.lastSeq) { write(missed) }
                inStep = true
                resumeAttempts = 3
            } catch {
                logger.warning("conversation cannot resume", metadata: ["call_id": "\(callId)", "error": "\(error)"])
                closing = true
                writer?.finish()
                finish()
            }
            return
        }
        // The role refuses a connection (an unknown call after a resume, a bad start) with an error numbered 1,
        // outside the call's sequence: it is read before the sequence check.
        if case .error(let error) = frame.message, frame.seq <= inbound.lastSeq {
            refused(error)
            return
        }
        switch inbound.receive(seq: frame.seq) {
        case .accept: break
        case .duplicate: return
        case .gap(let expected, let got):
            logger.warning("conversation frames skipped", metadata: ["call_id": "\(callId)", "expected": "\(expected)", "received": "\(got)"])
            writer?.finish()  // a new connection resumes from what we have
            return
        }
        switch frame.message {
        case .reply(let reply):
            continuation.yield(reply)
            if let waiting = ready {
                ready = nil
                waiting.resume()
            }
        case .error(let error):
            refused(error)
        case .end:
            closing = true
            writer?.finish()
            finish()
        case .ping(let ping):
            write(outbound.send(.pong(ping), ack: inbound.lastSeq))
        default:
            break
        }
    }

    private func refused(_ error: ConversationMessage.ErrorInfo) {
        logger.warning("conversation error", metadata: ["call_id": "\(callId)", "code": "\(error.code)", "message": "\(error.message)", "recoverable": "\(error.recoverable)"])
        guard !error.recoverable else { return }
        closing = true
        writer?.finish()
        if let waiting = ready {
            ready = nil
            waiting.resume(throwing: error)
        }
        finish()
    }

    func send(_ message: ConversationMessage) {
        guard !closing else { return }
        // Kept by the sequencer until acknowledged: a frame sent while reconnecting goes out with the resend.
        let frame = outbound.send(message, ack: inbound.lastSeq)
        if inStep { write(frame) }
    }

    func close(_ reason: ReleaseReason) {
        guard !closing else { return }
        send(.end(.init(reason: reason)))
        closing = true
        writer?.finish()
        finish()
    }

    private func write(_ frame: ProtocolFrame<ConversationMessage>) {
        guard let writer, let text = try? ProtocolCodec.encode(frame) else { return }
        writer.yield(text)
    }

    private func finish() {
        guard !finished else { return }
        finished = true
        continuation.finish()
    }
}
