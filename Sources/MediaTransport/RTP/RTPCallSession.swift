import AnswerNinjaCore
import Codecs
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import RTP
import SRTP

/// One call's RTP on a UDP port from the pool, driving a `MediaPath` on the socket's event loop: every 20 ms, at
/// deadlines `start + n × 20 ms` (no drift), it sends the next frame of what it plays and plays out one frame of
/// what it receives into the recording. It latches onto the first source whose packet passes the media path (for
/// SRTP: authenticates), and drops and counts packets from any other source; the address the SDP gave takes the latch
/// back once the latched source has gone quiet, and after a re-INVITE moves the far end the old source is not latched
/// onto again for a while. RTCP goes over the RTP port with
/// rtcp-mux (RFC 5761), else over the next port up (RFC 3550 §11), which the session binds as well.
public final class RTPCallSession: @unchecked Sendable {
    // @unchecked: every mutable field below is touched only on `eventLoop` (asserted).
    public struct Report: Sendable {
        public var recorded: [Int16]
        public var packetsReceived: Int
        public var packetsSent: Int
        public var droppedFromOtherSources: Int
        public var latchedSource: String?
        /// What the path counted and dropped: not RTP, failed SRTP authentication or replay, another payload type.
        public var malformed = 0
        public var unauthenticated = 0
        public var otherPayloadType = 0
        /// RTCP compound packets sent and taken.
        public var controlSent = 0
        public var controlReceived = 0
        /// Digits received as RFC 4733 events, in order.
        public var digits = ""
        /// Bridged: times the peer's audio backed up beyond `bridgeQueueFrames` and its oldest samples were dropped.
        public var bridgeOverflows = 0
        /// Bridged with relaying: the peer's packets this leg sent on as they came (also in `packetsSent`), and those
        /// not sent because a later one had gone (`MediaPath.relay`).
        public var packetsRelayed = 0
        public var packetsRelayedLate = 0
        /// Inbound quality (of the last source): packets lost (RFC 3550 A.3), interarrival jitter in seconds, and
        /// 20 ms frames concealed because their packet was lost or late (not those of a pause in the sender's stream).
        public var packetsLost = 0
        public var jitterSeconds = 0.0
        public var concealedFrames = 0

        /// A report of packet counts only (a session in another process, known by its statistics).
        public static func counted(received: Int, sent: Int, lost: Int = 0, jitterSeconds: Double = 0) -> Report {
            var report = Report(recorded: [], packetsReceived: received, packetsSent: sent, droppedFromOtherSources: 0, latchedSource: nil)
            report.packetsLost = lost
            report.jitterSeconds = jitterSeconds
            return report
        }
    }

    public let localPort: Int
    private let channel: any Channel
    /// The RTCP socket on `localPort + 1`, for legs without rtcp-mux.
    private let controlChannel: any Channel
    private let eventLoop: any EventLoop
    private var path: MediaPath?
    private var remote: SocketAddress?
    private var latched: SocketAddress?
    /// When a packet of the latched source last came: the SDP's address takes the latch back only from a source that
    /// has gone quiet (`latchQuiet`), so that a packet forged with that address cannot move a live call's media.
    private var latchedHeard = NIODeadline.now()
    static let latchQuiet = TimeAmount.milliseconds(500)
    /// Where the media came from before a re-INVITE moved it, and until when: not latched onto again while the old
    /// sender winds down (a media server until it is told to stop).
    private var movedFrom: (address: SocketAddress, until: NIODeadline)?
    static let movedGrace = TimeAmount.seconds(2)
    /// RTP that came before the path was prepared (early media can beat the 183 that describes it here), taken once it
    /// is: the last `earlyLimit` datagrams.
    private var early: [AddressedEnvelope<ByteBuffer>] = []
    static let earlyLimit = 25
    /// The counts of the paths a re-INVITE replaced, so that the report covers the whole call.
    private var earlier = (received: 0, malformed: 0, unauthenticated: 0, otherPayloadType: 0)
    private var playing: [Int16] = []
    private var playPosition = 0
    private var recorded: [Int16] = []
    /// Streaming recording (`record(to:)`): interleaved stereo frames waiting for the next hand-over, and where they go.
    private var stereo: [Int16] = []
    private var recordingSink: (@Sendable ([Int16]) -> Void)?
    /// Frames (20 ms) gathered before each hand-over to the sink.
    static let recordingChunkFrames = 50
    private var sent = 0
    private var dropped = 0
    private var frame = 0
    private var start = NIODeadline.now()
    private var tick: Scheduled<Void>?
    /// Told how late each tick ran after its deadline (the send-interval error: audio underruns start here).
    private var latenessObserver: (@Sendable (Duration) -> Void)?
    /// RTCP (RFC 3550 §6.2): our first report a second after the start, then every 5 s, randomised by ±50 %; sent
    /// to the RTP port with rtcp-mux, else to the next port up.
    private var controlTick: Scheduled<Void>?
    private var rtcpMux = true
    private var outgoingControl = ByteBuffer()
    private let cname = "answer-ninja-\(UInt32.random(in: 1 ... .max))@\(ProcessInfo.processInfo.hostName)"
    private var outgoing = ByteBuffer()
    private let silence = [Int16](repeating: 0, count: 160)
    /// Digits to send as RFC 4733 events, the packets of the one being sent, and the frames of pause after it.
    private var digitQueue: [Character] = []
    private var eventPackets: [TelephoneEventSender.Packet] = []
    private var pauseFrames = 0
    private var digitsReceived = ""
    /// A bridged call (two legs of the B2BUA): what this leg receives is played on `peer`, and `fromPeer` holds what
    /// the peer received, waiting for this leg's next tick.
    private var peer: RTPCallSession?
    private var fromPeer: [Int16] = []
    /// The bridge relays packets (the legs share a codec): what this leg receives goes to the peer as it comes, no
    /// jitter buffer, no decoding; the ticks send nothing of their own once what this leg played has ended.
    private var relaying = false
    private var relayedPackets = 0
    /// Ticks since the peer's last relayed packet: past `relayQuietTicks`, silence of our own keeps RTP flowing.
    private var ticksSinceRelayed = 0
    static let relayQuietTicks = 10
    /// Frames of the peer's audio held at most: the two legs' clocks drift apart by a few ppm, and a peer that
    /// bursts after a stall must not build a lasting delay.
    static let bridgeQueueFrames = 6
    private var bridgeOverflows = 0
    /// An assistant on the call: it hears each frame the caller's audio plays out as (and each digit), and speaks
    /// by `enqueue`.
    private var listener: (@Sendable (Heard) -> Void)?
    /// Called once when the first frame of the audio enqueued with it goes out (`rtp_first`).
    private var firstFrameCallbacks: [(position: Int, callback: @Sendable () -> Void)] = []
    /// Called once when everything enqueued so far has been sent.
    private var drainedCallbacks: [@Sendable () -> Void] = []
    private var stopped = false
    private var started = false

    /// What an assistant hears each 20 ms: the caller's frame (after the jitter buffer), the frame we sent at the
    /// same tick (the echo canceller's reference), whether our own audio was going out, and the digits that arrived
    /// since the last frame.
    public struct Heard: Sendable {
        public var samples: [Int16]
        public var sent: [Int16]
        public var speaking: Bool
        public var digits: String
    }
    private var pendingDigits = ""

    private init(channel: any Channel, controlChannel: any Channel, localPort: Int, path: MediaPath?, remote: SocketAddress?) {
        self.channel = channel
        self.controlChannel = controlChannel
        eventLoop = channel.eventLoop
        self.localPort = localPort
        self.path = path
        self.remote = remote
    }

    /// Binds the first free port of `pool` and prepares a path with `codec` towards `remote`.
    nonisolated(nonsending) public static func open(
        pool: RTPPortPool, host: String, remote: SocketAddress, codec: MediaPathCodec, events: UInt8? = nil, inbound: (any SRTPTransform)?,
        outbound: (any SRTPTransform)?, group: any EventLoopGroup, now: MediaInstant, rtcpMux: Bool = true
    ) async throws -> RTPCallSession {
        let session = try await open(pool: pool, host: host, group: group, now: now)
        do {
            try await session.prepare(remote: remote, codec: codec, events: events, inbound: inbound, outbound: outbound, rtcpMux: rtcpMux)
        } catch {
            _ = await session.stop(pool: pool, now: now)
            throw error
        }
        return session
    }

    /// Binds the first free port of `pool`, for an offer: the path is prepared once the answer says where and how
    /// (`prepare`); what arrives until then (the last 25 datagrams) is taken at the prepare.
    nonisolated(nonsending) public static func open(pool: RTPPortPool, host: String, group: any EventLoopGroup, now: MediaInstant) async throws -> RTPCallSession {
        var lastError: (any Error)?
        for port in pool.candidates(now: now) {
            do {
                let handlerBox = NIOLockedValueBox<RTPCallSession?>(nil)
                let channel = try await bind(host: host, port: port, group: group, session: handlerBox, control: false)
                // RTCP on the odd port above, on the same loop (RFC 3550 §11).
                let controlChannel: any Channel
                do {
                    controlChannel = try await bind(host: host, port: port + 1, group: channel.eventLoop, session: handlerBox, control: true)
                } catch {
                    try? await channel.close()
                    throw error
                }
                pool.markInUse(port)
                let session = RTPCallSession(channel: channel, controlChannel: controlChannel, localPort: port, path: nil, remote: nil)
                handlerBox.withLockedValue { $0 = session }
                return session
            } catch {
                lastError = error
            }
        }
        throw lastError ?? MediaTransportError.refused(code: "no_port", message: "no free RTP port in \(pool.range)")
    }

    /// A UDP socket on `host:port` whose datagrams go to the session in `session` (as RTCP when `control`).
    private static func bind(
        host: String, port: Int, group: any EventLoopGroup, session: NIOLockedValueBox<RTPCallSession?>, control: Bool
    ) async throws -> any Channel {
        try await DatagramBootstrap(group: group)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(Handler(session: session, control: control)) }
            }
            .bind(host: host, port: port)
            .get()
    }

    /// Sets where to send and how: the codec, the telephone-event payload type, and the SRTP transforms (nil for
    /// plain RTP). Throws when the codec cannot start (an Opus coder libopus refuses).
    nonisolated(nonsending) public func prepare(
        remote: SocketAddress, codec: MediaPathCodec, events: UInt8? = nil, inbound: (any SRTPTransform)?, outbound: (any SRTPTransform)?,
        rtcpMux: Bool = true
    ) async throws {
        let path = try MediaPath(codec: codec, ssrc: .random(in: 1 ... .max), inbound: inbound, outbound: outbound, events: events)
        let box = UncheckedSendable(path)
        try? await eventLoop.submit {
            if let statistics = self.path?.statistics {
                self.earlier.received += statistics.received
                self.earlier.malformed += statistics.malformed
                self.earlier.unauthenticated += statistics.unauthenticated
                self.earlier.otherPayloadType += statistics.otherPayloadType
            }
            self.path = box.value
            self.rtcpMux = rtcpMux
            self.moveFarEnd(to: remote)
            let early = self.early
            self.early = []
            for envelope in early { self.receive(envelope, control: false) }
        }.get()
    }

    /// The far end moved (a re-offer with another address or port) and nothing else changed: RTP goes there from now
    /// on, with the same path (its SSRC, SRTP contexts and jitter buffer carry on).
    nonisolated(nonsending) public func retarget(remote: SocketAddress) async {
        try? await eventLoop.submit { self.moveFarEnd(to: remote) }.get()
    }

    /// A new far end: latch again onto whoever sends first from now on, but for a while not onto the old source, which
    /// may still be sending; send to where the SDP says until then. The same far end again (new keys, a codec change)
    /// keeps its latch: behind NAT, the SDP's address is not where its packets come from.
    private func moveFarEnd(to remote: SocketAddress) {
        eventLoop.preconditionInEventLoop()
        guard remote != self.remote else { return }
        if let previous = latched ?? self.remote { movedFrom = (previous, .now() + Self.movedGrace) }
        self.remote = remote
        latched = nil
    }

    /// Starts the 20 ms clock: plays `audio` (8 kHz) once, after anything enqueued before the start, then silence;
    /// records what arrives. On a session already started (early media before the answer) it only queues `audio`.
    public func start(playing audio: [Int16]) {
        eventLoop.execute {
            guard !self.started else {
                self.playing += audio
                return
            }
            self.started = true
            self.playing += audio
            self.start = .now()
            self.scheduleNext()
            self.scheduleControl(after: .seconds(1))
        }
    }

    /// Bridges this leg to `peer`. With `relay` (the legs share a codec: `MediaPathCodec.relays(to:)`), each packet
    /// this leg receives is sent on by the peer at once, its header rewritten and its SRTP re-keyed, with no jitter
    /// buffer and no decoding (RFC 4733 events alike). Otherwise the legs transcode: each 20 ms frame this leg
    /// receives, after its jitter buffer, is played on the peer in place of silence, and digits are sent on as new
    /// RFC 4733 events. Call on both legs, with the same `relay`, for a two-way bridge. What this leg was playing stops
    /// (a take-over cuts the assistant short).
    public func bridge(to peer: RTPCallSession, relay: Bool) {
        eventLoop.execute {
            self.peer = peer
            self.relaying = relay
            self.ticksSinceRelayed = 0
            self.fromPeer.removeAll()
            self.playing = []
            self.playPosition = 0
        }
    }

    /// Whether the session has a path (its far end is known: `prepare` succeeded).
    public var isPrepared: Bool {
        get async { (try? await eventLoop.submit { self.path != nil }.get()) ?? false }
    }

    /// Ends the bridge on this leg (the other leg went before the answer, after early media): what it receives is
    /// its own again, and its ticks play what it queues.
    public func unbridge() {
        eventLoop.execute {
            self.peer = nil
            self.relaying = false
            self.fromPeer.removeAll()
        }
    }

    /// A packet `sender` took for this leg (`receive(forwarding:)`): rewritten as this leg's stream and sent now,
    /// while `sender` is still this leg's peer (a device that lost the fork may still be sending).
    private func relayed(_ datagram: ByteBuffer, event: Bool, from sender: RTPCallSession) {
        let send: @Sendable () -> Void = { [self] in
            guard path != nil, let remote, !stopped, relaying, peer === sender else { return }
            ticksSinceRelayed = 0
            var datagram = datagram
            do {
                guard try path!.relay(&datagram, event: event, at: MediaInstant(.now())) else { return }
            } catch {
                return  // a protect failure drops this packet; the next one tries again
            }
            channel.writeAndFlush(AddressedEnvelope(remoteAddress: latched ?? remote, data: datagram), promise: nil)
            sent += 1
            relayedPackets += 1
        }
        if eventLoop.inEventLoop { send() } else { eventLoop.execute(send) }
    }

    /// Streams the call's audio to `sink` instead of keeping it for the report: interleaved stereo at 8 kHz (left:
    /// what the far end sent, after the jitter buffer; right: what we sent), about once a second (in order, on this
    /// session's loop: the sink must not block), and the rest at `stop`. A bridged leg records nothing.
    public func record(to sink: @escaping @Sendable ([Int16]) -> Void) {
        eventLoop.execute { self.recordingSink = sink }
    }

    /// Hands every frame the caller's audio plays out as to `listener` (on this session's loop: it must not block).
    public func listen(_ listener: @escaping @Sendable (Heard) -> Void) {
        eventLoop.execute { self.listener = listener }
    }

    /// Plays `samples` (8 kHz) after what is queued; `onFirstFrame` is called when their first frame goes out. A
    /// bridged leg plays its peer: what is enqueued then (an assistant's last words racing a take-over) is dropped.
    public func enqueue(_ samples: [Int16], onFirstFrame: (@Sendable () -> Void)? = nil) {
        eventLoop.execute {
            guard self.peer == nil else { return }
            if self.playPosition >= self.playing.count {
                self.playing.removeAll(keepingCapacity: true)
                self.playPosition = 0
            }
            if let onFirstFrame { self.firstFrameCallbacks.append((self.playing.count, onFirstFrame)) }
            self.playing += samples
        }
    }

    /// Stops what is playing (a barge-in: the caller speaks over us).
    public func flushPlayback() {
        eventLoop.execute {
            self.playing.removeAll(keepingCapacity: true)
            self.playPosition = 0
            self.firstFrameCallbacks.removeAll()
            self.playedOut()
        }
    }

    /// Calls `body` once everything queued so far has gone out (at once when nothing is).
    public func whenPlayedOut(_ body: @escaping @Sendable () -> Void) {
        eventLoop.execute {
            // A stopped session plays nothing more: the caller is not left waiting.
            if self.stopped || self.playPosition >= self.playing.count { body() } else { self.drainedCallbacks.append(body) }
        }
    }

    /// Nothing is left to play: the `whenPlayedOut` callbacks run, once.
    private func playedOut() {
        let drained = drainedCallbacks
        drainedCallbacks.removeAll()
        for callback in drained { callback() }
    }

    /// Takes a frame of `sender`'s audio for the next ticks (on this leg's loop), while it is this leg's peer.
    private func fromPeer(_ frame: [Int16], from sender: RTPCallSession) {
        eventLoop.execute {
            guard self.peer === sender, !self.relaying else { return }
            self.fromPeer += frame
            let excess = self.fromPeer.count - Self.bridgeQueueFrames * 160
            if excess > 0 {
                self.fromPeer.removeFirst(excess)
                self.bridgeOverflows += 1
            }
        }
    }

    /// Sends `digits` as RFC 4733 events, each 100 ms long (seven packets with the three ends) and followed by
    /// 100 ms of audio, after what is queued; audio resumes between and after them. Nothing is sent when the far end
    /// did not agree to telephone-event.
    public func send(digits: String) {
        eventLoop.execute { self.digitQueue += digits.filter { TelephoneEvent.event(for: $0) != nil } }
    }

    /// Stops the clock and closes the socket; returns what was recorded.
    nonisolated(nonsending) public func stop(pool: RTPPortPool, now: MediaInstant) async -> Report {
        let report = try? await eventLoop.submit { () -> Report in
            self.tick?.cancel()
            self.tick = nil
            self.controlTick?.cancel()
            self.controlTick = nil
            self.peer = nil  // the two legs hold each other until here
            self.listener = nil
            self.stopped = true
            self.early = []
            self.playedOut()
            if let sink = self.recordingSink, !self.stereo.isEmpty { sink(self.stereo) }
            self.stereo = []
            self.recordingSink = nil
            self.digitsReceived += (self.path?.takeKeyPresses(flush: true) ?? []).map { String($0.digit) }.joined()
            return self.makeReport()
        }.get()
        try? await channel.close()
        try? await controlChannel.close()
        pool.release(localPort, now: now)
        return report ?? Report(recorded: [], packetsReceived: 0, packetsSent: 0, droppedFromOtherSources: 0, latchedSource: nil)
    }

    /// The counters so far, without stopping (`recorded` is left out: it is handed over at the stop).
    nonisolated(nonsending) public func snapshot() async -> Report {
        let report = try? await eventLoop.submit { () -> Report in
            var report = self.makeReport()
            report.recorded = []
            return report
        }.get()
        return report ?? Report(recorded: [], packetsReceived: 0, packetsSent: 0, droppedFromOtherSources: 0, latchedSource: nil)
    }

    /// The report of the counters as they are; on the loop.
    private func makeReport() -> Report {
        let statistics = self.path?.statistics
        return Report(
            recorded: self.recorded, packetsReceived: earlier.received + (statistics?.received ?? 0), packetsSent: self.sent,
            droppedFromOtherSources: self.dropped, latchedSource: self.latched.map { "\($0)" },
            malformed: earlier.malformed + (statistics?.malformed ?? 0), unauthenticated: earlier.unauthenticated + (statistics?.unauthenticated ?? 0),
            otherPayloadType: earlier.otherPayloadType + (statistics?.otherPayloadType ?? 0),
            controlSent: statistics?.controlSent ?? 0, controlReceived: statistics?.controlReceived ?? 0, digits: self.digitsReceived,
            bridgeOverflows: self.bridgeOverflows, packetsRelayed: self.relayedPackets,
            packetsRelayedLate: statistics?.relayedLate ?? 0,
            packetsLost: Int(self.path?.receiverStatistics.cumulativeLost ?? 0),
            jitterSeconds: self.path.map { Double($0.receiverStatistics.jitter) / Double($0.codec.clockRate) } ?? 0,
            concealedFrames: self.path?.jitter.statistics.lossConcealed ?? 0
        )
    }

    private func scheduleNext() {
        frame += 1
        let deadline = start + .milliseconds(Int64(frame * 20))
        tick = eventLoop.scheduleTask(deadline: deadline) { [self] in
            latenessObserver?(.nanoseconds(max(0, (NIODeadline.now() - deadline).nanoseconds)))
            onTick()
            scheduleNext()
        }
    }

    /// Tells `observer`, on the session's loop, how late each 20 ms tick runs after its deadline.
    public func observeLateness(_ observer: @escaping @Sendable (Duration) -> Void) {
        eventLoop.execute { self.latenessObserver = observer }
    }

    private func scheduleControl(after delay: TimeAmount) {
        controlTick = eventLoop.scheduleTask(in: delay) { [self] in
            sendControl()
            scheduleControl(after: .milliseconds(Int64.random(in: 2500...7500)))
        }
    }

    private func sendControl() {
        guard path != nil, let remote else { return }
        let destination = latched ?? remote
        let target = rtcpMux ? destination : ((try? SocketAddress(ipAddress: destination.ipAddress ?? "", port: (destination.port ?? 0) + 1)) ?? destination)
        let now = Date().timeIntervalSince1970 + 2_208_988_800  // the NTP era starts in 1900
        let ntp = UInt64(now) << 32 | UInt64((now - now.rounded(.down)) * 4_294_967_296)
        do {
            try path!.controlReport(now: MediaInstant(.now()), ntp: ntp, cname: cname, into: &outgoingControl)
            (rtcpMux ? channel : controlChannel).writeAndFlush(AddressedEnvelope(remoteAddress: target, data: outgoingControl), promise: nil)
        } catch {
            // A protect failure skips this report; the next one tries again.
        }
    }

    private func onTick() {
        eventLoop.preconditionInEventLoop()
        // `path!` mutates the stored path in place (a local copy would copy its buffers on write).
        guard path != nil, let remote else { return }
        // Send the next frame of what we play (silence after its end: RTP keeps flowing), or an event packet in its
        // place while a digit is being sent (the played audio moves on underneath).
        let end = min(playPosition + 160, playing.count)
        var samples = playPosition < end ? playing[playPosition..<end] : silence[...]
        let speaking = playPosition < end
        while let first = firstFrameCallbacks.first, first.position < end {
            firstFrameCallbacks.removeFirst()
            first.callback()
        }
        playPosition = end
        if !speaking { playedOut() }
        if relaying, peer != nil, playPosition >= playing.count, eventPackets.isEmpty {
            // Relayed: the peer's packets go out as they arrive (`relayed`). When none came for 200 ms (a peer on
            // hold, an early answer without media), silence of our own keeps RTP flowing, as a transcoding bridge's.
            ticksSinceRelayed += 1
            guard ticksSinceRelayed > Self.relayQuietTicks else { return }
        }
        if peer != nil, !relaying, playPosition >= playing.count {
            // Bridged: the peer's audio, once what this leg plays has ended (silence while its queue is empty).
            let count = min(160, fromPeer.count)
            samples = count > 0 ? fromPeer[0..<count] : silence[...]
            fromPeer.removeFirst(count)
        }
        if eventPackets.isEmpty, pauseFrames == 0, path!.eventPayloadType != nil, !digitQueue.isEmpty {
            let digit = digitQueue.removeFirst()
            eventPackets = TelephoneEventSender.packets(
                digit: digit, startTimestamp: path!.nextTimestamp, duration: path!.frameUnits * 5, packetInterval: path!.frameUnits
            )
        }
        do {
            if !eventPackets.isEmpty {
                _ = try path!.sendEvent(eventPackets.removeFirst(), into: &outgoing)
                if eventPackets.isEmpty { pauseFrames = 5 }
            } else {
                if pauseFrames > 0 { pauseFrames -= 1 }
                try path!.send(samples.count == 160 ? samples : (samples + silence.prefix(160 - samples.count))[...], into: &outgoing, at: MediaInstant(.now()))
            }
            channel.writeAndFlush(AddressedEnvelope(remoteAddress: latched ?? remote, data: outgoing), promise: nil)
            sent += 1
        } catch {
            // A protect failure drops this frame; the next tick tries again.
        }
        // Play out one frame of what arrived, into the recording.
        path!.playout(now: MediaInstant(.now()))
        if let peer {
            if !relaying { peer.fromPeer(path!.audio.isEmpty ? silence : path!.audio, from: self) }
        } else {
            let heard = path!.audio.isEmpty ? silence : path!.audio
            if let sink = recordingSink {
                // What we sent this tick: the frame of what we play (silence when an event packet went in its place
                // is still the audio underneath), padded to 160.
                for index in 0..<160 {
                    stereo.append(index < heard.count ? heard[index] : 0)
                    stereo.append(index < samples.count ? samples[samples.startIndex + index] : 0)
                }
                if stereo.count >= Self.recordingChunkFrames * 320 {
                    sink(stereo)
                    stereo.removeAll(keepingCapacity: true)
                }
            } else {
                recorded += heard
            }
            if let listener {
                listener(Heard(samples: heard, sent: Array(samples), speaking: speaking, digits: pendingDigits))
                pendingDigits = ""
            }
        }
    }

    fileprivate func receive(_ envelope: AddressedEnvelope<ByteBuffer>, control: Bool) {
        eventLoop.preconditionInEventLoop()
        guard path != nil else {
            if !control, !stopped {
                if early.count == Self.earlyLimit { early.removeFirst() }
                early.append(envelope)
            }
            return
        }
        if control {
            // RTCP on the RTCP port: from the far end's address (its port is the RTP port's neighbour, not latched).
            guard latched == nil || latched?.ipAddress == envelope.remoteAddress.ipAddress else {
                dropped += 1
                return
            }
            // Only RTCP packet types (RFC 5761 §4) are taken here.
            guard let type = envelope.data.getInteger(at: envelope.data.readerIndex + 1, as: UInt8.self), (192...223).contains(type) else {
                dropped += 1
                return
            }
            var datagram = envelope.data
            _ = path!.receive(&datagram, at: MediaInstant(.now()))
            return
        }
        let source = envelope.remoteAddress
        let now = NIODeadline.now()
        // Another source than the latched one: dropped, unless it is the SDP's address and the latched one went quiet.
        var takingBack = false
        if let latched, latched != source {
            guard source == remote, now - latchedHeard >= Self.latchQuiet else {
                dropped += 1
                return
            }
            takingBack = true
        }
        if latched == nil, let movedFrom, source == movedFrom.address, source != remote, now < movedFrom.until {
            dropped += 1
            return
        }
        var datagram = envelope.data
        let forwarding = relaying && peer != nil
        let result = path!.receive(&datagram, at: MediaInstant(.now()), forwarding: forwarding)
        switch result {
        case .buffered, .event, .forward:
            if latched == nil || takingBack { latched = source }
            latchedHeard = now
        case .dropped, .control: break
        }
        if forwarding, let peer {
            if case .forward = result { peer.relayed(datagram, event: false, from: self) }
            if case .event = result { peer.relayed(datagram, event: true, from: self) }
        }
        if case .event = result {
            let digits = path!.takeKeyPresses().map { String($0.digit) }.joined()
            digitsReceived += digits
            if !digits.isEmpty, !forwarding { peer?.send(digits: digits) }
            if listener != nil { pendingDigits += digits }
        }
    }

    private final class Handler: ChannelInboundHandler {
        typealias InboundIn = AddressedEnvelope<ByteBuffer>
        let session: NIOLockedValueBox<RTPCallSession?>
        /// The RTCP socket's handler.
        let control: Bool

        init(session: NIOLockedValueBox<RTPCallSession?>, control: Bool) {
            self.session = session
            self.control = control
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            session.withLockedValue { $0 }?.receive(unwrapInboundIn(data), control: control)
        }
    }
}

/// Carries a value that is not Sendable to the event loop that will own it (the caller gives it up).
private struct UncheckedSendable<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}

