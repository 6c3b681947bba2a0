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
    }

    public enum Received: Sendable, Equatable {
        case buffered(JitterBuffer.InsertResult)
        case dropped(Statistics.Drop)
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
    }
}

extension MediaPath.Statistics {
    public enum Drop: String, Sendable, Equatable {
        case unauthenticated
        case malformed
        case otherPayloadType = "other_payload_type"
    }
}
