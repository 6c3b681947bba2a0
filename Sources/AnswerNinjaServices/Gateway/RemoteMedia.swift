import AnswerNinjaCore
import Foundation
import Logging
import MediaTransport
import NIOSSL
import SDP

/// Where a call leg's media runs: an RTP session of this process, or a session of a media role in another process,
/// reached over the control channel (`media.control_url`).
enum CallMedia: Sendable {
    case local(RTPCallSession)
    /// The media role's session for this leg, by the id the gateway gave it.
    case remote(CallID)

    var local: RTPCallSession? {
        if case .local(let session) = self { session } else { nil }
    }
}

/// The gateway's link to a media role in another process: one multiplexed control connection (a WebSocket at
/// `media.control_url`) carrying every call's commands, opened at the first call and kept. A dropped connection is
/// resumed on a new one (the media role keeps its sessions for `media.control_resume_grace`); when that fails, the
/// calls whose media was there are lost and `onLost` hears so.
actor RemoteMedia {
    /// Where it is, as configured (or `loopback` for `serve`'s own media role).
    let url: String
    /// The URL to connect to now (the loopback's port is known once the HTTP listener listens), and headers to send.
    private let target: @Sendable () -> String?
    private let headers: [String: String]
    private let instance: String
    /// The TLS configuration of the next connection (for wss://): trusted CAs, and the client certificate as it is now.
    private let tls: @Sendable () -> TLSConfiguration
    private let grace: Duration
    private let logger: Logger
    private var client: MediaControlClient?
    private var connecting: Task<MediaControlClient, any Error>?
    /// Every session's events, across reconnections.
    nonisolated let events: AsyncStream<MediaControlMessage.Event>
    private let sink: AsyncStream<MediaControlMessage.Event>.Continuation
    private var onLost: (@Sendable () async -> Void)?
    /// When connecting last failed: for a few seconds after, a call looking for a media role passes this one by.
    private var failedAt: ContinuousClock.Instant?
    static let backoff = Duration.seconds(5)

    init(
        url: String, target: (@Sendable () -> String?)? = nil, headers: [String: String] = [:], instance: String,
        tls: @escaping @Sendable () -> TLSConfiguration = { .makeClientConfiguration() }, grace: Duration, logger: Logger
    ) {
        self.url = url
        self.target = target ?? { url }
        self.headers = headers
        self.instance = instance
        self.tls = tls
        self.grace = grace
        self.logger = logger
        (events, sink) = AsyncStream.makeStream(of: MediaControlMessage.Event.self)
    }

    /// Called when the channel could not be resumed: the media role released the sessions, or was not reached again.
    func whenLost(_ body: @escaping @Sendable () async -> Void) { onLost = body }

    /// The control channel, connected if it is not. Unless `force`, a media role that could not be reached in the
    /// last few seconds is not tried again yet (a call should not wait for a dead one while others answer).
    func provider(force: Bool = true) async throws -> any MediaSessionProvider {
        if let client { return client }
        if !force, let failedAt, ContinuousClock.now - failedAt < Self.backoff {
            throw MediaTransportError.connectionClosed("\(url) was not reached a moment ago")
        }
        if let connecting { return try await connecting.value }
        let task = Task { try await self.connect() }
        connecting = task
        defer { connecting = nil }
        do {
            let client = try await task.value
            self.client = client
            failedAt = nil
            return client
        } catch {
            failedAt = .now
            throw error
        }
    }

    /// Whether the control channel is up now.
    var isConnected: Bool { client != nil }

    /// Connects whenever the channel is down, every `interval`, until cancelled: a media role that was not running
    /// (a pod not scheduled yet, a restart) joins once it answers, without a call waiting on the attempt.
    /// The first attempt is at once; a role not reached is logged once until it has been reached again.
    /// `first`: how soon to try again until it has been reached once (`serve`'s own role comes up with the process;
    /// it is logged as not reached after 5 s of that).
    func keepConnected(interval: Duration = .seconds(5), first: Duration? = nil) async {
        var warned = false, reached = false
        let started = ContinuousClock.now
        while !Task.isCancelled {
            if client == nil {
                do {
                    _ = try await provider()
                    warned = false
                    reached = true
                } catch {
                    let patient = first != nil && !reached && ContinuousClock.now - started < .seconds(5)
                    if !warned, !patient {
                        logger.warning("media role not reached yet", metadata: ["url": "\(url)", "error": "\(error)"])
                        warned = true
                    }
                }
            }
            try? await Task.sleep(for: reached ? interval : (first ?? interval))
        }
    }

    func close() async {
        // Forgotten first: the connection's end must not be taken for a drop to resume.
        let closing = client
        client = nil
        await closing?.close()
        sink.finish()
    }

    /// Opens a WebSocket to the media role (not yet when its address is not known).
    private func open(timeout: Duration) async throws -> WebSocketControlConnection {
        guard let url = target() else { throw MediaTransportError.connectionClosed("\(self.url) is not listening yet") }
        return try await WebSocketControlConnection.connect(url: url, headers: headers, tls: tls(), timeout: timeout, logger: logger)
    }

    private func connect() async throws -> MediaControlClient {
        let connection = try await open(timeout: .seconds(3))
        let client = try await MediaControlClient.connect(connection, instance: instance)
        let connectionId = await client.connectionId ?? ""
        logger.info("media role connected", metadata: ["url": "\(url)", "connection_id": "\(connectionId)"])
        let sink = sink
        Task { for await event in client.events { sink.yield(event) } }
        watch(connection, of: client)
        return client
    }

    /// When `connection` closes, the channel is resumed on a new one, tried for the grace period.
    private func watch(_ connection: WebSocketControlConnection, of client: MediaControlClient) {
        Task {
            for await _ in connection.closedSignal {}
            await self.dropped(client)
        }
    }

    private func dropped(_ dropped: MediaControlClient) async {
        guard client === dropped else { return }
        logger.warning("media control connection dropped: resuming", metadata: ["url": "\(url)"])
        let deadline = ContinuousClock.now + grace
        var wait = Duration.milliseconds(100)
        while ContinuousClock.now < deadline, client === dropped {
            var opened: WebSocketControlConnection?
            do {
                let connection = try await open(timeout: .seconds(2))
                opened = connection
                if try await dropped.resume(on: connection) {
                    logger.info("media control channel resumed", metadata: ["url": "\(url)"])
                    watch(connection, of: dropped)
                    return
                }
                await connection.close(reason: "not resumed")
                break
            } catch {
                await opened?.close(reason: "resume failed")
                try? await Task.sleep(for: wait)
                wait = min(wait * 2, .seconds(2))
            }
        }
        guard client === dropped else { return }
        logger.error("media control channel lost: its calls end", metadata: ["url": "\(url)"])
        client = nil
        await dropped.close()
        await onLost?()
    }
}
