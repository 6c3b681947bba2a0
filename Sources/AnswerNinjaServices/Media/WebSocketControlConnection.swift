import AnswerNinjaCore
import Foundation
import Hummingbird
import HummingbirdWSClient
import HummingbirdWebSocket
import Logging
import MediaTransport
import NIOSSL
import Synchronization

/// A `ControlConnection` over a WebSocket: the control channel between a gateway and a media role in another
/// process. Text frames only; each is one protocol frame. Frames are written in the order `send` was called.
final class WebSocketControlConnection: ControlConnection {
    let inbound: AsyncStream<String>
    private let inboundSink: AsyncStream<String>.Continuation
    private let outbound: AsyncStream<Outgoing>.Continuation
    private let queue: AsyncStream<Outgoing>
    private let closed = Mutex<String?>(nil)
    /// Finishes when the connection has closed, by either side.
    let closedSignal: AsyncStream<Void>
    private let closedSink: AsyncStream<Void>.Continuation

    enum Outgoing: Sendable {
        case text(String)
        case close(String)
    }

    /// Frames larger than this are refused (an SDP with many codecs and crypto lines is a few kilobytes).
    static let maxFrameSize = 256 * 1024

    private init() {
        (inbound, inboundSink) = AsyncStream.makeStream(of: String.self)
        (queue, outbound) = AsyncStream.makeStream(of: Outgoing.self)
        (closedSignal, closedSink) = AsyncStream.makeStream(of: Void.self)
    }

    var closedReason: String? { closed.withLock { $0 } }

    func send(_ text: String) async throws {
        if let reason = closedReason { throw MediaTransportError.connectionClosed(reason) }
        outbound.yield(.text(text))
    }

    func close(reason: String) async {
        closed.withLock { if $0 == nil { $0 = reason } }
        outbound.yield(.close(reason))
        outbound.finish()
    }

    private func ended(_ reason: String) {
        closed.withLock { if $0 == nil { $0 = reason } }
        inboundSink.finish()
        outbound.finish()
        closedSink.finish()
    }

    /// Reads `webSocket` into `inbound` and writes what is sent, until either side closes.
    private func pump(_ inboundFrames: WebSocketInboundStream, _ writer: WebSocketOutboundWriter) async {
        await withTaskGroup(of: Void.self) { group in
            let queue = queue
            group.addTask {
                for await item in queue {
                    switch item {
                    case .text(let text):
                        do { try await writer.write(.text(text)) } catch { return }
                    case .close(let reason):
                        try? await writer.close(.normalClosure, reason: reason)
                        return
                    }
                }
            }
            do {
                for try await message in inboundFrames.messages(maxSize: Self.maxFrameSize) {
                    guard case .text(let text) = message else {
                        try? await writer.close(.unacceptableData, reason: "binary frames are not part of the media-control protocol")
                        break
                    }
                    inboundSink.yield(text)
                }
            } catch {}
            ended("the connection closed")
            group.cancelAll()
        }
    }

    /// The media role's end of a connection a gateway opened: serves it until it closes.
    static func serve(inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter, with body: @Sendable (WebSocketControlConnection) async -> Void) async {
        let connection = WebSocketControlConnection()
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await connection.pump(inbound, outbound) }
            await body(connection)
            await connection.close(reason: "served")
            await group.waitForAll()
        }
    }

    /// Opens a connection to a media role at `url` (`ws://` or `wss://`); throws when it does not come up within
    /// `timeout`. The connection runs in a task of its own until either side closes it. It pings the media role every
    /// `ping` (WebSocket ping frames) and closes when a ping is still unanswered at the next: a media host that
    /// vanished without closing TCP (a node lost, a stopped process) is noticed within two periods, not at the next
    /// command's time-out.
    static func connect(
        url: String, headers: [String: String] = [:], tls: TLSConfiguration, timeout: Duration, ping: Duration = .seconds(5), logger: Logger
    ) async throws -> WebSocketControlConnection {
        var fields = HTTPFields()
        for (name, value) in headers { if let name = HTTPFields.Element.Name(name) { fields[name] = value } }
        let connection = WebSocketControlConnection()
        let opened = AsyncStream.makeStream(of: Bool.self)
        Task {
            do {
                try await WebSocketClient.connect(
                    url: url, configuration: .init(maxFrameSize: maxFrameSize, additionalHeaders: fields, autoPing: .enabled(timePeriod: ping)), tlsConfiguration: tls, logger: logger
                ) { inbound, outbound, _ in
                    opened.continuation.yield(true)
                    await connection.pump(inbound, outbound)
                }
            } catch {
                logger.info("media control connection failed", metadata: ["url": "\(url)", "error": "\(error)"])
            }
            connection.ended("the connection closed")
            opened.continuation.finish()
        }
        let timer = Task {
            try? await Task.sleep(for: timeout)
            opened.continuation.finish()
        }
        defer { timer.cancel() }
        var up = false
        for await value in opened.stream {
            up = value
            break
        }
        guard up else {
            await connection.close(reason: "not connected")
            throw MediaTransportError.connectionClosed("the media role at \(url) was not reached within \(timeout)")
        }
        return connection
    }
}
