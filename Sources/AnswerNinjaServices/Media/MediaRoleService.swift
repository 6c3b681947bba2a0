import AnswerNinjaCore
import Foundation
import Hummingbird
import HummingbirdWebSocket
import Logging
import MediaControl
import MediaTransport
import NIOCore
import SDP
import SRTP
import ServiceLifecycle

/// The media role on its own (`answer-ninja media`): the control channel's WebSocket (`/internal/media-control`) on
/// the HTTP listener, the `MediaEngine` behind it, and its media threads. Gateways in other processes send it the
/// calls the assistant screens (`media.control_url`). At graceful shutdown it drains: `/ready` turns 503, the
/// sessions in progress go on until their gateways release them or `shutdown.grace` runs out.
struct MediaRoleService: Service {
    static let path = "/internal/media-control"

    let context: ServiceContext
    let engine: MediaEngine
    let server: MediaControlServer
    let threads: MediaThreads
    let loader: AssistantLoader?

    static func make(context: ServiceContext) async throws -> MediaRoleService {
        let configuration = context.configuration
        let threads = await MediaThreads.start(for: context)
        let loader = configuration.sip.answerMode == "assistant"
            ? try AssistantLoader(context: context)
            : nil
        let bindHost = configuration.sip.host
        let engine = MediaEngine(
            settings: .init(configuration: configuration, advertisedHost: bindHost == "0.0.0.0" ? "127.0.0.1" : bindHost),
            pool: RTPPortPool.forCalls(configuration.media),
            group: threads.group, loader: loader, metrics: GatewayMetrics(telemetry: context.telemetry), logger: context.logger
        )
        let server = MediaControlServer(provider: engine, configuration: .init(resumeGrace: configuration.media.controlResumeGrace)) { MediaEngine.now() }
        return MediaRoleService(context: context, engine: engine, server: server, threads: threads, loader: loader)
    }

    /// Adds the control channel's route to `router`.
    func register(on router: Router<BasicWebSocketRequestContext>) {
        let server = server, logger = context.logger
        router.ws(RouterPath(stringLiteral: Self.path)) { inbound, outbound, _ in
            logger.info("media control connection opened")
            await WebSocketControlConnection.serve(inbound: inbound, outbound: outbound) { await server.serve($0) }
        }
    }

    func run() async throws {
        let configuration = context.configuration
        context.readiness.report("media", ready: true, detail: "taking sessions")
        let media = configuration.media.rtpPorts
        Console.line("  media     ws control \(Self.path) on the http listener; rtp udp ports \(media.lowerBound)-\(media.upperBound)")
        let serving = Task { await server.run() }
        try? await gracefulShutdown()
        context.readiness.report("media", ready: false, detail: "draining")
        let deadline = ContinuousClock.now + configuration.shutdownGrace
        while await engine.sessionCount > 0, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(200))
        }
        serving.cancel()
        await engine.shutdown()
        await loader?.shutdown()
        await threads.shutdown()
    }
}
