import AnswerNinjaCore
import Foundation
import Logging
import MediaTransport
import NIOCore
import NIOPosix
import NIOSSL
import ServiceLifecycle
import SDP
import SIPAuth
import SRTP
import SIPMessages
import SIPTransport
import Speech

/// The gateway role's SIP listeners (UDP and TCP on one port) and its user agent, as a `Service` of the process's group: bound
/// at start, ready once listening, calls ended (BYE) on graceful shutdown.
public struct SIPGatewayService: Service {
    let context: ServiceContext

    let recorder: CallRecorder?
    let screener: CallScreener?
    let platform: Platform?
    let webhooks: WebhookNotifier?
    /// `serve`'s own media role, reached over loopback (`media.loopback`); nil otherwise.
    let loopbackMedia: LoopbackMedia?

    /// What a blocked caller hears (`block_action` goodbye) before the hangup.
    static let goodbyeLine = "This number does not accept your calls. Please remove it from your list. Goodbye."

    public init(context: ServiceContext, platform: Platform? = nil) {
        self.init(context: context, platform: platform, loopbackMedia: nil)
    }

    init(context: ServiceContext, platform: Platform?, loopbackMedia: LoopbackMedia?) {
        self.context = context
        self.platform = platform
        self.loopbackMedia = loopbackMedia
        let api = context.configuration.api
        webhooks = platform.map {
            WebhookNotifier(serverKey: $0.jwtSecret, allowPrivate: api.webhookAllowPrivate, caFile: api.webhookCA, telemetry: context.telemetry, logger: context.logger)
        }
        recorder = platform.map { [webhooks] in CallRecorder(platform: $0, logger: context.logger, learnAfter: context.configuration.sip.learnAfter, webhooks: webhooks) }
        screener = platform.map { CallScreener(platform: $0, logger: context.logger) }
    }

    public func run() async throws {
        let configuration = context.configuration
        let group = MultiThreadedEventLoopGroup.singleton
        // The user agent and its SIP sockets share one loop: a datagram is handled where it was read.
        let eventLoop = group.next()
        let advertised = configuration.sip.publicHost ?? (configuration.sip.host == "0.0.0.0" ? "127.0.0.1" : configuration.sip.host)
        let agentBox = AgentBox()
        let deliver: @Sendable (SIPIncoming) -> Void = { incoming in
            agentBox.agent?.deliver(incoming)
        }
        // The trunk's edge sends every call from one address: it is not held to the per-source rate, and its
        // P-Asserted-Identity is believed; so are the sources the configuration names.
        let registrar = configuration.sip.trunk.flatMap { try? SIPURI(parsing: $0.registrar[...]) }?.host.ipAddress
        // Each item on its own: one the set cannot take (checked at load, but the registrar's literal is not) must not
        // take the others with it.
        var trusted = IPAddressSet()
        for item in configuration.sip.trustedSources + (registrar.map { [$0] } ?? []) {
            do { try trusted.insert(item) } catch { context.logger.warning("trusted source ignored", metadata: ["source": "\(item)", "error": "\(error.message)"]) }
        }
        let logger = context.logger
        let metrics = GatewayMetrics(telemetry: context.telemetry)
        let onEvent: @Sendable (SIPTransportEvent) -> Void = { event in
            metrics.transportEvent(event)
            switch event {
            case .malformed: logger.notice("sip message refused", metadata: ["event": "\(event)"])
            case .closed(let flow): agentBox.agent?.connectionClosed(flow)
            case .flood, .scanner: logger.warning("sip guard", metadata: ["event": "\(event)"])
            }
        }
        // TCP on the same port number as UDP (RFC 3261 §18.1.1). With port 0 (tests) the kernel picks the UDP port,
        // and that number may be taken for TCP: then another pair is tried.
        var bound: (udp: SIPUDPTransport, tcp: SIPTCPTransport)?
        for attempt in 1...5 where bound == nil {
            let udp = try await SIPUDPTransport.bind(
                host: configuration.sip.host, port: configuration.sip.port, group: eventLoop, flood: .init(trusted: trusted),
                onEvent: onEvent, onMessage: deliver
            )
            do {
                let tcp = try await SIPTCPTransport.bind(
                    host: configuration.sip.host, port: udp.localAddress.port ?? configuration.sip.port, group: eventLoop, flood: .init(trusted: trusted),
                    onEvent: onEvent, onMessage: deliver
                )
                bound = (udp, tcp)
            } catch {
                await udp.close()
                if configuration.sip.port != 0 || attempt == 5 { throw error }
            }
        }
        guard let (udp, tcp) = bound else { throw CoreError.invalidValue("no port free for SIP over both UDP and TCP") }
        let port = udp.localAddress.port ?? configuration.sip.port
        var tls: SIPTCPTransport?
        var serverTLS: NIOSSLContext?
        if let tlsPort = configuration.sip.tlsPort, let certificate = configuration.sip.tlsCertificate, let key = configuration.sip.tlsPrivateKey {
            // Read again when the files change (a renewal while the process runs), as the HTTP roles' TLS listeners are.
            let context = try NIOSSLContext(configuration: ReloadingCertificate(certificate: certificate, key: key).serverConfiguration())
            serverTLS = context
            tls = try await SIPTCPTransport.bind(host: configuration.sip.host, port: tlsPort, group: eventLoop, tls: context, flood: .init(trusted: trusted), onEvent: onEvent, onMessage: deliver)
        }
        var transport = SIPTransports(udp: udp, tcp: tcp, tls: tls, host: advertised, metrics: metrics)
        if let host6 = configuration.sip.ipv6Host {
            // The same port numbers on the IPv6 address (RFC 3261 §18.1.1 holds per address).
            let udp6 = try await SIPUDPTransport.bind(host: host6, port: port, group: eventLoop, flood: .init(trusted: trusted), onEvent: onEvent, onMessage: deliver)
            let tcp6 = try await SIPTCPTransport.bind(host: host6, port: port, group: eventLoop, flood: .init(trusted: trusted), onEvent: onEvent, onMessage: deliver)
            var tls6: SIPTCPTransport?
            if let tls, let tlsPort = tls.localAddress.port, let serverTLS {
                tls6 = try await SIPTCPTransport.bind(host: host6, port: tlsPort, group: eventLoop, tls: serverTLS, flood: .init(trusted: trusted), onEvent: onEvent, onMessage: deliver)
            }
            transport.ipv6 = .init(udp: udp6, tcp: tcp6, tls: tls6, host: host6)
        }
        var trunkTLS: NIOSSLContext?
        if tls != nil {
            var client = TLSConfiguration.makeClientConfiguration()
            if let ca = configuration.sip.trunkTLSCA { client.additionalTrustRoots = [.file(ca)] }
            trunkTLS = try NIOSSLContext(configuration: client)
        }
        let resolver = SIPResolver(server: configuration.sip.dnsServer.map { ($0.host, $0.port) })
        let identityVerifier = try configuration.sip.stirTrustAnchors.map { anchors in
            try STIRIdentityService(
                trustAnchors: anchors, fetchCA: configuration.sip.stirFetchCA, allowedHosts: configuration.sip.stirCertificateHosts, logger: context.logger
            )
        }
        // The goodbye is spoken once, at start (espeak-ng on its own thread); without it, a tone says the same.
        var goodbye = Greeting.tones()
        if screener != nil {
            do {
                goodbye = try await EspeakSynthesizer.shared().synthesizeAll(Self.goodbyeLine, rate: .narrowband)
            } catch {
                context.logger.warning("goodbye not synthesised: a tone plays instead", metadata: ["error": "\(error)"])
            }
        }
        // The assistant's engines load on its first call.
        let assistant = platform != nil && configuration.sip.answerMode == "assistant"
            ? try AssistantLoader(context: context)
            : nil
        // Calls' media on loops of their own, above the speech threads when the system allows (MediaThreads).
        let media = await MediaThreads.start(for: context)
        // The assistant's calls have their media in the media role when it runs in another process; over wss://, its
        // certificate is checked against the system's roots and media.control_tls_ca, and ours (read again when
        // renewed) is presented when it asks.
        var controlTrust = TLSConfiguration.makeClientConfiguration()
        if let ca = configuration.media.controlCA { controlTrust.additionalTrustRoots = [.file(ca)] }
        let controlCertificate = try configuration.media.controlClientCertificate.flatMap { certificate in
            try configuration.media.controlClientPrivateKey.map { try ReloadingCertificate(certificate: certificate, key: $0) }
        }
        let instance = platform?.journal.instance ?? SIPToken.random()
        let pool = RTPPortPool.forCalls(configuration.media)
        // Where calls' RTP binds and what SDP names, the codecs and suites, the recordings: the same for the gateway's
        // own sessions and for the engine of `serve`'s media role.
        let mediaSettings = MediaEngine.Settings(configuration: configuration, advertisedHost: advertised)
        // Set, it applies in `serve` too (the gateway and the API here, the media roles elsewhere).
        var mediaRoles = assistant == nil ? [] : configuration.media.controlURLs.map { url in
            RemoteMedia(
                url: url, instance: instance,
                tls: { [controlTrust] in
                    var tls = controlTrust
                    if let pair = controlCertificate?.current() {
                        tls.certificateChain = pair.chain
                        tls.privateKey = pair.key
                    }
                    return tls
                },
                grace: configuration.media.controlResumeGrace, logger: context.logger
            )
        }
        // `serve`: the process's own media role (the engine on the gateway's media threads, port pool and assistant),
        // reached over the control channel's WebSocket on loopback, as a media role apart is.
        var colocated: (engine: MediaEngine, serving: Task<Void, Never>)?
        if let loopbackMedia, let assistant, mediaRoles.isEmpty {
            let engine = MediaEngine(
                settings: mediaSettings, pool: pool, group: media.group, loader: assistant, metrics: metrics,
                logger: context.logger
            )
            let server = MediaControlServer(provider: engine, configuration: .init(resumeGrace: configuration.media.controlResumeGrace)) { MediaEngine.now() }
            loopbackMedia.attach(server)
            colocated = (engine, Task { await server.run() })
            let context = context
            mediaRoles = [RemoteMedia(
                url: "loopback", target: { context.listeners().first { $0.name == "http" }.flatMap { Self.loopbackURL(listening: $0.address, path: MediaRoleService.path) } },
                headers: loopbackMedia.headers, instance: instance, grace: configuration.media.controlResumeGrace, logger: context.logger
            )]
        }
        let agent = SIPUserAgent(
            transport: transport, eventLoop: eventLoop, group: media.group,
            pool: pool, mediaHost: mediaSettings.host, advertisedHost: mediaSettings.advertisedHost, recordings: mediaSettings.recordings,
            greeting: Greeting.tones(), logger: context.logger,
            settings: SIPUserAgent.Settings(
                calledNumberSource: SIPCallIdentity.CalledNumberSource(rawValue: configuration.sip.calledNumberSource) ?? .requestURI,
                trustedSources: trusted,
                minSessionExpires: configuration.sip.minSessionExpires,
                maxCalls: configuration.sip.maxCalls,
                deviceAccounts: configuration.sip.deviceAccounts,
                deviceDigestAlgorithms: configuration.sip.deviceDigestAlgorithms.map { $0 == "md5" ? .md5 : .sha256 },
                deviceRingTimeout: configuration.sip.deviceRingTimeout,
                maximumBridgedDuration: configuration.sip.maxBridgedDuration,
                goodbye: goodbye,
                media: mediaSettings.capabilities,
                defaultRegion: configuration.api.defaultRegion,
                // The caller-profile key is the one secret every gateway of a deployment has.
                digestSecret: configuration.store.profileKey.flatMap { try? [UInt8](hex: $0) }.map(DigestServer.secret(sharedFrom:))
            ),
            identityVerifier: identityVerifier, resolver: resolver, trunkTLS: trunkTLS, mediaHostV6: configuration.sip.ipv6Host, callRecorder: recorder,
            screener: screener, assistant: assistant, mediaRoles: mediaRoles
        )
        agentBox.agent = agent
        for remoteMedia in mediaRoles { await remoteMedia.whenLost { await agent.remoteMediaLost(remoteMedia) } }
        let mediaEvents = mediaRoles.map { remoteMedia in
            Task { for await event in remoteMedia.events { await agent.remoteMediaEvent(event) } }
        }
        // Connected now (so that no call waits for the handshake), and again whenever down.
        let firstRetry: Duration? = colocated != nil ? .milliseconds(50) : nil
        let reconnecting = mediaRoles.map { remoteMedia in Task { await remoteMedia.keepConnected(first: firstRetry) } }
        // How many media roles the gateway counts on, and how many it holds a channel to (an alert fires when none).
        let telemetry = context.telemetry
        telemetry.gauge(.mediaRoles, ["state": "configured"]).set(to: Double(mediaRoles.count))
        telemetry.gauge(.mediaRoles, ["state": "connected"]).set(to: 0)
        let watchingMedia = mediaRoles.isEmpty ? nil : Task { [mediaRoles] in
            while !Task.isCancelled {
                var connected = 0
                for remoteMedia in mediaRoles where await remoteMedia.isConnected { connected += 1 }
                telemetry.gauge(.mediaRoles, ["state": "connected"]).set(to: Double(connected))
                try? await Task.sleep(for: .seconds(2))
            }
        }
        var loopbackReady: Task<Void, Never>?
        if colocated != nil, let loopback = mediaRoles.first {
            // Ready once the gateway holds its channel to the process's own media role.
            loopbackReady = Task {
                while await !loopback.isConnected, !Task.isCancelled { try? await Task.sleep(for: .milliseconds(50)) }
                context.readiness.report("media", ready: true, detail: "the gateway's control channel is up (loopback)")
            }
            Console.line("  media     calls the assistant screens: this process's media role, over the control channel on loopback")
        } else if !mediaRoles.isEmpty {
            Console.line("  media     calls the assistant screens: media roles at \(mediaRoles.map(\.url).joined(separator: ", "))")
        }
        metrics.portCapacity(agent.pool)
        if configuration.sip.overloadShedding { await agent.watchReceiveQueue() }
        context.gatewayControl.attach(agent)
        // The user's controls on live calls, sent by API roles of other processes on the bus.
        let controls = platform.map { platform in
            Task {
                for await text in platform.cache.subscribe(CallControlCommand.channel(for: platform.journal.instance)) {
                    guard let command = try? JSONDecoder().decode(CallControlCommand.self, from: Data(text.utf8)) else { continue }
                    let result = await context.gatewayControl.perform(command)
                    logger.info("call control", metadata: ["call_id": "\(command.callId)", "action": "\(command.action.rawValue)", "result": "\(result.map { "\($0)" } ?? "none")"])
                }
            }
        }
        // Devices other gateways registered through an edge proxy, reachable from here through the same edge.
        let shared = platform.map { platform in
            Task {
                for await text in platform.cache.subscribe(SharedRegistration.channel) { await agent.sharedRegistration(text) }
            }
        }
        let sharedReplies = platform.map { platform in
            Task {
                for await text in platform.cache.subscribe(SharedRegistration.replayChannel(for: agent.gatewayToken)) { await agent.sharedReplay(text) }
            }
        }
        // And those they learnt before this process started: asked for twice, since the cache's subscription to the
        // bus may still be starting at the first ask (the answers are the same each time).
        let sharedAsk = platform.map { _ in
            Task {
                for delay in [2, 15] {
                    try? await Task.sleep(for: .seconds(delay))
                    if Task.isCancelled { return }
                    await agent.requestSharedBindings()
                }
            }
        }
        // Registration resolves and connects in the background: the listeners are ready meanwhile.
        if let trunk = configuration.sip.trunk { Task { await agent.register(with: trunk) } }
        context.addListener(.init(name: "sip", address: "sip:\(advertised):\(port)", detail: "SIP over UDP and TCP: calls are screened (unknown numbers 404, blocked callers 603, wanted callers bridged to the user's device, the rest answered with the greeting and recorded)"))
        context.readiness.report("sip", ready: true, detail: "listening on udp and tcp \(configuration.sip.host):\(port)")
        context.logger.info("listening", metadata: ["service": "sip", "address": "udp+tcp://\(configuration.sip.host):\(port)"])
        Console.line("  sip       sip:\(advertised):\(port) (udp, tcp)")
        if let tls, let tlsPort = tls.localAddress.port {
            context.addListener(.init(name: "sips", address: "sip:\(advertised):\(tlsPort);transport=tls", detail: "SIP over TLS"))
            context.logger.info("listening", metadata: ["service": "sip", "address": "tls://\(configuration.sip.host):\(tlsPort)"])
            Console.line("  sips      sip:\(advertised):\(tlsPort);transport=tls (tls)")
        }
        if let ipv6 = transport.ipv6 {
            context.addListener(.init(name: "sip6", address: "sip:[\(ipv6.host)]:\(port)", detail: "SIP over IPv6 (udp, tcp\(ipv6.tls != nil ? ", tls" : ""))"))
            context.logger.info("listening", metadata: ["service": "sip", "address": "udp+tcp://[\(ipv6.host)]:\(port)"])
            Console.line("  sip6      sip:[\(ipv6.host)]:\(port) (udp, tcp\(ipv6.tls != nil ? ", tls" : ""))")
        }
        try? await gracefulShutdown()
        // Drain: out of the edge's rotation (/ready 503, OPTIONS and new INVITEs 503), the calls in progress run to
        // their end for up to shutdown.grace; what is left is then hung up. The HTTP service (and the conversation
        // WebSocket of `serve`) stops only after this one returns: the service group shuts down in reverse order.
        context.readiness.report("sip", ready: false, detail: "draining")
        context.telemetry.setDraining(true)
        Console.line("  draining  \(await agent.callsInProgress) calls, up to \(configuration.shutdownGrace)")
        let left = await agent.drain(grace: configuration.shutdownGrace)
        if left > 0 { logger.warning("drain timed out", metadata: ["calls": "\(left)", "grace": "\(configuration.shutdownGrace)"]) }
        controls?.cancel()
        shared?.cancel()
        sharedReplies?.cancel()
        sharedAsk?.cancel()
        await agent.shutdown()
        for task in reconnecting { task.cancel() }
        loopbackReady?.cancel()
        watchingMedia?.cancel()
        for remoteMedia in mediaRoles { await remoteMedia.close() }
        for task in mediaEvents { task.cancel() }
        if let colocated {
            context.readiness.report("media", ready: false, detail: "stopped")
            await colocated.engine.shutdown()
            colocated.serving.cancel()
        }
        await media.shutdown()
        await assistant?.shutdown()
        await recorder?.drain()
        await webhooks?.shutdown()
        try? await Task.sleep(for: .milliseconds(200))  // let the BYEs leave
        await udp.close()
        await tcp.close()
        await tls?.close()
        await transport.ipv6?.udp.close()
        await transport.ipv6?.tcp.close()
        await transport.ipv6?.tls?.close()
    }

    /// The agent, set once after the socket is bound (the transport's callback needs it, and it needs the socket).
    final class AgentBox: @unchecked Sendable {
        // Written once before any datagram can be delivered to a caller; read on the event loop afterwards.
        private let lock = NSLock()
        private var stored: SIPUserAgent?
        var agent: SIPUserAgent? {
            get { lock.withLock { stored } }
            set { lock.withLock { stored = newValue } }
        }
    }

    /// Where the assistant opens each call's conversation: this process's own conversation WebSocket over loopback
    /// when it runs the conversation role (`serve`: the port is the HTTP listener's, known once it listens), else
    /// `conversation.url`.
    static func conversationURL(context: ServiceContext) -> @Sendable () -> String? {
        guard context.roles.contains(.conversation) else {
            let configured = context.configuration.media.conversationURL
            return { configured.isEmpty ? nil : configured }
        }
        return {
            guard let http = context.listeners().first(where: { $0.name == "http" }) else { return nil }
            return loopbackURL(listening: http.address)
        }
    }

    /// `ws://` for the conversation path on the HTTP listener at `address` (`http://host:port`, IPv6 in brackets):
    /// a wildcard host is reached over loopback, any other as it is.
    static func loopbackURL(listening address: String, path: String = ConversationEndpoint.path) -> String? {
        let hostPort = address.hasPrefix("http://") ? String(address.dropFirst(7)) : address
        guard let colon = hostPort.lastIndex(of: ":"), let port = Int(hostPort[hostPort.index(after: colon)...]) else { return nil }
        let host = String(hostPort[..<colon])
        let reachable = switch host {
        case "0.0.0.0", "": "127.0.0.1"
        case "[::]", "::": "[::1]"
        default: host
        }
        return "ws://\(reachable):\(port)\(path)"
    }
}

/// What an answered call plays until the AI pipeline speaks (issue 7): a rising chirp from 400 to 2,400 Hz over
/// 1.5 s at −12 dBFS, then 0.5 s of silence, twice. A chirp, so that a test can find it in what the caller
/// received by cross-correlation.
public enum Greeting {
    public static func tones(sampleRate: Int = 8000) -> [Int16] {
        let chirp = chirp(from: 400, to: 2400, seconds: 1.5, sampleRate: sampleRate)
        let pause = [Int16](repeating: 0, count: sampleRate / 2)
        return chirp + pause + chirp + pause
    }

    public static func chirp(from start: Double, to end: Double, seconds: Double, sampleRate: Int, amplitude: Double = 8200) -> [Int16] {
        let count = Int(seconds * Double(sampleRate))
        let rate = (end - start) / seconds
        return (0..<count).map { index in
            let t = Double(index) / Double(sampleRate)
            return Int16(amplitude * sin(2 * .pi * (start * t + rate * t * t / 2)))
        }
    }
}
