import AnswerNinjaCore
import Codecs
import MediaDSP
import NIOCore
import RTP
import SRTP

/// One call leg's G.711 media without sockets: what the media role runs per packet for a call it consumes.
///
/// - Receive: SRTP unprotect (in place) → RTP parse → jitter buffer. A broken packet — one that fails
///   authentication, does not parse, or carries another payload type — is counted and dropped, never thrown.
/// - Playout: jitter buffer pull → G.711 decode, or waveform concealment for a lost frame → `audio`, 8 kHz PCM.
/// - Send: G.711 encode → RTP serialise → SRTP protect, into the caller's datagram buffer.
/// - RTCP (RFC 3550 §6, RFC 5761 demultiplexing): what arrives with an RTCP packet type is SRTCP-unprotected,
///   parsed and counted (the last sender report kept for our report blocks); `controlReport` writes our compound
///   SR + SDES, SRTCP-protected.
///
/// Every buffer is the path's own and reused, so steady state allocates nothing (the media benchmarks count it).
/// Opus legs take a decoder in place of G.711 with the pipeline of issue 7.
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
    }

    public enum Received: Sendable, Equatable {
        case buffered(JitterBuffer.InsertResult)
        case dropped(Statistics.Drop)
        /// An RTCP compound packet, taken.
        case control
    }

    public let law: G711.Law
    public let payloadType: UInt8
    public let ssrc: UInt32
    public private(set) var statistics = Statistics()
    public private(set) var jitter: JitterBuffer
    /// The audio of the last `playout`: a decoded or concealed frame, empty for silence.
    public private(set) var audio: [Int16] = []

    private let inbound: (any SRTPTransform)?
    private let outbound: (any SRTPTransform)?
    private var concealer = WaveformConcealer()
    private var encoded: [UInt8] = []
    private var sequence: UInt16
    private var timestamp: UInt32
    /// The far end's stream, for the report block of our sender reports.
    public private(set) var receiverStatistics = RTPReceiverStatistics()
    private var remoteSSRC: UInt32?
    /// The far end's last sender report: its compact NTP time and when it came (RFC 3550 §6.4.1 LSR, DLSR).
    private var lastSenderReport: (compact: UInt32, at: MediaInstant)?

    /// `inbound` and `outbound` are nil for plain RTP. The first sequence number and timestamp are random
    /// (RFC 3550 §5.1).
    public init(
        law: G711.Law, ssrc: UInt32, inbound: (any SRTPTransform)?, outbound: (any SRTPTransform)?,
        jitter: JitterBuffer.Configuration = .init(clockRate: 8000)
    ) {
        self.law = law
        payloadType = law.payloadType
        self.ssrc = ssrc
        self.inbound = inbound
        self.outbound = outbound
        self.jitter = JitterBuffer(configuration: jitter)
        sequence = .random(in: 0 ... .max)
        timestamp = .random(in: 0 ... .max)
        audio.reserveCapacity(jitter.maximumPayload)
        encoded.reserveCapacity(jitter.maximumPayload)
    }

    /// Takes one datagram from the far end (its bytes are decrypted in place).
    public mutating func receive(_ datagram: inout ByteBuffer, at arrival: MediaInstant) -> Received {
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
        guard packet.payloadType == payloadType else {
            statistics.otherPayloadType += 1
            return .dropped(.otherPayloadType)
        }
        if remoteSSRC != packet.ssrc { remoteSSRC = packet.ssrc; receiverStatistics = RTPReceiverStatistics() }
        _ = receiverStatistics.record(sequence: packet.sequenceNumber, timestamp: packet.timestamp, arrival: Self.rtpClock(arrival))
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
            _ = jitter.payload(of: playout) { G711.decode($0, law: law, into: &audio) }
            concealer.process(&audio)
        case .conceal:
            concealer.conceal(count: Int(jitter.frameUnits), into: &audio)
        case .silence:
            audio.removeAll(keepingCapacity: true)
        }
        return playout
    }

    /// Encodes `samples` (one frame, 8 kHz) into one RTP packet in `datagram` (cleared first), protected when the
    /// leg is SRTP. `datagram` needs the suite's trailer room to stay allocation-free.
    public mutating func send(_ samples: ArraySlice<Int16>, marker: Bool = false, into datagram: inout ByteBuffer) throws(SRTPError) {
        G711.encode(samples, law: law, into: &encoded)
        datagram.clear()
        datagram.writeMultipleIntegers(UInt8(0x80), (marker ? 0x80 : 0) | payloadType, sequence, timestamp, ssrc)
        datagram.writeBytes(encoded)
        try outbound?.protect(&datagram)
        sequence &+= 1
        timestamp &+= UInt32(samples.count)
        statistics.sent += 1
        statistics.sentOctets += encoded.count
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

    /// An arrival time on the 8 kHz RTP clock, for the interarrival jitter (RFC 3550 A.8).
    static func rtpClock(_ instant: MediaInstant) -> UInt32 {
        UInt32(truncatingIfNeeded: instant.nanoseconds / 125_000)
    }
}

extension MediaPath.Statistics {
    public enum Drop: String, Sendable, Equatable {
        case unauthenticated
        case malformed
        case otherPayloadType = "other_payload_type"
    }
}
