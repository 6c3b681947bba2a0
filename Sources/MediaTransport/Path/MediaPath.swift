import AnswerNinjaCore
import Codecs
import MediaDSP
import NIOCore
import RTP
import SRTP

/// How a leg's audio is coded on the wire.
public enum MediaPathCodec: Sendable, Equatable {
    /// PCMU or PCMA at 8 kHz, payload type 0 or 8.
    case g711(G711.Law)
    /// Opus (RFC 7587) with its dynamic payload type: the RTP clock is 48 kHz, while the path codes and decodes
    /// 8 kHz audio (libopus resamples internally, so a G.711-rate pipeline needs no resampler of its own).
    case opus(payloadType: UInt8)

    /// The RTP clock rate.
    public var clockRate: Int {
        if case .opus = self { 48_000 } else { 8000 }
    }

    /// Whether a packet of this codec can be sent as one of `other` unchanged (the payload type aside): the same law
    /// of G.711, or Opus on both legs. Then a bridge relays packets; otherwise it transcodes.
    public func relays(to other: MediaPathCodec) -> Bool {
        switch (self, other) {
        case (.g711(let a), .g711(let b)): a == b
        case (.opus, .opus): true
        default: false
        }
    }
}

/// One call leg's media without sockets: what the media role runs per packet for a call it consumes.
///
/// - Receive: SRTP unprotect (in place) → RTP parse → jitter buffer. A broken packet — one that fails
///   authentication, does not parse, or carries another payload type — is counted and dropped, never thrown.
/// - Playout: jitter buffer pull → G.711 or Opus decode, or concealment for a lost frame (waveform for G.711,
///   Opus's own PLC) → `audio`, 8 kHz PCM.
/// - Send: G.711 or Opus encode → RTP serialise → SRTP protect, into the caller's datagram buffer.
/// - RTCP (RFC 3550 §6, RFC 5761 demultiplexing): what arrives with an RTCP packet type is SRTCP-unprotected,
///   parsed and counted (the last sender report kept for our report blocks); `controlReport` writes our compound
///   SR + SDES, SRTCP-protected.
///
/// Every buffer is the path's own and reused, so steady state allocates nothing (the media benchmarks count it).
/// An Opus leg owns its encoder and decoder (one libopus handle each, freed with the path).
public struct MediaPath {
    public struct Statistics: Sendable, Equatable {
        public var received = 0
        /// Failed SRTP authentication or replay check.
        public var unauthenticated = 0
        /// Not RTP (too short, wrong version, bad lengths).
        public var malformed = 0
        /// RTP with a payload type this leg did not negotiate (for example a comfort-noise or event stream
        /// that goes elsewhere).
        public var otherPayloadType = 0
        public var sent = 0
        /// Payload octets sent, for our sender reports.
        public var sentOctets = 0
        /// RTCP compound packets taken (after SRTCP), and sent.
        public var controlReceived = 0
        public var controlSent = 0
        /// RFC 4733 telephone-event packets taken.
        public var events = 0
        /// Packets of the other leg of a bridge not relayed because they came after a later one (`relay`).
        public var relayedLate = 0
    }

    public enum Received: Sendable, Equatable {
        case buffered(JitterBuffer.InsertResult)
        case dropped(Statistics.Drop)
        /// An RTCP compound packet, taken.
        case control
        /// An RFC 4733 telephone-event packet, taken (its key presses in `takeKeyPresses()`).
        case event
        /// An audio packet taken for the other leg of a bridge (`receive(forwarding: true)`): left in the datagram
        /// as plain RTP, for that leg's `relay`.
        case forward
    }

    public let codec: MediaPathCodec
    public let payloadType: UInt8
    /// The telephone-event payload type (RFC 4733) at the codec's clock, when negotiated.
    public let eventPayloadType: UInt8?
    private var eventReceiver = TelephoneEventReceiver()
    private var keyPresses: [TelephoneEventReceiver.KeyPress] = []
    public let ssrc: UInt32
    public private(set) var statistics = Statistics()
    public private(set) var jitter: JitterBuffer
    /// The audio of the last `playout`: a decoded or concealed frame, empty for silence.
    public private(set) var audio: [Int16] = []

    private let inbound: (any SRTPTransform)?
    private let outbound: (any SRTPTransform)?
    private var concealer = WaveformConcealer()
    private let opusEncoder: OpusEncoderSession?
    private let opusDecoder: OpusDecoderSession?
    private var encoded: [UInt8] = []
    private var sequence: UInt16
    private var timestamp: UInt32
    /// The far end's stream, for the report block of our sender reports.
    public private(set) var receiverStatistics = RTPReceiverStatistics()
    private var remoteSSRC: UInt32?
    /// The far end's last sender report: its compact NTP time and when it came (RFC 3550 §6.4.1 LSR, DLSR).
    private var lastSenderReport: (compact: UInt32, at: MediaInstant)?
    /// The stream this leg relays (`relay`): its SSRC, and what turns its sequence numbers and timestamps into ours.
    private var relayed: (ssrc: UInt32, sequenceOffset: UInt16, timestampOffset: UInt32)?
    /// When our last packet went out (a timed `send`, or a `relay`), for our media clock across a change of source.
    private var lastSent: MediaInstant?

    /// `inbound` and `outbound` are nil for plain RTP. The first sequence number and timestamp are random
    /// (RFC 3550 §5.1).
    public init(
        law: G711.Law, ssrc: UInt32, inbound: (any SRTPTransform)?, outbound: (any SRTPTransform)?,
        jitter: JitterBuffer.Configuration = .init(clockRate: 8000)
    ) {
        self.init(codec: .g711(law), ssrc: ssrc, inbound: inbound, outbound: outbound, events: nil, jitter: jitter, opus: nil)
    }

    /// A leg with `codec`, and RFC 4733 events on payload type `events` when negotiated; an Opus leg's jitter
    /// buffer runs on the 48 kHz clock.
    public init(codec: MediaPathCodec, ssrc: UInt32, inbound: (any SRTPTransform)?, outbound: (any SRTPTransform)?, events: UInt8? = nil) throws(CodecError) {
        switch codec {
        case .g711:
            self.init(codec: codec, ssrc: ssrc, inbound: inbound, outbound: outbound, events: events, jitter: .init(clockRate: 8000), opus: nil)
        case .opus:
            // DTX off: with it, Debian's libopus 1.3.1 garbles about 700 ms (clipping) when speech resumes after
            // digital silence at 8 kHz (MediaPathOpusTests). RTP flows every 20 ms anyway; a silent frame is 6 bytes.
            let coders = (try OpusEncoderSession(sampleRate: .narrowband, dtx: false), try OpusDecoderSession(sampleRate: .narrowband))
            self.init(codec: codec, ssrc: ssrc, inbound: inbound, outbound: outbound, events: events, jitter: .init(clockRate: codec.clockRate), opus: coders)
        }
    }

    private init(
        codec: MediaPathCodec, ssrc: UInt32, inbound: (any SRTPTransform)?, outbound: (any SRTPTransform)?, events: UInt8?,
        jitter: JitterBuffer.Configuration, opus: (OpusEncoderSession, OpusDecoderSession)?
    ) {
        self.codec = codec
        eventPayloadType = events
        switch codec {
        case .g711(let law): payloadType = law.payloadType
        case .opus(let type): payloadType = type
        }
        opusEncoder = opus?.0
        opusDecoder = opus?.1
        self.ssrc = ssrc
        self.inbound = inbound
        self.outbound = outbound
        self.jitter = JitterBuffer(configuration: jitter)
        sequence = .random(in: 0 ... .max)
        timestamp = .random(in: 0 ... .max)
        audio.reserveCapacity(jitter.maximumPayload)
        encoded.reserveCapacity(jitter.maximumPayload)
    }

    /// Takes one datagram from the far end (its bytes are decrypted in place). With `forwarding` (a bridged leg whose
    /// peer has the same codec: `relay`), an audio packet skips the jitter buffer and is left in `datagram` as plain
    /// RTP (`.forward`); an event packet is left there too, its key presses kept as always.
    public mutating func receive(_ datagram: inout ByteBuffer, at arrival: MediaInstant, forwarding: Bool = false) -> Received {
        // RFC 5761 §4: the second octet of RTCP is a packet type 192-223, which RTP payload types avoid.
        if datagram.readableBytes >= 8, let type = datagram.getInteger(at: datagram.readerIndex + 1, as: UInt8.self), (192...223).contains(type) {
            return receiveControl(&datagram, at: arrival)
        }
        statistics.received += 1
        if let inbound {
            do {
                try inbound.unprotect(&datagram)
            } catch {
                statistics.unauthenticated += 1
                return .dropped(.unauthenticated)
            }
        }
        let packet: RTPPacket
        do {
            packet = try RTPPacket(parsing: datagram)
        } catch {
            statistics.malformed += 1
            return .dropped(.malformed)
        }
        if let eventPayloadType, packet.payloadType == eventPayloadType {
            guard let event = try? TelephoneEvent(parsing: packet.payload) else {
                statistics.malformed += 1
                return .dropped(.malformed)
            }
            statistics.events += 1
            keyPresses += eventReceiver.receive(event, timestamp: packet.timestamp)
            // Its sequence number is the stream's (RFC 4733 §2.1): not audio lost, for the loss count and the buffer.
            if remoteSSRC == packet.ssrc { receiverStatistics.recordSequence(packet.sequenceNumber) }
            if !forwarding { jitter.insertEvent(sequence: packet.sequenceNumber, ssrc: packet.ssrc) }
            return .event
        }
        guard packet.payloadType == payloadType else {
            statistics.otherPayloadType += 1
            return .dropped(.otherPayloadType)
        }
        if remoteSSRC != packet.ssrc { remoteSSRC = packet.ssrc; receiverStatistics = RTPReceiverStatistics() }
        _ = receiverStatistics.record(sequence: packet.sequenceNumber, timestamp: packet.timestamp, arrival: Self.rtpClock(arrival, rate: codec.clockRate))
        if forwarding { return .forward }
        let result = packet.payload.withUnsafeReadableBytes { payload in
            jitter.insert(sequence: packet.sequenceNumber, timestamp: packet.timestamp, ssrc: packet.ssrc, marker: packet.marker, payload: payload, arrival: arrival)
        }
        return .buffered(result)
    }

    /// When the next frame is due (see `JitterBuffer.nextPlayout`).
    public var nextPlayout: MediaInstant? { jitter.nextPlayout }

    /// One frame of playout into `audio`: decoded, concealed, or nothing (silence).
    @discardableResult
    public mutating func playout(now: MediaInstant) -> JitterBuffer.Playout {
        let playout = jitter.pull(now: now)
        switch playout {
        case .packet:
            switch codec {
            case .g711(let law):
                _ = jitter.payload(of: playout) { G711.decode($0, law: law, into: &audio) }
                concealer.process(&audio)
            case .opus:
                audio.removeAll(keepingCapacity: true)
                _ = jitter.payload(of: playout) { payload in
                    encoded.removeAll(keepingCapacity: true)
                    encoded.append(contentsOf: payload)
                }
                // A packet libopus refuses is played as a lost one.
                if (try? opusDecoder?.decode(encoded, into: &audio)) == nil { concealOpus() }
            }
        case .conceal:
            switch codec {
            case .g711: concealer.conceal(count: Int(jitter.frameUnits), into: &audio)
            case .opus:
                audio.removeAll(keepingCapacity: true)
                concealOpus()
            }
        case .silence:
            audio.removeAll(keepingCapacity: true)
        }
        return playout
    }

    /// Opus's packet-loss concealment for one frame of the stream's packet duration (20 ms when unknown).
    private mutating func concealOpus() {
        let milliseconds = Int(jitter.frameUnits) * 1000 / codec.clockRate
        let duration = OpusFrameDuration(rawValue: milliseconds * 10) ?? .ms20
        if (try? opusDecoder?.conceal(duration, into: &audio)) == nil {
            audio.append(contentsOf: repeatElement(0, count: duration.samples(at: .narrowband)))
        }
    }

    /// Encodes `samples` (one frame, 8 kHz) into one RTP packet in `datagram` (cleared first), protected when the
    /// leg is SRTP. `datagram` needs the suite's trailer room to stay allocation-free. `at`, when given, is when it
    /// goes out: a relayed stream that follows carries our media clock on from there (`relay`).
    public mutating func send(_ samples: ArraySlice<Int16>, marker: Bool = false, into datagram: inout ByteBuffer, at instant: MediaInstant? = nil) throws(SRTPError) {
        var marker = marker
        if relayed != nil {
            // Our own frame after relayed packets: a new talkspurt on our clock, which ran on meanwhile.
            timestamp = clockNow(instant)
            marker = true
        }
        switch codec {
        case .g711(let law): G711.encode(samples, law: law, into: &encoded)
        case .opus:
            encoded.removeAll(keepingCapacity: true)
            let duration = OpusFrameDuration(rawValue: samples.count * 10_000 / 8000) ?? .ms20
            if (try? opusEncoder?.encode(samples, duration: duration, into: &encoded)) == nil {
                throw SRTPError(code: .init("encode"), message: "Opus could not encode a frame of \(samples.count) samples")
            }
        }
        try sendPayload(encoded, samples: samples.count, marker: marker, into: &datagram)
        if let instant { lastSent = instant }
    }

    /// Sends one frame that is already coded for this leg's codec (a phrase cache's ready frames: no encoding),
    /// `samples` long at 8 kHz, into `datagram` (cleared first), protected when the leg is SRTP.
    public mutating func send(encoded payload: [UInt8], samples: Int, marker: Bool = false, into datagram: inout ByteBuffer) throws(SRTPError) {
        try sendPayload(payload, samples: samples, marker: marker, into: &datagram)
    }

    private mutating func sendPayload(_ payload: [UInt8], samples: Int, marker: Bool, into datagram: inout ByteBuffer) throws(SRTPError) {
        relayed = nil  // a packet of our own ends a relayed run: the next relayed packet starts a new one after it
        datagram.clear()
        datagram.writeMultipleIntegers(UInt8(0x80), (marker ? 0x80 : 0) | payloadType, sequence, timestamp, ssrc)
        datagram.writeBytes(payload)
        try outbound?.protect(&datagram)
        sequence &+= 1
        timestamp &+= UInt32(samples * codec.clockRate / 8000)
        statistics.sent += 1
        statistics.sentOctets += payload.count
    }

    // MARK: Relay (a bridge whose legs share a codec: packets pass without decoding or a jitter buffer)

    /// Sends, as this leg's stream, a packet the other leg of a bridge took with `receive(forwarding: true)` (plain
    /// RTP of this leg's codec, or a telephone-event packet when `event`), at `instant`. The header is rewritten in
    /// place — our payload type and SSRC, and sequence numbers and timestamps carried on from ours by offsets fixed
    /// when a run of relayed packets starts (a new source, a packet of our own in between, or the source's sequence
    /// jumping by more than 100 back or 1,000 ahead; that packet gets the marker, and its timestamp runs on by the
    /// time since our last packet, so the far end's playout schedule holds) — then protected when this leg is SRTP.
    /// Gaps pass through as gaps. Our sequence numbers only ever rise: a late or reordered packet, which would take
    /// a number already passed and so reuse an SRTP index (the same keystream or GCM nonce under another payload), is
    /// dropped and counted (`relayedLate`). False, and nothing to send, for such a packet, for an event when this leg
    /// did not agree to telephone-event, or for a packet too short to be RTP.
    public mutating func relay(_ datagram: inout ByteBuffer, event: Bool, at instant: MediaInstant) throws(SRTPError) -> Bool {
        let start = datagram.readerIndex
        guard datagram.readableBytes >= 12, let first = datagram.getInteger(at: start + 1, as: UInt8.self),
              let sourceSequence = datagram.getInteger(at: start + 2, as: UInt16.self),
              let sourceTimestamp = datagram.getInteger(at: start + 4, as: UInt32.self),
              let sourceSSRC = datagram.getInteger(at: start + 8, as: UInt32.self)
        else { return false }
        guard let type = event ? eventPayloadType : payloadType else { return false }
        var marker = first & 0x80 != 0
        var rebase = relayed?.ssrc != sourceSSRC
        if !rebase, let mapping = relayed {
            let ahead = Int16(bitPattern: (sourceSequence &+ mapping.sequenceOffset) &- sequence)
            if ahead < -100 || ahead > 1000 {
                rebase = true  // the source restarted its numbering: a new run
            } else if ahead < 0 {
                statistics.relayedLate += 1
                return false
            }
        }
        if rebase {
            relayed = (sourceSSRC, sequence &- sourceSequence, clockNow(instant) &- sourceTimestamp)
            marker = true
        }
        let mapping = relayed!
        let outSequence = sourceSequence &+ mapping.sequenceOffset, outTimestamp = sourceTimestamp &+ mapping.timestampOffset
        datagram.setInteger((marker ? 0x80 : 0) | type, at: start + 1)
        datagram.setInteger(outSequence, at: start + 2)
        datagram.setInteger(outTimestamp, at: start + 4)
        datagram.setInteger(ssrc, at: start + 8)
        let octets = datagram.readableBytes - 12
        try outbound?.protect(&datagram)
        // Our own clock moves with the packet relayed, for the sender reports and any frame of our own later.
        sequence = outSequence &+ 1
        if !event { timestamp = outTimestamp &+ frameUnits }
        statistics.sent += 1
        statistics.sentOctets += octets
        lastSent = instant
        return true
    }

    /// Where a packet sent at `instant` falls on our media clock: `timestamp` is where a frame right after our last
    /// packet would be; later than that by the time since it went (when that is known).
    private func clockNow(_ instant: MediaInstant?) -> UInt32 {
        guard let instant, let lastSent else { return timestamp }
        let late = Int64(Self.rtpClock(instant, rate: codec.clockRate) &- Self.rtpClock(lastSent, rate: codec.clockRate)) - Int64(frameUnits)
        return late > 0 && late < Int64(codec.clockRate) * 3600 ? timestamp &+ UInt32(late) : timestamp
    }

    // MARK: RFC 4733 events

    /// The key presses completed since the last call; with `flush`, also one whose end packets never came (the
    /// call is ending).
    public mutating func takeKeyPresses(flush: Bool = false) -> [TelephoneEventReceiver.KeyPress] {
        if flush { keyPresses += eventReceiver.flush() }
        defer { keyPresses.removeAll(keepingCapacity: true) }
        return keyPresses
    }

    /// The RTP timestamp the next frame gets: where an event that starts now begins (RFC 4733 §2.5.1.1).
    public var nextTimestamp: UInt32 { timestamp }

    /// One 20 ms frame in RTP timestamp units.
    public var frameUnits: UInt32 { UInt32(codec.clockRate / 50) }

    /// Writes one telephone-event packet (its timestamp is its event's start, the sequence goes on), protected when
    /// the leg is SRTP; false when no telephone-event was negotiated. The frame's time passes as if audio were sent.
    public mutating func sendEvent(_ packet: TelephoneEventSender.Packet, into datagram: inout ByteBuffer) throws(SRTPError) -> Bool {
        guard let eventPayloadType else { return false }
        relayed = nil  // as for audio of our own
        datagram.clear()
        datagram.writeMultipleIntegers(UInt8(0x80), (packet.marker ? 0x80 : 0) | eventPayloadType, sequence, packet.timestamp, ssrc)
        packet.event.write(to: &datagram)
        try outbound?.protect(&datagram)
        sequence &+= 1
        timestamp &+= frameUnits
        statistics.sent += 1
        statistics.sentOctets += TelephoneEvent.size
        return true
    }

    // MARK: RTCP

    private mutating func receiveControl(_ datagram: inout ByteBuffer, at arrival: MediaInstant) -> Received {
        if let inbound {
            do {
                try inbound.unprotectRTCP(&datagram)
            } catch {
                statistics.unauthenticated += 1
                return .dropped(.unauthenticated)
            }
        }
        guard let compound = try? RTCPCompoundPacket(parsing: datagram) else {
            statistics.malformed += 1
            return .dropped(.malformed)
        }
        statistics.controlReceived += 1
        for case .senderReport(let report) in compound.packets {
            lastSenderReport = (report.compactNTP, arrival)
        }
        return .control
    }

    /// Our compound RTCP packet (RFC 3550 §6.1): a sender report with `ntp` (the wall clock as NTP, given: this
    /// layer reads no clock), a report block on the far end's stream once it has sent, and our SDES CNAME;
    /// SRTCP-protected on an SRTP leg. Written into `datagram` (cleared first).
    public mutating func controlReport(now: MediaInstant, ntp: UInt64, cname: String, into datagram: inout ByteBuffer) throws(SRTPError) {
        var reports: [RTCPReportBlock] = []
        if let remoteSSRC {
            // DLSR in 1/65536 s since their last SR came (§6.4.1).
            let delay = lastSenderReport.map { last -> UInt32 in
                let elapsed = last.at.duration(to: now).components
                return UInt32(clamping: elapsed.seconds * 65536 + elapsed.attoseconds / 15_258_789_062_500)  // 1e18 / 65536
            } ?? 0
            reports.append(receiverStatistics.reportBlock(ssrc: remoteSSRC, lastSenderReport: lastSenderReport?.compact ?? 0, delaySinceLastSenderReport: delay))
        }
        let report = RTCPPacket.SenderReport(
            ssrc: ssrc, ntpTimestamp: ntp, rtpTimestamp: timestamp, packetCount: UInt32(truncatingIfNeeded: statistics.sent),
            octetCount: UInt32(truncatingIfNeeded: statistics.sentOctets), reports: reports
        )
        let description = RTCPPacket.sourceDescription([.init(ssrc: ssrc, items: [.init(type: RTCPPacket.SDESItem.cname, value: cname)])])
        datagram.clear()
        RTCPCompoundPacket(packets: [.senderReport(report), description]).write(to: &datagram)
        try outbound?.protectRTCP(&datagram)
        statistics.controlSent += 1
    }

    /// An arrival time on the stream's RTP clock, for the interarrival jitter (RFC 3550 A.8).
    static func rtpClock(_ instant: MediaInstant, rate: Int) -> UInt32 {
        // In microseconds first: nanoseconds × 48,000 would overflow 64 bits after four days of uptime.
        UInt32(truncatingIfNeeded: instant.nanoseconds / 1000 * UInt64(rate) / 1_000_000)
    }
}

extension MediaPath.Statistics {
    public enum Drop: String, Sendable, Equatable {
        case unauthenticated
        case malformed
        case otherPayloadType = "other_payload_type"
    }
}
