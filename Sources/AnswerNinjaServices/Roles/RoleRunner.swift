import AnswerNinjaCore
import Foundation
import Hummingbird
import HummingbirdTLS
import HummingbirdWebSocket
import Logging
import NIOCore
import NIOSSL
import ServiceLifecycle

/// Runs a set of roles in this process as one `ServiceGroup` with graceful shutdown on SIGTERM and SIGINT: `serve`
/// runs them all; `answer-ninja gateway` (and each other role) runs one. The gateway role adds its SIP listener;
/// later issues add the internal WebSocket endpoints as further services of the same group.
public struct RoleRunner: Sendable {
    public let configuration: NinjaConfiguration
    public let roles: [Role]
    public let logger: Logger
    public let telemetry: Telemetry

    public init(configuration: NinjaConfiguration, roles: [Role], logger: Logger, telemetry: Telemetry) {
        self.configuration = configuration
        self.roles = roles.sorted()
        self.logger = logger
        self.telemetry = telemetry
    }

    /// Raises the soft limit on open files to the hard one (a call holds two RTP sockets, RTP and RTCP, besides its
    /// SIP connection; 1,000 calls need more than a container's usual 1,024). Returns the limits now in force.
    static func raiseOpenFileLimit() -> (soft: UInt64, hard: UInt64)? {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return nil }
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { limit = raised }
        }
        return (UInt64(limit.rlim_cur), UInt64(limit.rlim_max))
    }

    /// The roles that keep data and so open the store.
    static let storeRoles: Set<Role> = [.gateway, .api]

    public func run() async throws {
        let context = ServiceContext(configuration: configuration, roles: roles, logger: logger, telemetry: telemetry)
        Console.line("Answer Ninja \(AnswerNinjaVersion.current): roles \(roles.map(\.rawValue).joined(separator: ", "))")
        if let (soft, hard) = Self.raiseOpenFileLimit(), soft < 4096 {
            logger.warning("few file descriptors", metadata: ["soft": "\(soft)", "hard": "\(hard)", "note": "each call holds two RTP sockets"])
        }

        var services: [any Service] = []
        var api: APIRoutes?
        var dashboard: DashboardRoutes?
        var platform: Platform?
        var setupCode: String?
        if !Self.storeRoles.isDisjoint(with: roles) {
            let store = try await StoreService.open(context: context)
            services.append(store)
            platform = store.platform
            printStore(store.report)
            if roles.contains(.api) {
                let routes = await APIRoutes(platform: store.platform, configuration: configuration, gatewayControl: context.gatewayControl)
                api = routes
                dashboard = try DashboardRoutes(api: routes, readiness: context.readiness)
                setupCode = store.report.setupCode
            }
        }
        context.readiness.expect("http")
        let webSocketRouter = Router(context: BasicWebSocketRequestContext.self)
        var conversation: ConversationEndpoint?
        if roles.contains(.conversation) {
            let endpoint = try ConversationEndpoint(configuration: configuration, telemetry: telemetry, logger: logger)
            endpoint.register(on: webSocketRouter)
            conversation = endpoint
            Console.line("  ai        intent model loaded; conversation WebSocket \(ConversationEndpoint.path)")
        }
        // The media role apart from a gateway: gateways of other processes reach it over the control channel.
        var media: MediaRoleService?
        var mediaRouter: Router<BasicWebSocketRequestContext>?
        if roles.contains(.media), !roles.contains(.gateway) {
            let service = try await MediaRoleService.make(context: context)
            if configuration.media.tlsPort != nil, configuration.media.tlsClientCA != nil {
                // Client certificates asked: the control channel is served on the TLS listener only, never on plain
                // HTTP, where anyone reaching the port would get it without one.
                let router = Router(context: BasicWebSocketRequestContext.self)
                service.register(on: router)
                mediaRouter = router
            } else {
                service.register(on: webSocketRouter)
            }
            context.readiness.expect("media")
            media = service
        }
        // `serve`: the gateway reaches this process's own media role over the control channel on loopback.
        var loopbackMedia: LoopbackMedia?
        if roles.contains(.media), roles.contains(.gateway), configuration.media.loopback, configuration.media.controlURLs.isEmpty,
           configuration.sip.answerMode == "assistant", platform != nil {
            let endpoint = LoopbackMedia()
            endpoint.register(on: webSocketRouter, logger: logger)
            context.readiness.expect("media")
            loopbackMedia = endpoint
        }
        let http = makeHTTPApplication(context: context, webSocketRouter: webSocketRouter, api: api, dashboard: dashboard, setupCode: setupCode)
        services.append(http)
        let settings = configuration.conversation
        if conversation != nil, let port = settings.tlsPort, let certificate = settings.tlsCertificate, let key = settings.tlsPrivateKey {
            services.append(try makeInternalTLSApplication(
                context: context, webSocketRouter: webSocketRouter, name: "conversation-tls", path: ConversationEndpoint.path,
                tls: .init(port: port, certificate: certificate, key: key, clientCA: settings.tlsClientCA), detail: "the conversation WebSocket over TLS"
            ))
        }
        let mediaSettings = configuration.media
        if media != nil, let port = mediaSettings.tlsPort, let certificate = mediaSettings.tlsCertificate, let key = mediaSettings.tlsPrivateKey {
            services.append(try makeInternalTLSApplication(
                context: context, webSocketRouter: mediaRouter ?? webSocketRouter, name: "media-tls", path: MediaRoleService.path,
                tls: .init(port: port, certificate: certificate, key: key, clientCA: mediaSettings.tlsClientCA), detail: "the media control channel over TLS"
            ))
        }
        // After HTTP: the group stops services in reverse order, so the conversations drain (and the gateway's calls
        // before them) while the WebSockets are still served.
        if let conversation {
            context.readiness.report("conversation", ready: true, detail: "taking conversations")
            services.append(conversation.clockService(readiness: context.readiness, grace: configuration.shutdownGrace))
        }
        if let media { services.append(media) }
        if roles.contains(.gateway) {
            context.readiness.expect("sip")
            services.append(SIPGatewayService(context: context, platform: platform, loopbackMedia: loopbackMedia))
        }
        printPending()

        let group = ServiceGroup(
            configuration: .init(
                services: services.map { .init(service: $0) },
                gracefulShutdownSignals: [.sigterm, .sigint],
                cancellationSignals: [],
                logger: logger
            )
        )
        do {
            try await group.run()
        } catch {
            await api?.close()
            throw error
        }
        await api?.close()
        Console.line("Answer Ninja stopped")
    }

    func makeHTTPApplication(
        context: ServiceContext, webSocketRouter: Router<BasicWebSocketRequestContext>, api: APIRoutes?, dashboard: DashboardRoutes?, setupCode: String?
    ) -> some Service {
        let router = HTTPRoutes.makeRouter(context: context, api: api, dashboard: dashboard)
        let http = configuration.http
        return Application(
            router: router,
            server: .http1WebSocketUpgrade(webSocketRouter: webSocketRouter, configuration: .init(ws: ConversationEndpoint.webSocketConfiguration)),
            configuration: .init(address: .hostname(http.host, port: http.port), serverName: "answer-ninja"),
            onServerRunning: { channel in
                let address = Self.describe(channel.localAddress, fallbackHost: http.host)
                context.addListener(.init(name: "http", address: "http://\(address)", detail: "/health /ready /metrics, dashboard and API"))
                context.readiness.report("http", ready: true, detail: "listening on \(address)")
                context.logger.info("listening", metadata: ["service": "http", "address": "\(address)"])
                Console.line("  http      http://\(address)  (/health /ready /metrics\(api == nil ? "" : " /api/v1, dashboard at /"))")
                if let setupCode {
                    // No one can sign in yet: the first person to open the dashboard claims it with this code.
                    let local = Self.describe(channel.localAddress, fallbackHost: "127.0.0.1", wildcardAs: "127.0.0.1")
                    Console.line("  setup     no owner yet: open http://\(local)/setup and enter the setup code \(setupCode)")
                    context.logger.notice("setup code", metadata: ["code": "\(setupCode)", "page": "/setup"])
                }
            },
            logger: logger
        )
    }

    /// A TLS listener of an internal WebSocket.
    struct InternalTLS {
        var port: Int
        var certificate: String
        var key: String
        /// The CAs of the client certificates it requires; nil: none asked.
        var clientCA: String?
    }

    /// The process's internal WebSockets again over TLS (`conversation.tls_port`, `media.tls_port`), for peers whose
    /// link to this role no mesh encrypts (a host-network gateway in Kubernetes): the same endpoints, plus `/health`.
    func makeInternalTLSApplication(
        context: ServiceContext, webSocketRouter: Router<BasicWebSocketRequestContext>, name: String, path: String, tls settings: InternalTLS, detail: String
    ) throws -> any Service {
        let port = settings.port
        // Read again when the files change (a renewed certificate), without a restart.
        let tls = try ReloadingCertificate(certificate: settings.certificate, key: settings.key).serverConfiguration(clientCA: settings.clientCA)
        let router = Router(context: NinjaRequestContext.self)
        router.add(middleware: QuiesceOnShutdown())
        router.get("/health") { _, _ -> Response in try HTTPRoutes.health(context) }
        let host = configuration.http.host
        context.readiness.expect(name)
        return Application(
            router: router,
            server: try .tls(.http1WebSocketUpgrade(webSocketRouter: webSocketRouter, configuration: .init(ws: ConversationEndpoint.webSocketConfiguration)), tlsConfiguration: tls),
            configuration: .init(address: .hostname(host, port: port), serverName: "answer-ninja"),
            onServerRunning: { channel in
                let address = Self.describe(channel.localAddress, fallbackHost: host)
                context.addListener(.init(name: name, address: "wss://\(address)\(path)", detail: detail))
                context.readiness.report(name, ready: true, detail: "listening on \(address)")
                Console.line("  wss       wss://\(address)\(path)  (\(detail))")
            },
            logger: logger
        )
    }

    private func printStore(_ report: StoreService.StartupReport) {
        Console.line("  data      \(report.dataDirectory)\(report.createdDataDirectory ? " (created)" : "")")
        let migrations = report.appliedMigrations.isEmpty ? "" : ", applied \(report.appliedMigrations.map(String.init).joined(separator: ", "))"
        Console.line("  database  \(report.backend) \(report.databasePath) (schema \(report.schemaVersion)\(migrations))")
        if report.interruptedCalls > 0 { Console.line("  journal   \(report.interruptedCalls) calls left open by the last run marked interrupted") }
        if let user = report.demoUser, let alias = configuration.demoAlias {
            let host = configuration.sip.publicHost ?? "<host>"
            Console.line("  demo      user \(user.id) owns alias \"\(alias)\"\(report.createdDemoUser ? " (created)" : ""): sip:\(alias)@\(host)")
        }
    }

    private func printPending() {
        if roles.contains(.gateway) {
            let media = configuration.media.rtpPorts
            Console.line("  rtp       udp ports \(media.lowerBound)-\(media.upperBound), per answered call")
        }
    }

    /// `host:port` of an address (IPv6 in brackets); with `wildcardAs`, a wildcard address (`0.0.0.0`, `::`) is
    /// named by that host instead, for a link to open on this machine.
    static func describe(_ address: SocketAddress?, fallbackHost: String, wildcardAs: String? = nil) -> String {
        guard let address, let port = address.port else { return fallbackHost }
        var host = address.ipAddress ?? fallbackHost
        if let wildcardAs, host == "0.0.0.0" || host == "::" { host = wildcardAs }
        return host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}
