import AnswerNinjaCore
import Capture
import Codecs
import Foundation
import Logging
import MediaTransport
import NIOCore
import SDP
import SIPDialogs
import NIOSSL
import SIPIdentity
import SIPLocator
import SIPMessages
import SIPTransactions
import SIPAuth
import SIPTransport
import SRTP
import Store

/// The gateway's user agent core over SIP/UDP and TCP: it answers
/// INVITEs with SDP (G.711, SRTP when offered) — with a reliable 180 first when the caller requires 100rel (RFC 3262),
/// and with the session timer it asked for (RFC 4028) —, screens, bridges or lets the assistant speak, streams both
/// sides to `data_dir/recordings/<Call-ID>.wav` (stereo: the caller left, us right), takes DTMF sent in INFO, and ends the call on BYE from either side (ours after
/// `maximumDuration`, or when a session timer runs out) with a Reason (RFC 3326). OPTIONS is answered 200; REFER is
/// declined; what the policy refuses gets its 405/415/416/420; requests in unknown dialogs 481.
///
/// An actor on the event loop of its SIP sockets (its executor is that loop): a datagram is handled on the thread
/// that read it, and its timers are the loop's scheduled tasks, so a call costs no thread hop. Messages and fired
/// timers arrive in order; transactions and dialogs are the wire-layer state machines, their actions performed here.
/// Only what awaits the media side (opening and closing an RTP session) runs in a task, on the same loop. Session timers and PRACK are in
/// SIPUserAgent+Session.swift, the trunk's registration and keep-alives in SIPUserAgent+Trunk.swift.
actor SIPUserAgent {
    /// The loop the agent runs on, and its transports' sockets.
    nonisolated let eventLoop: any EventLoop
    nonisolated var unownedExecutor: UnownedSerialExecutor { eventLoop.executor.asUnownedSerialExecutor() }
    struct Call {
        var dialog: SIPDialog
        var source: SIPFlow
        var media: CallMedia
        /// The leg's RTP session when its media runs in this process.
        var session: RTPCallSession? { media.local }
        /// Our 2xx, resent until its ACK; nil for a call we placed (a device leg).
        var retransmission: SIPResponseRetransmission?
        /// The offer/answer as answered by us; nil for a call we placed, whose media is `audio` of our offer.
        var negotiation: SDPAnswerer.Negotiation?
        /// The SDP we last sent (our answer, or our offer), and the audio it agreed.
        var localSDP: SessionDescription
        var audio: NegotiatedAudio
        /// Who called whom; nil for a call we placed.
        var identity: SIPCallIdentity?
        /// What STIR/SHAKEN verification of its Identity header found; nil when verification is off or for a call we placed.
        var stir: STIRVerification? = nil
        var sessionTimer: SIPSessionTimer?
        /// The caller's INVITE listed UPDATE in Allow: our session refreshes use it instead of a re-INVITE.
        var peerAllowsUpdate: Bool
        /// DTMF received in INFO requests, in order.
        var digits = ""
        /// The ACK of our last re-INVITE's 2xx, sent again if the 2xx is.
        var refreshACK: SIPRequest?
        var byeSent = false
        /// Unix milliseconds when the call was answered: its record's key (with the Call-ID).
        var startedAt: Int64 = 0
        /// The screening decision for a caller's call; nil without a store, and for a call we placed.
        var screening: CallScreener.Screening? = nil
        /// The other leg of a bridged call (the B2BUA), once both have answered.
        var bridgedTo: SIPDialog.ID? = nil
        /// Unix milliseconds when the bridge was made (the device answered).
        var bridgedAt: Int64? = nil
        /// The recording being streamed since the answer (none on a bridge, whose legs carry each other's audio).
        var recording: RecordingStream? = nil
        /// Hold across a bridge: the direction this leg's far end last offered (its hold or resume), the direction
        /// we last had accepted in an offer of ours, the one we want it to be, and whether our re-INVITE is out.
        var remoteDirection: MediaDescription.Direction = .sendrecv
        var offeredDirection: MediaDescription.Direction = .sendrecv
        var wantedDirection: MediaDescription.Direction = .sendrecv
        /// Our hold offer while its re-INVITE is out: it becomes `localSDP` only when a 2xx answers it.
        var pendingOffer: SessionDescription? = nil
        /// A re-INVITE of ours (session refresh or hold) is out: one at a time (RFC 3261 §14.1), and theirs meanwhile
        /// gets 491 (§14.2).
        var reinviteInFlight = false
    }

    /// What the gateway's configuration says about calls.
    struct Settings: Sendable {
        var calledNumberSource: SIPCallIdentity.CalledNumberSource = .requestURI
        /// Addresses whose P-Asserted-Identity is believed.
        var trustedSources = IPAddressSet()
        /// RFC 4028 Min-SE, seconds.
        var minSessionExpires = 90
        var maximumDuration: Duration = .seconds(120)
        /// Calls being answered or in progress at once; more get 503.
        var maxCalls = 1000
        /// Users' devices that may register: user name (lower-case) → password.
        var deviceAccounts: [String: String] = [:]
        /// The registrar's challenges, in order.
        var deviceDigestAlgorithms: [DigestAlgorithm] = [.sha256, .md5]
        var deviceRingTimeout: Duration = .seconds(30)
        /// A bridged call's cap (a conversation between the caller and the user; a drain at shutdown waits for it).
        var maximumBridgedDuration: Duration = .seconds(4 * 3600)
        /// What a blocked caller hears before we hang up (`block_action` goodbye), 8 kHz.
        var goodbye: [Int16] = []
        /// Codecs and SRTP suites we answer and offer with.
        var media = MediaCapabilities()
        /// Region (ISO 3166) of numbers a device dials without a country code, unless its user set their own.
        var defaultRegion = "US"
        /// The secret of the registrar's and proxy's digest nonces, shared by the gateways behind one edge
        /// (`DigestServer.secret(sharedFrom:)`); nil: made at start, good for this process only.
        var digestSecret: [UInt8]?
    }

    /// Who waits for a client transaction's outcome.
    enum ClientPurpose: Sendable, Equatable {
        case registration, keepalive, bye
        /// Our BYE on a leg with the trunk, by Call-ID: a challenge to it is answered once (`trunkByes`).
        case trunkBye(String)
        case refresh(SIPDialog.ID)
        /// Our re-INVITE that holds or resumes the other leg of a bridge (`mapHold`).
        case hold(SIPDialog.ID)
        /// Our re-INVITE that brings a caller's media back from the media role for a take-over (`reanchor`).
        case reanchor(SIPDialog.ID)
        /// A DTMF INFO passed on to the other leg of a bridge: its answer is logged and changes nothing.
        case relayedInfo(SIPDialog.ID)
        /// Our INVITE to a user's device, by Call-ID.
        case deviceCall(String)
    }

    let transport: SIPTransports
    let group: any EventLoopGroup
    let pool: RTPPortPool
    private let answerer: SDPAnswerer
    /// Media for IPv6 callers: where their RTP sockets bind and what their SDP names; nil without `sip.ipv6_host`.
    private let answererV6: SDPAnswerer?
    let mediaHostV6: String?
    /// Where RTP sockets bind, and the address our SDP names.
    let mediaHost: String
    var advertisedMediaHost: String { answerer.localAddress }
    private let recordings: URL
    private let recorder: RecordingWriter
    let greeting: [Int16]
    let logger: Logger
    let settings: Settings
    /// Verifies Identity headers; nil without trust anchors.
    let identityVerifier: STIRIdentityService?
    /// Where call state changes go (the journal, then the database); nil without a store.
    let callRecorder: CallRecorder?
    /// Decides each incoming call (owner, whitelist, settings, profile, flags); nil without a store: every call is
    /// answered.
    let screener: CallScreener?
    /// The assistant's shared engines; nil without a store, or in the greeting mode.
    let assistant: AssistantLoader?
    /// The assistant of each call it answers, by Call-ID.
    var assistantCalls: [String: AssistantCall] = [:]
    /// Per call, the re-offers' session updates (`RTPCallSession.follow`), one after another.
    var following = InOrder<String>()
    /// Per call in the media role, the digits sent there, each after the last one's result, so they arrive in order.
    var remoteDigitsSent = InOrder<CallID>()
    /// The media roles of calls screened by the assistant, when they run in other processes; none: media is here.
    let mediaRoles: [RemoteMedia]
    /// Calls whose media is in the media role, by the id of its session there.
    var remoteLegs: [CallID: RemoteLeg] = [:]
    /// Calls choosing a media role right now, by the role they are trying: counted in the next call's choice.
    var mediaChoosing: [ObjectIdentifier: Int] = [:]
    /// Callers whose media is coming back from the media role for a take-over, by their leg.
    var reanchoring: [SIPDialog.ID: Reanchor] = [:]
    /// Calls whose re-offer the media role is answering.
    var remoteOffers: Set<SIPDialog.ID> = []
    /// Where the live view's events go, in order; nil without a store.
    let events: LiveEventPublisher?
    /// Callers' INVITEs ringing the user's devices (the B2BUA), by fork.
    var pendingBridges: [String: PendingBridge] = [:]
    /// Answered calls the user takes over, ringing their devices, by fork: the caller's leg, the INVITEs left, and
    /// the line the answering device hears first.
    var pendingTakeovers: [String: (caller: SIPDialog.ID, outstanding: Int, announcement: String?)] = [:]
    /// Taken-over callers whose device is hearing the announcement, not yet joined (a second take-over is refused).
    var announcing: Set<SIPDialog.ID> = []
    /// Our BYEs on legs with the trunk, by Call-ID, until their final response: a carrier that challenges a BYE gets
    /// it again with the trunk's credentials (once), or the far end would never learn that the call ended.
    var trunkByes: [String: (bye: SIPRequest, flow: SIPFlow)] = [:]
    /// Forks a device has answered, for a few seconds: a device of the fork whose port was still opening is not rung.
    var answeredForks: Set<String> = []
    /// Answered calls whose reliable 180 had no PRACK yet (a bridge's device answered first): a PRACK that crossed our
    /// 200 still gets its 200 (RFC 3262 §3), not a 481.
    var unacknowledgedRinging: [SIPDialog.ID: (responseNumber: UInt32, inviteSequence: SIPCSeq)] = [:]
    /// RFC 3263 lookups for the trunk.
    let resolver: SIPResolver
    /// The client context of TLS connections to the trunk (system roots and `sip.trunk_tls_ca`).
    let trunkTLS: NIOSSLContext?
    var transactions: [SIPTransactionKey: (transaction: SIPServerTransaction, source: SIPFlow)] = [:]
    private var clientTransactions: [SIPTransactionKey: (transaction: SIPClientTransaction, destination: SIPFlow, purpose: ClientPurpose)] = [:]
    private var timers: [String: Scheduled<Void>] = [:]
    /// Ended calls whose media is being closed and recording written, awaited at shutdown.
    private var finishing: [String: Task<Void, Never>] = [:]
    var calls: [SIPDialog.ID: Call] = [:]
    /// INVITEs answered with a reliable 180 whose 200 waits for the PRACK.
    var answering: [SIPDialog.ID: Answering] = [:]
    var registration: Registration?
    /// INVITEs we sent to users' devices, not answered yet, by Call-ID.
    var deviceInvites: [String: DeviceInvite] = [:]
    /// INVITEs being answered (media opening, or a reliable 180 out) that are not calls yet.
    private var admitting = 0
    /// The registrar's bindings of users' devices, and its digest servers (SHA-256 and MD5 challenges).
    var location = SIPLocationService<SIPFlow>()
    /// Dialogs that ended while a re-INVITE of ours was out, to ACK its late 2xx (forgotten after that).
    var endedWithReinvite: [SIPDialog.ID: SIPDialog] = [:]
    /// Devices other gateways registered through an edge proxy, by address-of-record and gateway: reachable from here
    /// through the same edge by their Path (`SharedRegistration`).
    var sharedBindings: [String: [String: SharedRegistration]] = [:]
    /// This gateway among those that share bindings.
    nonisolated let gatewayToken = SIPToken.random()
    var registrarSHA256: DigestServer
    var registrarMD5: DigestServer
    var trunkReachable: Bool?
    /// The addresses the trunk's name resolved to: trusted as the trunk is.
    var trunkAddresses: Set<String> = []
    /// The Call-IDs of the legs we placed with the trunk (calls out, forwarding): a challenge to our BYE on one of
    /// them is answered with the trunk's account, and on no other leg (a device behind the same edge would get it).
    var trunkCalls: Set<String> = []
    /// A resolution or connection to the trunk is under way.
    var trunkConnecting = false
    /// Connections of ours to the trunk (or its outbound proxy) that closed while calls used them, and the requests
    /// those calls sent meanwhile: both move to the next connection (`trunkReconnected`).
    var closedTrunkFlows: Set<SIPFlow> = []
    var requestsAwaitingTrunk: [(SIPRequest, ClientPurpose)] = []
    /// The SIP UDP socket's receive queue is backed up: new INVITEs get 503 (`watchReceiveQueue`).
    var overloaded = false
    /// Shutting down gracefully (`drain`): OPTIONS and new INVITEs get 503, so that an edge proxy's dispatcher sends
    /// new calls elsewhere, while the calls in progress go on.
    private(set) var draining = false
    private var receiveDrops = 0

    init(
        transport: SIPTransports, eventLoop: any EventLoop, group: any EventLoopGroup, pool: RTPPortPool, mediaHost: String, advertisedHost: String, recordings: URL,
        greeting: [Int16], logger: Logger, settings: Settings = Settings(), identityVerifier: STIRIdentityService? = nil,
        resolver: SIPResolver = SIPResolver(), trunkTLS: NIOSSLContext? = nil, mediaHostV6: String? = nil, callRecorder: CallRecorder? = nil,
        screener: CallScreener? = nil, assistant: AssistantLoader? = nil, mediaRoles: [RemoteMedia] = []
    ) {
        self.mediaRoles = mediaRoles
        self.callRecorder = callRecorder
        self.screener = screener
        self.assistant = assistant
        events = screener.map { LiveEventPublisher(bus: LiveEventBus(cache: $0.platform.cache)) }
        self.transport = transport
        self.eventLoop = eventLoop
        self.group = group
        self.pool = pool
        self.mediaHost = mediaHost
        answerer = SDPAnswerer(capabilities: settings.media, localAddress: advertisedHost)
        answererV6 = mediaHostV6.map { SDPAnswerer(capabilities: settings.media, localAddress: $0) }
        self.mediaHostV6 = mediaHostV6
        self.recordings = recordings
        recorder = RecordingWriter(directory: recordings)
        self.greeting = greeting
        self.logger = logger
        self.settings = settings
        self.identityVerifier = identityVerifier
        self.resolver = resolver
        self.trunkTLS = trunkTLS
        // Nonces are an HMAC under this secret: any REGISTER (or INVITE out) answers a challenge of this process, or
        // of any gateway with the same secret.
        let secret = settings.digestSecret ?? {
            var generator = SystemRandomNumberGenerator()
            return (0 ..< 32).map { _ in UInt8.random(in: 0 ... .max, using: &generator) }
        }()
        registrarSHA256 = DigestServer(realm: Self.registrarRealm, algorithm: .sha256, secret: secret)
        registrarMD5 = DigestServer(realm: Self.registrarRealm, algorithm: .md5, secret: secret)
    }

    // MARK: Incoming

    /// Hands a message from a transport to the agent: at once when called on the agent's loop (a transport bound on
    /// it), else through the loop.
    nonisolated func deliver(_ incoming: SIPIncoming) {
        if eventLoop.inEventLoop {
            assumeIsolated { $0.receive(incoming) }
        } else {
            eventLoop.execute { self.assumeIsolated { $0.receive(incoming) } }
        }
    }

    func receive(_ incoming: SIPIncoming) {
        transport.metrics.message(incoming.message, direction: "in")
        switch incoming.message {
        case .request(let request): receive(request, from: incoming.flow)
        case .response(let response): receive(response)
        }
    }

    private func receive(_ request: SIPRequest, from source: SIPFlow) {
        if request.method == "ACK" {
            if let id = SIPDialog.id(ofReceived: .request(request)), var call = calls[id] {
                _ = call.retransmission?.ackReceived()
                try? call.dialog.receive(request)
                calls[id] = call
                cancelTimer("2xx|\(id.callID)")
            } else if let key = SIPTransactionKey.server(request), var entry = transactions[key] {
                let actions = entry.transaction.receive(request)
                transactions[key] = entry
                perform(actions, server: key, to: entry.source)
            }
            return
        }
        guard let key = SIPTransactionKey.server(request) else { return }
        if var entry = transactions[key] {
            // The peer repeated its request: the transaction resends its last response.
            let actions = entry.transaction.receive(request)
            transactions[key] = entry
            perform(actions, server: key, to: entry.source, retransmission: true)
            return
        }
        var transaction = SIPServerTransaction(request: request, reliable: source.isReliable)
        let start = transaction.start()
        transactions[key] = (transaction, source)
        perform(start.filter { if case .deliver = $0 { false } else { true } }, server: key, to: source)
        handle(request, key: key, source: source)
    }

    private func receive(_ response: SIPResponse) {
        guard let key = SIPTransactionKey.client(response), var entry = clientTransactions[key] else {
            _ = acknowledgedAgain(response)  // after its transaction ended
            return
        }
        let actions = entry.transaction.receive(response)
        clientTransactions[key] = entry
        perform(actions, client: key, to: entry.destination)
    }

    // MARK: The transaction user

    private func handle(_ request: SIPRequest, key: SIPTransactionKey, source: SIPFlow) {
        let inDialog = (try? SIPNameAddress(parsing: (request.headers.first("To") ?? "")[...]))?.tag != nil
        if let verdict = SIPUASPolicy.gateway.verdict(for: request), verdict.statusCode >= 300 {
            var response = SIPServerTransaction.response(to: request, statusCode: verdict.statusCode, reasonPhrase: verdict.reasonPhrase)
            for header in verdict.headers { response.headers.add(header.name, header.value) }
            respond(response, key: key)
            return
        }
        switch (request.method, inDialog) {
        case ("OPTIONS", false) where draining, ("INVITE", false) where draining:
            // A drained gateway is out of the edge's rotation (its OPTIONS probe sees 503, RFC 3261 §21.5.4); a
            // caller's proxy tries another for the INVITE. In-dialog requests (an OPTIONS or re-INVITE inside a call)
            // are answered as usual below.
            var unavailable = withTag(Self.response(to: request, 503, "Service Unavailable (draining)"))
            unavailable.headers.add("Retry-After", "30")
            respond(unavailable, key: key)
            if request.method == "INVITE" { transport.metrics.rejected("draining") }
        case ("OPTIONS", _):
            var response = SIPServerTransaction.response(to: request, statusCode: 200, reasonPhrase: "OK")
            response.headers.add("Allow", SIPUASPolicy.gateway.allowedMethods.joined(separator: ", "))
            response.headers.add("Accept", "application/sdp")
            response.headers.add("Supported", Self.supported)
            respond(withTag(response), key: key)
        case ("INVITE", false):
            // Shedding: while the SIP socket's receive queue is backed up, a new call is refused at once (and its
            // retransmissions with it), so that the loop catches up with what it has admitted.
            guard !overloaded else {
                var busy = withTag(Self.response(to: request, 503, "Service Unavailable (overloaded)"))
                busy.headers.add("Retry-After", "1")
                respond(busy, key: key)
                transport.metrics.rejected("overload")
                return
            }
            // Admission: beyond the limit a new call is refused at once, cheaply (RFC 3261 §21.5.4), so that overload
            // sheds calls instead of queueing work it cannot finish.
            guard calls.count + answering.count + admitting < settings.maxCalls else {
                var busy = withTag(Self.response(to: request, 503, "Service Unavailable (at capacity)"))
                busy.headers.add("Retry-After", "5")
                respond(busy, key: key)
                transport.metrics.rejected("at_capacity")
                return
            }
            admitting += 1
            Task {
                await answer(request, key: key, source: source)
                admitting -= 1
            }
        case ("CANCEL", _):
            cancel(request, key: key)
        case ("REFER", _):
            // Transfers are not offered (yet): declined, the call goes on (RFC 3515 §2.4.2).
            if inDialog, SIPDialog.id(ofReceived: .request(request)).flatMap({ calls[$0] }) == nil {
                respond(Self.response(to: request, 481, "Call/Transaction Does Not Exist"), key: key)
            } else {
                respond(withTag(Self.response(to: request, 603, "Decline")), key: key)
            }
        case ("REGISTER", _):
            registerDevice(request, key: key, source: source)
        case ("PRACK", true):
            prack(request, key: key)
        case (_, true):
            handleInDialog(request, key: key, source: source)
        default:
            respond(Self.response(to: request, 481, "Call/Transaction Does Not Exist"), key: key)
        }
    }

    /// A request in a confirmed dialog: BYE, a re-INVITE or UPDATE (re-offer, session refresh), INFO (DTMF).
    private func handleInDialog(_ request: SIPRequest, key: SIPTransactionKey, source: SIPFlow) {
        guard let id = SIPDialog.id(ofReceived: .request(request)), calls[id] != nil else {
            respond(Self.response(to: request, 481, "Call/Transaction Does Not Exist"), key: key)
            return
        }
        do {
            try calls[id]!.dialog.receive(request)
        } catch {
            respond(Self.response(to: request, 500, "Server Internal Error (\(error.message))"), key: key)
            return
        }
        switch request.method {
        case "BYE":
            respond(Self.response(to: request, 200, "OK"), key: key)
            let reason = request.headers.first("Reason").flatMap { try? SIPReason(parsing: $0[...]) }
            end(id, side: "remote", reason: reason)
        case "INVITE", "UPDATE":
            refreshed(request, id: id, key: key, source: source)
        case "INFO":
            info(request, id: id, key: key)
        case "NOTIFY":
            respond(Self.response(to: request, 481, "Subscription Does Not Exist"), key: key)
        default:
            respond(Self.response(to: request, 200, "OK"), key: key)
        }
    }

    /// A re-INVITE or UPDATE: a re-offer (hold, resume) answered from the same port, and a session refresh. A
    /// re-INVITE without an offer gets ours (unchanged, so its version too) and its answer comes in the ACK.
    private func refreshed(_ request: SIPRequest, id: SIPDialog.ID, key: SIPTransactionKey, source: SIPFlow) {
        guard var call = calls[id] else { return }
        if call.reinviteInFlight, request.method == "INVITE" || request.body.readableBytes > 0 {
            // Glare (RFC 3261 §14.2, RFC 3311 §5.2 for an UPDATE with an offer): our re-INVITE is out on this
            // dialog; theirs is tried again later.
            respond(Self.response(to: request, 491, "Request Pending"), key: key)
            return
        }
        let timer = SIPSessionTimer.negotiate(request, minimum: settings.minSessionExpires)
        if case .tooSmall(let minimum) = timer {
            var response = Self.response(to: request, 422, "Session Interval Too Small")
            response.headers.add("Min-SE", String(minimum))
            respond(response, key: key)
            return
        }
        if case .remote(let mediaId) = call.media, request.body.readableBytes > 0 {
            refreshRemote(request, id: id, key: key, source: source, mediaId: mediaId, timer: timer)
            return
        }
        var response = Self.response(to: request, 200, "OK")
        if request.body.readableBytes > 0 {
            let answerer = (call.localSDP.connection?.address.contains(":") == true ? answererV6 : nil) ?? answerer
            // A leg we placed has no answer of ours yet: its previous is our offer, whose session id, port and keys
            // carry over (RFC 3264 §8: the same session, its version raised).
            let previous = call.negotiation ?? call.localSDP.media.firstIndex { $0.type == "audio" && $0.port != 0 }.map {
                SDPAnswerer.Negotiation(answer: call.localSDP, audio: call.audio, audioIndex: $0)
            }
            guard let offer = try? Self.offer(in: request), let negotiation = try? answerer.answer(offer, localPort: call.session?.localPort ?? 0, previous: previous) else {
                respond(Self.response(to: request, 488, "Not Acceptable Here"), key: key)
                return
            }
            // A far end that moved (another address or port) or changed codec or keys: the session follows it.
            if let session = call.session, call.audio.needsPrepare(toRun: negotiation.audio) {
                let logger = logger, callId = id.callID, current = call.audio, next = negotiation.audio
                logger.info("the far end's media moved", metadata: [
                    "call_id": "\(callId)", "remote": "\(next.remoteAddress):\(next.remotePort)", "codec": "\(next.codec.rawValue)",
                ])
                following.run(callId) {
                    do { try await session.follow(from: current, to: next) } catch {
                        logger.error("the session could not follow the re-offer", metadata: ["call_id": "\(callId)", "error": "\(error)"])
                    }
                }
            }
            call.negotiation = negotiation
            call.localSDP = negotiation.answer
            call.audio = negotiation.audio.keepingFarEnd(of: call.audio)
            call.remoteDirection = Self.heldDirection(of: offer)
            response.headers.add("Content-Type", "application/sdp")
            response.body = ByteBuffer(string: negotiation.answer.serialized)
        } else if request.method == "INVITE" {
            response.headers.add("Content-Type", "application/sdp")
            response.body = ByteBuffer(string: call.localSDP.serialized)
        }
        completeRefresh(request, id: id, key: key, source: source, timer: timer, call: call, response: response)
    }

    /// Sends the 2xx of a re-INVITE or UPDATE whose answer `response` carries (or not, for one without an offer), with
    /// the session timer it agreed; a change of hold is mapped across a bridge.
    func completeRefresh(
        _ request: SIPRequest, id: SIPDialog.ID, key: SIPTransactionKey, source: SIPFlow, timer: SIPSessionTimer.Negotiation, call: Call, response: SIPResponse
    ) {
        var call = call, response = response
        response.headers.add("Contact", contact(for: source))
        response.headers.add("Supported", Self.supported)
        if case .accepted(let negotiated) = timer {
            for field in negotiated.responseHeaders { response.headers.add(field.name, field.value) }
            call.sessionTimer = negotiated
        } else {
            call.sessionTimer = nil
        }
        let heldBefore = calls[id]?.remoteDirection
        calls[id] = call
        if request.method == "INVITE" {
            send2xx(response, to: id, key: key)
        } else {
            respond(response, key: key)
        }
        startSessionTimer(id)
        // Hold mapped across the bridge: the other leg is offered the same direction (held, or resumed).
        if let peer = call.bridgedTo, heldBefore != call.remoteDirection { mapHold(peer, direction: call.remoteDirection) }
    }

    /// CANCEL (§9.2): 200 for it and 487 for the INVITE it names while that is still unanswered; once answered, the
    /// CANCEL has no effect; 481 when it names no INVITE we know.
    private func cancel(_ request: SIPRequest, key: SIPTransactionKey) {
        var invite = request
        invite.method = "INVITE"
        guard let inviteKey = SIPTransactionKey.server(invite), var entry = transactions[inviteKey] else {
            respond(Self.response(to: request, 481, "Call/Transaction Does Not Exist"), key: key)
            return
        }
        respond(Self.response(to: request, 200, "OK"), key: key)
        guard entry.transaction.state == .proceeding else { return }
        let reason = request.headers.first("Reason").flatMap { try? SIPReason(parsing: $0[...]) }
        let terminated = withTag(SIPServerTransaction.response(to: entry.transaction.request, statusCode: 487, reasonPhrase: "Request Terminated"))
        let actions = entry.transaction.respond(terminated)
        transactions[inviteKey] = entry
        perform(actions, server: inviteKey, to: entry.source)
        cancelBridge(for: inviteKey)
        // A call held for its PRACK is released with its RTP port (a bridge's, by `cancelBridge` above).
        if let id = answering.first(where: { $0.value.key == inviteKey })?.key, let held = answering.removeValue(forKey: id) {
            cancelTimer("100rel|\(id.callID)")
            if !held.bridging { release(held.call.media) }
        }
        logger.info("call cancelled", metadata: ["call_id": "\(request.headers.first("Call-ID") ?? "")", "reason": "\(reason.map(Self.describe) ?? "none")"])
    }

    private func answer(_ request: SIPRequest, key: SIPTransactionKey, source: SIPFlow) async {
        let offer: SessionDescription
        do {
            offer = try Self.offer(in: request)
        } catch {
            respond(Self.response(to: request, 400, "Bad Request (\(error.message))"), key: key)
            return
        }
        guard let audio = offer.media.first(where: { $0.type == "audio" && $0.port != 0 }), let address = (audio.connection ?? offer.connection)?.address,
              let remote = try? SocketAddress(ipAddress: address, port: audio.port)
        else {
            respond(Self.response(to: request, 488, "Not Acceptable Here (no audio stream)"), key: key)
            return
        }
        let timer = SIPSessionTimer.negotiate(request, minimum: settings.minSessionExpires)
        if case .tooSmall(let minimum) = timer {
            var response = withTag(Self.response(to: request, 422, "Session Interval Too Small"))
            response.headers.add("Min-SE", String(minimum))
            respond(response, key: key)
            return
        }
        // A user's device calling out through us (its From names a device account): authenticated, not screened.
        // (Not told apart by address: devices may reach us through the same edge proxy as the trunk's calls.)
        let outbound = callingDevice(request)
        if let account = outbound, !authorizeCallOut(request, key: key, account: account, source: source) { return }
        let trusted = source.remote.ipAddress.map { settings.trustedSources.contains($0) || trunkAddresses.contains($0) } ?? false
        let identity = SIPCallIdentity(request, calledNumberSource: settings.calledNumberSource, trustedSender: trusted)
        // The Identity header is verified while the RTP port opens (its certificate may have to be fetched); the
        // screening decision waits for it.
        let verification = outbound != nil ? nil : identityVerifier.map { verifier in Task { await verifier.verify(request, identity: identity) } }
        let screening = outbound != nil ? nil : screener.map { screener in
            Task {
                let stir = await verification?.value
                return await screener.screen(
                    caller: identity.caller ?? "anonymous", callee: identity.called ?? "", verstat: stir?.verstat ?? identity.verstat, attestation: stir?.attestation
                )
            }
        }
        // An IPv6 caller's media is answered from our IPv6 address, when we have one.
        let ipv6Media = address.contains(":")
        guard let answerer = ipv6Media ? answererV6 : answerer, let mediaHost = ipv6Media ? mediaHostV6 : mediaHost else {
            respond(Self.response(to: request, 488, "Not Acceptable Here (IPv6 media is not enabled)"), key: key)
            return
        }
        // A call the assistant screens has its media in the media role, when it runs apart (`media.control_url`).
        if !mediaRoles.isEmpty, outbound == nil, !ipv6Media, assistant != nil, let screened = await screening?.value, screened.decision.outcome == .screen {
            await answerRemote(request, key: key, source: source, identity: identity, stir: await verification?.value, screened: screened, timer: timer)
            return
        }
        let session: RTPCallSession
        var negotiation: SDPAnswerer.Negotiation
        do {
            negotiation = try answerer.answer(offer, localPort: 0)
            let audio = negotiation.audio, transforms = try audio.srtpTransforms()
            session = try await RTPCallSession.open(
                pool: pool, host: mediaHost, remote: remote, codec: audio.pathCodec, events: audio.eventPayloadType, inbound: transforms.inbound,
                outbound: transforms.outbound,
                group: group, now: Self.now(), rtcpMux: audio.rtcpMux
            )
        } catch let error as SDPError {
            respond(Self.response(to: request, error.sipStatus, error.sipStatus == 488 ? "Not Acceptable Here" : "Bad Request"), key: key)
            return
        } catch {
            logger.warning("media session not opened", metadata: ["call_id": "\(request.headers.first("Call-ID") ?? "")", "error": "\(error)"])
            var busy = Self.response(to: request, 503, "Service Unavailable (no RTP port)")
            busy.headers.add("Retry-After", "5")
            respond(busy, key: key)
            transport.metrics.rejected("no_rtp_port")
            return
        }
        // The answer with the port the session got.
        negotiation.setLocalPort(session.localPort)
        let (response, sessionTimer) = answered(request, source: source, timer: timer, sdp: negotiation.answer)
        guard let dialog = try? SIPDialog(uas: request, response: response) else {
            _ = await session.stop(pool: pool, now: Self.now())
            respond(Self.response(to: request, 400, "Bad Request (no Contact)"), key: key)
            return
        }
        let stir = await verification?.value
        let screened = await screening?.value
        // The actor may have handled a CANCEL while the RTP port was being opened: answer only a pending INVITE.
        guard let entry = transactions[key], entry.transaction.state == .proceeding else {
            _ = await session.stop(pool: pool, now: Self.now())
            return
        }
        var call = Call(
            dialog: dialog, source: source, media: .local(session), retransmission: SIPResponseRetransmission(response: response), negotiation: negotiation,
            localSDP: negotiation.answer, audio: negotiation.audio, identity: outbound == nil ? identity : nil, stir: stir, sessionTimer: sessionTimer,
            peerAllowsUpdate: request.headers.list("Allow").contains { $0.uppercased() == "UPDATE" }, screening: screened
        )
        if let account = outbound {
            await callOut(request, key: key, call: call, account: account)
            return
        }
        switch screened?.decision.outcome {
        case .reject?:
            // No one owns the number: refused before anything is recorded (scanners dial numbers at random).
            _ = await session.stop(pool: pool, now: Self.now())
            respond(withTag(Self.response(to: request, 404, "Not Found (no user has this number)")), key: key)
            transport.metrics.rejected("unknown_number")
            logger.info("call refused", metadata: ["call_id": "\(dialog.id.callID)", "called": "\(identity.called ?? "")", "reasons": "\(screened?.decision.reasons ?? [])"])
            return
        case .block? where screened?.decision.blockAction != .goodbye:
            _ = await session.stop(pool: pool, now: Self.now())
            var declined = Self.response(to: request, 603, "Decline")
            declined.headers.set("To", response.headers.first("To") ?? "")
            declined.headers.add("Reason", SIPReason(protocolName: "SIP", cause: 603, text: "Blocked by the user").serialized)
            respond(declined, key: key)
            transport.metrics.rejected("blocked")
            recordUnanswered(call, outcome: "blocked", reason: "603 Decline")
            return
        case .connect?:
            guard let reason = connect(request, key: key, call: call) else { return }
            // No device to ring: the caller is screened, so a wanted caller can still leave a message.
            call.screening?.decision.reasons.append(reason)
        default: break
        }
        if Self.requires100rel(request) {
            ringReliably(request, key: key, call: call, ok: response)
        } else {
            accept(key: key, call: call)
        }
    }

    /// The 200 of an INVITE with our SDP answer (the gateway's own, or the media role's), and the session timer it
    /// agrees to.
    func answered(_ request: SIPRequest, source: SIPFlow, timer: SIPSessionTimer.Negotiation, sdp: SessionDescription) -> (SIPResponse, SIPSessionTimer?) {
        var response = withTag(Self.response(to: request, 200, "OK"))
        response.headers.add("Contact", contact(for: source))
        response.headers.add("Allow", SIPUASPolicy.gateway.allowedMethods.joined(separator: ", "))
        response.headers.add("Supported", Self.supported)
        var sessionTimer: SIPSessionTimer?
        if case .accepted(let negotiated) = timer {
            for field in negotiated.responseHeaders { response.headers.add(field.name, field.value) }
            sessionTimer = negotiated
        }
        response.headers.add("Content-Type", "application/sdp")
        response.body = ByteBuffer(string: sdp.serialized)
        return (response, sessionTimer)
    }

    /// Sends the 2xx of an INVITE and starts the call: the greeting plays (the goodbye, for a blocked caller; nothing
    /// on a bridge, whose legs carry each other's audio), the 2xx is resent until the ACK.
    func accept(key: SIPTransactionKey, call: Call) {
        let id = call.dialog.id
        var call = call
        call.startedAt = unixMilliseconds()
        // A caller's call has a record; a device's call out through us does not.
        if call.identity != nil {
            recordStart(call)
            callRecorder?.record(.answered, callId: id.callID, startedAt: call.startedAt)
        }
        // After the start is recorded: the record learns the recording's path from the writer's thread.
        if case .remote(let mediaId) = call.media { remoteLegs[mediaId]?.startedAt = call.startedAt }
        if call.bridgedTo == nil { startRecording(&call) }
        calls[id] = call
        transport.metrics.calls(calls.count)
        transport.metrics.portsInUse(pool.inUseCount)
        if let response = call.retransmission?.response { send2xx(response, to: id, key: key) }
        if let session = call.session { transport.metrics.watchPacing(session) }
        let blocked = call.screening?.decision.outcome == .block
        if let assistant, let screening = call.screening, screening.decision.outcome != .block, call.bridgedTo == nil {
            call.session?.start(playing: [])
            startAssistant(for: call, screening: screening, loader: assistant)
        } else {
            call.session?.start(playing: call.bridgedTo != nil ? [] : blocked ? settings.goodbye : greeting)
        }
        if blocked {
            // The goodbye plays to its end, then we hang up.
            let length = Duration.milliseconds(settings.goodbye.count / 8 + 400)
            scheduleTimer("goodbye|\(id.callID)", after: length) { agent in agent.hangUp(id, reason: .normalClearing("Blocked by the user")) }
        }
        let identity = call.identity
        logger.info("call answered", metadata: [
            "call_id": "\(id.callID)", "transport": "\(call.source.transportName.lowercased())", "codec": "\(call.audio.codec.rawValue)",
            "srtp": "\(call.audio.keys?.suite.rawValue ?? "none")", "rtp_port": "\(call.session.map { "\($0.localPort)" } ?? "media role")",
            "called": "\(identity?.called ?? "")", "called_source": "\(identity?.calledSource.rawValue ?? "")", "caller": "\(identity?.caller ?? "")",
            "asserted": "\(identity?.asserted ?? "")", "verstat": "\(identity?.verstat ?? "")", "anonymous": "\(identity?.anonymous ?? false)",
            "stir": "\(call.stir.map { "\($0)" } ?? "off")", "stir_verstat": "\(call.stir?.verstat ?? "")", "stir_attest": "\(call.stir?.attestation ?? "")",
            "session_expires": "\(call.sessionTimer.map { "\($0.interval)s" + ($0.weRefresh ? " (we refresh)" : "") } ?? "none")",
        ])
        scheduleTimer("limit|\(id.callID)", after: call.bridgedTo != nil ? settings.maximumBridgedDuration : settings.maximumDuration) { agent in
            agent.hangUp(id, reason: .normalClearing("Maximum call duration reached"))
        }
        startSessionTimer(id)
    }

    /// Streams the call's audio, both sides, to `recordings/<call>.wav` from the answer on. The record learns the
    /// path once the file exists (the call recorder then moves it into its owner's folder; the open file follows).
    private func startRecording(_ call: inout Call) {
        if case .remote(let mediaId) = call.media {
            recordRemote(mediaId)
            return
        }
        let callId = call.dialog.id.callID, startedAt = call.startedAt, owned = call.identity != nil
        let file = recordings.appendingPathComponent(Self.uniqueFileName(for: callId) + ".wav")
        let callRecorder = callRecorder, logger = logger
        let stream = recorder.stream(to: file) { opened in
            if !opened {
                logger.error("recording not started", metadata: ["call_id": "\(callId)", "file": "\(file.path)"])
            } else if owned {
                callRecorder?.record(.recording(path: file.path), callId: callId, startedAt: startedAt)
            }
        }
        call.session?.record { stream.append($0) }
        call.recording = stream
    }

    /// The call's start and its decision, to the recorder and to the live view.
    func recordStart(_ call: Call) {
        publishStart(call)
        guard let recorder = callRecorder else { return }
        let id = call.dialog.id, identity = call.identity
        recorder.started(
            callId: id.callID, startedAt: call.startedAt, caller: identity?.caller ?? "anonymous", callee: identity?.called ?? "",
            attestation: call.stir?.attestation, userId: call.screening?.userId
        )
        if let screening = call.screening {
            recorder.record(.decided(decision: screening.decision.outcome.rawValue, reasons: screening.decision.reasons), callId: id.callID, startedAt: call.startedAt)
        } else {
            var reasons = ["gateway:no_store"]
            if let verstat = call.stir?.verstat ?? identity?.verstat { reasons.append("stir:\(verstat)") }
            recorder.record(.decided(decision: "screen", reasons: reasons), callId: id.callID, startedAt: call.startedAt)
        }
    }

    /// A call that ended before it was answered (declined, or cancelled while the user's devices rang): its record.
    func recordUnanswered(_ call: Call, outcome: String, reason: String) {
        var call = call
        call.startedAt = unixMilliseconds()
        recordStart(call)
        callRecorder?.record(.ended(outcome: outcome, reason: reason), callId: call.dialog.id.callID, startedAt: call.startedAt)
        transport.metrics.callEnded(decision: Self.decision(of: call).rawValue, outcome: outcome)
        publishEnd(call, outcome: outcome, reason: outcome == "blocked" ? .assistantHangup : .callerHangup)
    }

    /// The record's outcome of a caller's call that ended, from who ended it (`side`, as `hangUp` takes it).
    static func outcome(of call: Call, side: String) -> String {
        switch (side, call.bridgedTo != nil) {
        case ("bridge", _): "user_hung_up"
        case ("user", _): "hung_up_by_user"
        case ("assistant", _): "hung_up_by_ai"
        case ("local", true): "ended_by_gateway"
        case ("local", false): call.screening?.decision.outcome == .block ? "blocked" : "hung_up_by_us"
        default: "caller_hung_up"
        }
    }

    /// The screening decision as the live view and `calls_total` name it: allow, block or screen (a call screened
    /// without a store too).
    static func decision(of call: Call) -> LiveEvent.Decision.Outcome {
        switch call.screening?.decision.outcome {
        case .connect?: .allow
        case .block?: .block
        case .screen?, .reject?, nil: .screen
        }
    }

    /// `call_started` (unless `decisionOnly`, for a changed decision) and `decision` for the owner's live view.
    func publishStart(_ call: Call, decisionOnly: Bool = false) {
        guard let events, let screening = call.screening, let userId = screening.userId, let callId = try? CallID(call.dialog.id.callID) else { return }
        let started = LiveEvent.callStarted(.init(callId: callId, userId: userId, atMs: call.startedAt, caller: call.identity?.caller ?? "anonymous", dialled: call.identity?.called ?? ""))
        let outcome = Self.decision(of: call)
        let decision = LiveEvent.decision(.init(callId: callId, userId: userId, atMs: unixMilliseconds(), decision: outcome, reasons: screening.decision.reasons))
        if !decisionOnly { events.publish(started, userId: userId) }
        events.publish(decision, userId: userId)
    }

    /// `call_ended` for the owner's live view.
    func publishEnd(_ call: Call, outcome: String, reason: ReleaseReason) {
        guard let events, let userId = call.screening?.userId, let callId = try? CallID(call.dialog.id.callID) else { return }
        let now = unixMilliseconds()
        let ended = LiveEvent.callEnded(.init(callId: callId, userId: userId, atMs: now, outcome: outcome, reason: reason, durationMs: now - call.startedAt))
        events.publish(ended, userId: userId)
    }

    /// Sends the 2xx to an INVITE or re-INVITE of call `id`: the transaction goes to Accepted and the core resends the
    /// 2xx until the ACK (RFC 3261 §13.3.1.4, RFC 6026).
    private func send2xx(_ response: SIPResponse, to id: SIPDialog.ID, key: SIPTransactionKey) {
        guard var entry = transactions[key], var call = calls[id] else { return }
        _ = entry.transaction.respond(response)  // its one send is the retransmission's first
        transactions[key] = entry
        scheduleTimer("server|\(key)|accepted", after: SIPTimerValues.rfc3261.transactionTimeout) { agent in agent.forget(.server, key) }
        let retransmission = SIPResponseRetransmission(response: response)
        call.retransmission = retransmission
        calls[id] = call
        perform2xx(retransmission.start(reliable: call.source.isReliable), id: id)
    }

    /// Ends the call from our side: BYE in the dialog, with why (RFC 3326). `side` says who ended it for the record:
    /// `local` (the gateway: a limit, a goodbye, shutdown), `assistant`, `user` (from the API), `bridge` (the other
    /// leg of a bridged call hung up).
    func hangUp(_ id: SIPDialog.ID, reason: SIPReason = .normalClearing(), side: String = "local") {
        guard var call = calls[id], !call.byeSent else { return }
        call.byeSent = true
        var bye = call.dialog.makeRequest(method: "BYE", via: via(for: call.source), contact: contact(for: call.source))
        bye.headers.add("Reason", reason.serialized)
        calls[id] = call
        sendBye(bye, callID: id.callID, to: call.source)
        end(id, side: side, reason: reason)
    }

    /// Sends our BYE; on a leg with the trunk it is kept until its final response, so that a challenge to it is
    /// answered (`trunkByeAnswered`). A leg with the trunk: one we placed with it, or, straight to the trunk (no
    /// outbound proxy), one whose far end is at its addresses. Behind a proxy the calls the trunk sends us come by the
    /// same proxy as the devices' calls, so only the legs we placed are known to be the trunk's.
    func sendBye(_ bye: SIPRequest, callID: String, to flow: SIPFlow) {
        var purpose = ClientPurpose.bye
        let atTrunk = registration?.proxy == nil && flow.remote.ipAddress.map(trunkAddresses.contains) == true
        if registration != nil, trunkCalls.contains(callID) || atTrunk {
            trunkByes[callID] = (bye, flow)
            purpose = .trunkBye(callID)
        }
        startClientTransaction(bye, to: flow, purpose: purpose)
    }

    /// The call is over: forgotten at once; its media closed, its recording written and its end logged in a task.
    private func end(_ id: SIPDialog.ID, side: String, reason: SIPReason?) {
        trunkCalls.remove(id.callID)
        guard let call = calls.removeValue(forKey: id) else { return }
        transport.metrics.calls(calls.count)
        for timer in ["2xx", "limit", "session", "goodbye", "hold"] { cancelTimer("\(timer)|\(id.callID)") }
        // A re-INVITE of ours still out: its 2xx, if one comes, is ACKed all the same (or the far end resends it).
        if call.reinviteInFlight { endedWithReinvite[id] = call.dialog }
        unacknowledgedRinging[id] = nil
        // A bridged call ends as a whole: the other leg gets a BYE with the same reason; a take-over still ringing
        // is called off.
        if let peer = call.bridgedTo { hangUp(peer, reason: reason ?? .normalClearing(), side: "bridge") }
        cancelTakeover(of: id)
        following.forget(id.callID)
        if let assistant = assistantCalls.removeValue(forKey: id.callID) {
            let reason: ReleaseReason = switch side {
            case "assistant": .assistantHangup
            case "user": .userHangup
            default: .callerHangup
            }
            Task { await assistant.stop(reason) }
        }
        finishing[id.callID] = Task { await finish(call, id: id, side: side, reason: reason) }
    }

    private func finish(_ call: Call, id: SIPDialog.ID, side: String, reason: SIPReason?) async {
        defer { finishing[id.callID] = nil }
        let report: RTPCallSession.Report
        switch call.media {
        case .local(let session):
            report = await session.stop(pool: pool, now: Self.now())
            transport.metrics.portsInUse(pool.inUseCount)
            transport.metrics.packets(report)
        case .remote(let mediaId):
            report = await releaseRemote(mediaId, reason: Self.releaseReason(side: side))
        }
        // The session handed the last of the audio over as it stopped; the file is closed on the recorder's thread.
        var recording = "none (a bridge is not recorded)"
        if let stream = call.recording {
            recording = stream.path
            if await !stream.close() {
                recording = "incomplete"
                logger.error("recording not written in full", metadata: ["call_id": "\(id.callID)", "file": "\(stream.path)"])
            }
        }
        let outcome = Self.outcome(of: call, side: side)
        if call.identity != nil { transport.metrics.callEnded(decision: Self.decision(of: call).rawValue, outcome: outcome) }
        // A caller's leg has a record; a leg we placed (to a device) is part of its caller's.
        if let recorder = callRecorder, call.identity != nil {
            // A bridged call the user talked in teaches the whitelist (unless the caller was on it already).
            if let bridgedAt = call.bridgedAt, call.screening?.decision.reasons.contains(where: { $0.hasPrefix("whitelist:") && $0 != "whitelist:none" }) == false {
                recorder.accepted(callId: id.callID, seconds: Double(unixMilliseconds() - bridgedAt) / 1000)
            }
            recorder.record(.ended(outcome: outcome, reason: reason.map(Self.describe) ?? "bye"), callId: id.callID, startedAt: call.startedAt)
            let released: ReleaseReason = switch outcome {
            case "caller_hung_up": .callerHangup
            case "hung_up_by_user", "user_hung_up": .userHangup
            case "hung_up_by_ai": .assistantHangup
            case "blocked", "hung_up_by_us": reason?.text == "Maximum call duration reached" ? .maximumDuration : .assistantHangup
            default: call.bridgedTo != nil ? .transferred : .shutdown
            }
            publishEnd(call, outcome: outcome, reason: released)
        }
        logger.info("call ended", metadata: [
            "call_id": "\(id.callID)", "hangup_side": "\(side)", "reason": "\(reason.map(Self.describe) ?? "none")", "dtmf": "\(call.digits)",
            "dtmf_rtp": "\(report.digits)", "packets_received": "\(report.packetsReceived)", "packets_sent": "\(report.packetsSent)",
            "packets_relayed": "\(report.packetsRelayed)", "packets_relayed_late": "\(report.packetsRelayedLate)", "dropped_other_sources": "\(report.droppedFromOtherSources)", "rtcp_sent": "\(report.controlSent)", "rtcp_received": "\(report.controlReceived)",
            "recording": "\(recording)",
        ])
    }

    // MARK: Actions

    func respond(_ response: SIPResponse, key: SIPTransactionKey) {
        guard var entry = transactions[key] else { return }
        let actions = entry.transaction.respond(response)
        transactions[key] = entry
        perform(actions, server: key, to: entry.source)
    }

    /// Sends `request` in a new client transaction whose outcome goes to `purpose`.
    func startClientTransaction(_ request: SIPRequest, to destination: SIPFlow, purpose: ClientPurpose) {
        var destination = destination
        if closedTrunkFlows.contains(destination) {
            // A call's connection to the trunk closed (an edge pod restarted): its request goes over the new one, or
            // waits for it (a BYE lost here would leave the far end's leg up).
            guard let current = registration?.destination else {
                requestsAwaitingTrunk.append((request, purpose))
                return
            }
            destination = current
        }
        guard let key = SIPTransactionKey.client(request) else { return }
        let transaction = SIPClientTransaction(request: request, reliable: destination.isReliable)
        clientTransactions[key] = (transaction, destination, purpose)
        perform(transaction.start(), client: key, to: destination)
    }

    enum Side: String, Sendable { case server, client }

    private func perform(_ actions: [SIPTransactionAction], server key: SIPTransactionKey, to destination: SIPFlow, retransmission: Bool = false) {
        perform(actions, side: .server, key: key, to: destination, retransmission: retransmission)
    }

    private func perform(_ actions: [SIPTransactionAction], client key: SIPTransactionKey, to destination: SIPFlow) {
        perform(actions, side: .client, key: key, to: destination)
    }

    /// Carries out a transaction's actions: sends, (re)starts and cancels its timers, forgets it when it ends, and
    /// hands a client transaction's final response or time-out to whoever started it. `retransmission`: what it sends
    /// is a resend (a timer fired, or the peer repeated its request).
    private func perform(_ actions: [SIPTransactionAction], side: Side, key: SIPTransactionKey, to destination: SIPFlow, retransmission: Bool = false) {
        let purpose = side == .client ? clientTransactions[key]?.purpose : nil
        for action in actions {
            switch action {
            case .send(let message): transport.send(message, to: destination, retransmission: retransmission)
            case .startTimer(let timer, let duration):
                scheduleTimer(Self.timerName(side, key, timer), after: duration) { agent in
                    agent.transactionTimerFired(side: side, key: key, timer: timer)
                }
            case .cancelTimer(let timer): cancelTimer(Self.timerName(side, key, timer))
            case .terminated: forget(side, key)
            case .deliver(.response(let response)) where response.statusCode >= 200:
                if let purpose { clientAnswered(purpose, response: response, destination: destination) }
            case .deliver(.response(let response)):
                if case .deviceCall(let callID)? = purpose { deviceProvisional(callID, response: response) }
            case .timedOut:
                if let purpose { clientTimedOut(purpose, destination: destination) }
            case .deliver, .ackNotReceived: break
            }
        }
    }

    /// A 2xx to an INVITE we sent in a call (a re-INVITE, or our INVITE to a device) that we have already ACKed comes
    /// again: our ACK was lost, so it goes again (RFC 3261 §13.2.2.4). True when `response` was such a resend.
    private func acknowledgedAgain(_ response: SIPResponse) -> Bool {
        guard response.statusCode / 100 == 2, let id = SIPDialog.id(ofReceived: .response(response)), let call = calls[id], let ack = call.refreshACK,
              let cseq = response.headers.cseq, cseq.method == "INVITE", cseq.sequence == ack.headers.cseq?.sequence
        else { return false }
        transport.send(.request(ack), to: call.source)
        return true
    }

    private func clientAnswered(_ purpose: ClientPurpose, response: SIPResponse, destination: SIPFlow) {
        if acknowledgedAgain(response) { return }
        switch purpose {
        case .registration: registrationAnswered(response, from: destination)
        case .keepalive: keepaliveAnswered(response)
        case .refresh(let id): refreshAnswered(id, response: response, destination: destination)
        case .hold(let id): holdAnswered(id, response: response, destination: destination)
        case .reanchor(let id): reanchorAnswered(id, response: response, destination: destination)
        case .relayedInfo(let id):
            logger.info("dtmf relayed", metadata: ["call_id": "\(id.callID)", "status": "\(response.statusCode)"])
        case .deviceCall(let callID): deviceAnswered(callID, response: response, destination: destination)
        case .trunkBye(let callID): trunkByeAnswered(callID, response: response)
        case .bye: break
        }
    }

    private func clientTimedOut(_ purpose: ClientPurpose, destination: SIPFlow) {
        switch purpose {
        case .registration: registrarTimedOut(destination)
        case .keepalive: keepaliveTimedOut(destination)
        case .refresh(let id):
            endedWithReinvite[id] = nil
            hangUp(id, reason: SIPReason(protocolName: "SIP", cause: 408, text: "Session refresh timed out"))
        case .hold(let id):
            endedWithReinvite[id] = nil
            hangUp(id, reason: SIPReason(protocolName: "SIP", cause: 408, text: "Hold re-INVITE timed out"))
        case .reanchor(let id):
            endedWithReinvite[id] = nil
            if let pending = reanchoring.removeValue(forKey: id) {
                release(pending.session)
                reanchorFailed(id, device: pending.device, why: "the caller did not answer the re-INVITE")
            }
            hangUp(id, reason: SIPReason(protocolName: "SIP", cause: 408, text: "Re-INVITE timed out"))
        case .relayedInfo(let id): logger.warning("dtmf relayed", metadata: ["call_id": "\(id.callID)", "status": "timeout"])
        case .deviceCall(let callID): deviceTimedOut(callID)
        case .trunkBye(let callID): trunkByes[callID] = nil
        case .bye: break
        }
    }

    private static func timerName(_ side: Side, _ key: SIPTransactionKey, _ timer: SIPTimer) -> String {
        "\(side.rawValue)|\(key)|\(timer.rawValue)"
    }

    private func perform2xx(_ actions: [SIPResponseRetransmission.Action], id: SIPDialog.ID, retransmission: Bool = false) {
        guard let call = calls[id] else { return }
        for action in actions {
            switch action {
            case .send(let response): transport.send(.response(response), to: call.source, retransmission: retransmission)
            case .startTimer(let duration): scheduleTimer("2xx|\(id.callID)", after: duration) { agent in agent.retransmit2xx(id) }
            case .cancelTimer: cancelTimer("2xx|\(id.callID)")
            case .ackTimedOut: hangUp(id, reason: SIPReason(protocolName: "SIP", cause: 408, text: "No ACK for the 200"))
            }
        }
    }

    private func retransmit2xx(_ id: SIPDialog.ID) {
        guard var call = calls[id], var retransmission = call.retransmission else { return }
        let actions = retransmission.timerFired(reliable: call.source.isReliable)
        call.retransmission = retransmission
        calls[id] = call
        perform2xx(actions, id: id, retransmission: true)
    }

    private func transactionTimerFired(side: Side, key: SIPTransactionKey, timer: SIPTimer) {
        switch side {
        case .server:
            guard var entry = transactions[key] else { return }
            let actions = entry.transaction.timerFired(timer)
            transactions[key] = entry
            perform(actions, side: side, key: key, to: entry.source, retransmission: true)
        case .client:
            guard var entry = clientTransactions[key] else { return }
            let actions = entry.transaction.timerFired(timer)
            clientTransactions[key] = entry
            perform(actions, side: side, key: key, to: entry.destination, retransmission: true)
        }
    }

    private func forget(_ side: Side, _ key: SIPTransactionKey) {
        switch side {
        case .server: transactions[key] = nil
        case .client: clientTransactions[key] = nil
        }
        for timer in SIPTimer.allCases { cancelTimer(Self.timerName(side, key, timer)) }
    }

    /// Runs `body` on the agent after `duration`, as a scheduled task of its loop; a timer of the same name is
    /// replaced.
    func scheduleTimer(_ name: String, after duration: Duration, _ body: @escaping @Sendable (isolated SIPUserAgent) -> Void) {
        timers[name]?.cancel()
        timers[name] = eventLoop.scheduleTask(in: TimeAmount(duration)) { [weak self] in
            self?.assumeIsolated { agent in
                agent.timers[name] = nil
                body(agent)
            }
        }
    }

    /// How often the SIP socket's receive queue is looked at, and the fractions of its buffer at which shedding
    /// starts (while the kernel drops datagrams) and stops (hysteresis, so that it does not flap). The buffer
    /// (`net.core.rmem_max`, 208 KiB by default) holds only some 30 ms of traffic at 2,000 calls a second, so even a
    /// full queue can be an ordinary hiccup of a shared core; drops are overload (docs/benchmarks.md).
    static let queueWatchInterval: Duration = .milliseconds(50)
    static let shedAboveWhileDropping = 0.5
    static let shedBelow = 0.125

    /// Watches the kernel's receive queue of the SIP UDP socket (`SO_MEMINFO`) every 50 ms: half full while the
    /// kernel drops datagrams, and new calls are shed (503 with Retry-After) until it drains below an eighth with
    /// no more drops. The queue is where overload shows first: the loop reads as fast as it can, and what
    /// it cannot read waits there or is dropped, until the callers retransmit and the load doubles.
    func watchReceiveQueue() {
        scheduleTimer("receive-queue", after: Self.queueWatchInterval) { agent in
            agent.transport.udp.receiveQueue().whenSuccess { queue in
                agent.assumeIsolated { agent in
                    if let queue { agent.noteReceiveQueue(queue) }
                    agent.watchReceiveQueue()
                }
            }
        }
    }

    func noteReceiveQueue(_ queue: SIPUDPTransport.ReceiveQueue) {
        let fill = Double(queue.queuedBytes) / Double(max(1, queue.bufferBytes))
        let dropping = queue.drops > receiveDrops
        if !overloaded, dropping && fill > Self.shedAboveWhileDropping {
            overloaded = true
            logger.warning("overload: shedding new calls", metadata: ["queued_bytes": "\(queue.queuedBytes)", "buffer_bytes": "\(queue.bufferBytes)", "drops": "\(queue.drops)"])
        } else if overloaded, fill < Self.shedBelow, !dropping {
            overloaded = false
            logger.notice("overload over: taking new calls", metadata: ["queued_bytes": "\(queue.queuedBytes)", "drops": "\(queue.drops)"])
        }
        if queue.drops > receiveDrops {
            transport.metrics.receiveDrops(queue.drops - receiveDrops)
            receiveDrops = queue.drops
        }
    }

    func cancelTimer(_ name: String) {
        timers.removeValue(forKey: name)?.cancel()
    }

    /// Calls answered, being answered, or waiting for a device, and devices being rung: what a drain waits for.
    var callsInProgress: Int { calls.count + answering.count + admitting + pendingBridges.count + deviceInvites.count }

    /// Graceful shutdown's first half: stops taking calls (OPTIONS and new INVITEs get 503) and waits until the
    /// calls in progress have ended, or `grace` has passed; `shutdown` then hangs up what is left. Returns the number
    /// of calls still in progress.
    func drain(grace: Duration) async -> Int {
        draining = true
        let deadline = ContinuousClock.now + grace
        logger.notice("draining", metadata: ["calls": "\(callsInProgress)", "grace": "\(grace)"])
        while callsInProgress > 0, ContinuousClock.now < deadline {
            do { try await Task.sleep(for: .milliseconds(100)) } catch { break }  // cancelled: stop waiting
        }
        return callsInProgress
    }

    func shutdown() async {
        for id in Array(calls.keys) { hangUp(id, reason: .normalClearing("Gateway shutting down")) }
        for timer in timers.values { timer.cancel() }
        timers.removeAll()
        for task in Array(finishing.values) { await task.value }
        await recorder.shutdown()
        await identityVerifier?.shutdown()
        await resolver.shutdown()
    }

    /// Closes the media of a call that was never answered.
    func release(_ media: CallMedia) {
        switch media {
        case .local(let session): release(session)
        case .remote(let mediaId): Task { _ = await releaseRemote(mediaId, reason: .callerHangup) }
        }
    }

    /// Closes an RTP session of a call that was never answered.
    func release(_ session: RTPCallSession) {
        let pool = pool
        Task { _ = await session.stop(pool: pool, now: Self.now()) }
    }

    // MARK: Helpers

    /// The extensions we support, for Supported in our responses.
    static let supported = "100rel, timer"

    /// Our Contact on `flow`, with `user` as its user part: its transport (which keeps requests to us on that
    /// transport, RFC 3261 §18.1.1) and its address family.
    func contact(for flow: SIPFlow, user: String = "gateway") -> String {
        let host = transport.host(for: flow)
        switch flow {
        case .udp: return "<sip:\(user)@\(host):\(transport.udpPort)>"
        case .tcp: return "<sip:\(user)@\(host):\(transport.tcpPort);transport=tcp>"
        case .tls: return "<sip:\(user)@\(host):\(transport.tlsPort);transport=tls>"
        }
    }

    /// The Via of a request we send on `flow`.
    func via(for flow: SIPFlow) -> SIPVia {
        SIPVia.outgoing(transport: flow.transportName, host: transport.host(for: flow), port: transport.port(of: flow))
    }

    static func response(to request: SIPRequest, _ code: Int, _ reason: String) -> SIPResponse {
        SIPServerTransaction.response(to: request, statusCode: code, reasonPhrase: reason)
    }

    func withTag(_ response: SIPResponse) -> SIPResponse {
        var response = response
        if let to = response.headers.first("To"), var address = try? SIPNameAddress(parsing: to[...]), address.tag == nil {
            address.parameters.set("tag", SIPToken.random())
            response.headers.set("To", address.serialized)
        }
        return response
    }

    /// `Q.850 16 "Normal call clearing"` for the logs.
    static func describe(_ reason: SIPReason) -> String {
        [reason.protocolName, reason.cause.map(String.init), reason.text.map { "\"\($0)\"" }].compactMap { $0 }.joined(separator: " ")
    }

    static func offer(in request: SIPRequest) throws(SDPError) -> SessionDescription {
        var body = request.body
        let type = request.headers.first("Content-Type") ?? ""
        if let boundary = SIPMultipartBody.boundary(ofContentType: type) {
            guard let part = (try? SIPMultipartBody(parsing: body, boundary: boundary))?.part(ofType: "application/sdp") else {
                throw .notAcceptable("no SDP part in the multipart body")
            }
            body = part.body
        } else if !type.lowercased().hasPrefix("application/sdp") {
            throw .notAcceptable("an INVITE without an SDP offer (offerless INVITEs are not supported yet)")
        }
        return try SessionDescription(parsing: String(decoding: body.readableBytesView, as: UTF8.self))
    }

    static func now() -> MediaInstant { MediaInstant(.now()) }

    /// A Call-ID as a file name: only letters, digits, dots, dashes and underscores.
    static func fileName(for callID: String) -> String {
        String(callID.map { $0.isLetter || $0.isNumber || $0 == "." || $0 == "-" || $0 == "_" ? $0 : "_" })
    }

    /// A file name for a call's recording or transcript that no other call's takes: the Call-ID is the caller's to
    /// choose (and two Call-IDs can read the same once cleaned), and in Kubernetes every gateway writes into one
    /// shared recordings volume.
    static func uniqueFileName(for callID: String) -> String {
        fileName(for: String(callID.prefix(100))) + "-" + (0..<6).map { _ in UInt8.random(in: 0 ... .max) }.hexString
    }
}

/// The transports as the user agent sees them: a message goes out on the flow it belongs to.
struct SIPTransports: Sendable {
    let udp: SIPUDPTransport
    let tcp: SIPTCPTransport
    let tls: SIPTCPTransport?
    /// The host we advertise in Via and Contact.
    let host: String
    let metrics: GatewayMetrics
    /// The IPv6 listeners (same port numbers) and the address advertised to IPv6 peers, when `sip.ipv6_host` is set.
    var ipv6: IPv6? = nil

    struct IPv6: Sendable {
        let udp: SIPUDPTransport
        let tcp: SIPTCPTransport
        let tls: SIPTCPTransport?
        let host: String
    }

    /// The host of Via and Contact for a peer on `flow`: our IPv6 address, in brackets, to an IPv6 peer.
    func host(for flow: SIPFlow) -> String {
        if case .v6 = flow.remote, let ipv6 { return SIPURI.Host(unparsed: ipv6.host).description }
        return SIPURI.Host(unparsed: host).description
    }

    var udpPort: Int { udp.localAddress.port ?? 0 }
    var tcpPort: Int { tcp.localAddress.port ?? 0 }
    var tlsPort: Int { tls?.localAddress.port ?? 0 }

    func port(of flow: SIPFlow) -> Int {
        switch flow {
        case .udp: udpPort
        case .tcp: tcpPort
        case .tls: tlsPort
        }
    }

    /// Closes a TCP or TLS connection we no longer use (a trunk target left); nothing for UDP.
    func close(_ flow: SIPFlow) {
        switch flow {
        case .udp: break
        case .tcp(let connection, _), .tls(let connection, _):
            for holder in [tls, tcp, ipv6?.tls, ipv6?.tcp].compactMap({ $0 }) { holder.close(connection: connection) }
        }
    }

    /// `retransmission`: the same message again (a timer fired, or the peer repeated its request), counted as a
    /// message sent but not as another response.
    func send(_ message: SIPMessage, to flow: SIPFlow, retransmission: Bool = false) {
        metrics.message(message, direction: "out", retransmission: retransmission)
        switch flow {
        case .udp(let address):
            if case .v6 = address, let ipv6 { ipv6.udp.send(message, to: address) } else { udp.send(message, to: address) }
        case .tcp(let connection, _), .tls(let connection, _):
            // Connection ids are unique across transports: the one that holds it sends. (A TLS connection we opened
            // to a trunk lives in the TCP transport when there is no TLS listener.)
            for holder in [tls, tcp, ipv6?.tls, ipv6?.tcp].compactMap({ $0 }) where holder.send(message, on: connection) { return }
        }
    }
}
