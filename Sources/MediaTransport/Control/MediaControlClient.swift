import AnswerNinjaCore

/// The gateway's end of the control channel: a `MediaSessionProvider` whose every call is one command frame to
/// the media role and one `result` back. Request ids come from the caller (the gateway derives them from the SIP
/// transaction), so a retried call is idempotent end to end.
///
/// After a dropped connection, `resume(on:)` takes a new one: the media role keeps the sessions for its grace
/// period, and both ends retransmit what the other missed; calls still waiting get their results then.
public actor MediaControlClient: MediaSessionProvider {
    public nonisolated let events: AsyncStream<MediaControlMessage.Event>
    private let eventSink: AsyncStream<MediaControlMessage.Event>.Continuation
    private let instance: String
    private let timeout: Duration
    private var connection: any ControlConnection
    private var outbound = OutboundSequencer<MediaControlMessage>()
    private var inbound = InboundSequencer()
    private var pending: [String: CheckedContinuation<MediaControlMessage.Result, any Error>] = [:]
    /// The timeout of each pending command, cancelled when its result arrives.
    private var timers: [String: Task<Void, Never>] = [:]
    private var welcomeWaiter: CheckedContinuation<MediaControlMessage.Welcome, any Error>?
    private var welcomeTimer: Task<Void, Never>?
    private var reader: Task<Void, Never>?
    /// Frames to send on the current connection, written in this order by one task bound to it (the media role drops
    /// a frame that overtakes an earlier one). A resume gets a new queue and writer: what the old one still held is
    /// resent from the outbound buffer after the welcome, never ahead of it.
    private var sendQueue: AsyncStream<String>.Continuation
    private var writer: Task<Void, Never>?
    private var resuming = false
    /// The channel id the media role gave; what `resume(on:)` names.
    public private(set) var connectionId: String?

    /// Says `hello` on `connection` and waits for `welcome`.
    /// - Parameter timeout: how long any command waits for its result.
    public static func connect(_ connection: any ControlConnection, instance: String, timeout: Duration = .seconds(5)) async throws -> MediaControlClient {
        let client = MediaControlClient(connection: connection, instance: instance, timeout: timeout)
        await client.startWriting()
        _ = try await client.handshake(resume: nil)
        return client
    }

    private init(connection: any ControlConnection, instance: String, timeout: Duration) {
        self.connection = connection
        self.instance = instance
        self.timeout = timeout
        (events, eventSink) = AsyncStream.makeStream(of: MediaControlMessage.Event.self)
        sendQueue = AsyncStream.makeStream(of: String.self).continuation
    }

    /// A new queue and writer for the current connection. A failed send is not fatal: the frame stays in the
    /// outbound buffer for the resume.
    private func startWriting() {
        writer?.cancel()
        sendQueue.finish()
        let (queue, continuation) = AsyncStream.makeStream(of: String.self)
        sendQueue = continuation
        let connection = self.connection
        writer = Task {
            for await text in queue { try? await connection.send(text) }
        }
    }

    /// Continues the channel on a new connection; returns whether the media role still had it (false: its
    /// sessions were released after the grace period, and this is a new channel).
    @discardableResult
    public func resume(on newConnection: any ControlConnection) async throws -> Bool {
        reader?.cancel()
        connection = newConnection  // the sequences continue across the resume
        guard let previous = connectionId else { throw MediaTransportError.connectionClosed("never connected") }
        // Until the welcome, commands are only numbered and kept (the resend after it carries them, in order).
        resuming = true
        defer { resuming = false }
        let welcome = try await handshake(resume: .init(connectionId: previous, lastSeq: inbound.lastSeq))
        startWriting()
        resuming = false
        guard welcome.resumed else {
            // A fresh channel: nothing we sent before reached a live session.
            outbound = OutboundSequencer()
            inbound = InboundSequencer()
            failPending(MediaTransportError.connectionClosed("the media role released the channel after its grace period"))
            return false
        }
        for frame in try outbound.resend(after: welcome.lastSeq) {
            sendQueue.yield(try ProtocolCodec.encode(frame))
        }
        return true
    }

    public func close() async {
        reader?.cancel()
        sendQueue.finish()
        await connection.close(reason: "gateway closing")
        eventSink.finish()
        failPending(MediaTransportError.connectionClosed("closed by the gateway"))
    }

    // MARK: MediaSessionProvider

    public func offer(_ offer: MediaControlMessage.Offer) async throws -> MediaSessionDescription {
        MediaSessionDescription(sdp: try await command(.offer(offer)).sdp ?? "")
    }

    public func answer(_ answer: MediaControlMessage.Answer) async throws -> MediaSessionDescription {
        MediaSessionDescription(sdp: try await command(.answer(answer)).sdp ?? "")
    }

    public func update(_ offer: MediaControlMessage.Offer) async throws -> MediaSessionDescription {
        MediaSessionDescription(sdp: try await command(.update(offer)).sdp ?? "")
    }

    public func play(_ request: MediaControlMessage.Play) async throws { _ = try await command(.play(request)) }
    public func stopPlayback(_ request: MediaControlMessage.StopPlayback) async throws { _ = try await command(.stopPlayback(request)) }
    public func record(_ request: MediaControlMessage.Record) async throws { _ = try await command(.record(request)) }
    public func bridge(_ request: MediaControlMessage.Bridge) async throws { _ = try await command(.bridge(request)) }
    public func startConversation(_ request: MediaControlMessage.StartConversation) async throws { _ = try await command(.startConversation(request)) }
    public func digits(_ request: MediaControlMessage.Digits) async throws { _ = try await command(.digits(request)) }
    public func release(_ request: MediaControlMessage.Delete) async throws { _ = try await command(.delete(request)) }

    public func statistics(_ request: MediaControlMessage.Query) async throws -> MediaStatistics {
        try await command(.query(request)).statistics ?? MediaStatistics()
    }

    // MARK: Private

    private func handshake(resume: MediaControlMessage.Resume?) async throws -> MediaControlMessage.Welcome {
        startReading()
        let welcome = try await withCheckedThrowingContinuation { continuation in
            welcomeWaiter = continuation
            let hello = ProtocolFrame<MediaControlMessage>(seq: 0, message: .hello(.init(instance: instance, resume: resume)))
            let connection = self.connection
            let timeout = self.timeout
            welcomeTimer = Task {
                do {
                    try await connection.send(try ProtocolCodec.encode(hello))
                } catch {
                    self.failWelcome(error)
                    return
                }
                guard (try? await Task.sleep(for: timeout)) != nil else { return }
                self.failWelcome(MediaTransportError.timeout("no welcome within \(timeout)"))
            }
        }
        connectionId = welcome.connectionId
        return welcome
    }

    /// Sends a command and waits for its result; an error result throws `MediaTransportError.refused`.
    private func command(_ message: MediaControlMessage) async throws -> MediaControlMessage.Result {
        guard let requestId = message.requestId else { throw MediaTransportError.refused(code: "not_a_command", message: message.type) }
        let frame = outbound.send(message, ack: inbound.lastSeq)
        let result = try await withCheckedThrowingContinuation { continuation in
            pending[requestId] = continuation
            let timeout = self.timeout
            // Queued at once, in sequence order; the timeout bounds the wait.
            if !resuming, let text = try? ProtocolCodec.encode(frame) { sendQueue.yield(text) }
            timers[requestId] = Task {
                guard (try? await Task.sleep(for: timeout)) != nil else { return }
                self.failPending(requestId, MediaTransportError.timeout("no result for \(message.type) \(requestId) within \(timeout)"))
            }
        }
        if result.result == .error {
            throw MediaTransportError.refused(code: result.error?.code ?? "error", message: result.error?.message ?? "refused")
        }
        return result
    }

    private func startReading() {
        let stream = connection.inbound
        reader = Task {
            for await text in stream {
                guard !Task.isCancelled else { return }
                self.receive(text)
            }
        }
    }

    private func receive(_ text: String) {
        guard let frame = try? ProtocolCodec.decode(MediaControlMessage.self, from: text) else { return }
        if case .welcome(let welcome) = frame.message {
            welcomeTimer?.cancel()
            welcomeWaiter?.resume(returning: welcome)
            welcomeWaiter = nil
            return
        }
        guard inbound.receive(seq: frame.seq) == .accept else { return }
        if let ack = frame.ack { outbound.acknowledge(upTo: ack) }
        switch frame.message {
        case .result(let result):
            timers.removeValue(forKey: result.requestId)?.cancel()
            pending.removeValue(forKey: result.requestId)?.resume(returning: result)
        case .event(let event):
            eventSink.yield(event)
        default:
            break
        }
    }

    private func failWelcome(_ error: any Error) {
        welcomeWaiter?.resume(throwing: error)
        welcomeWaiter = nil
    }

    private func failPending(_ requestId: String, _ error: any Error) {
        timers.removeValue(forKey: requestId)?.cancel()
        pending.removeValue(forKey: requestId)?.resume(throwing: error)
    }

    private func failPending(_ error: any Error) {
        for requestId in Array(pending.keys) { failPending(requestId, error) }
    }
}
