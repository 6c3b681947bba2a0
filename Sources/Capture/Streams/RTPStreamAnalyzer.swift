import Codecs
import NIOCore
import RTP

/// Finds the RTP streams of a capture and measures them as Wireshark's RTP stream analysis does, so that
/// `pcap inspect` can be checked against `tshark -z rtp,streams`: per packet in arrival order,
/// D = |(arrival − previous arrival) − (timestamp − previous timestamp) / clock rate| and J += (D − J) / 16;
/// maximum delta and maximum and mean jitter over "regular" packets (not the first, not marked, not comfort noise).
///
/// One difference, on purpose: `lost` never goes negative. Duplicates are not counted as received, where tshark
/// reports e.g. "-2 (-25%)" for an RFC 4733 stream whose end packet was sent three times with one sequence number.
public struct RTPStreamAnalyzer: Sendable {
    public struct StreamKey: Hashable, Sendable, Comparable {
        public var source: UDPDatagram.Endpoint
        public var destination: UDPDatagram.Endpoint
        public var ssrc: UInt32
        public static func < (lhs: Self, rhs: Self) -> Bool { (lhs.source, lhs.destination, lhs.ssrc) < (rhs.source, rhs.destination, rhs.ssrc) }
    }

    /// One stream's figures (milliseconds for times; seconds relative to the first frame of the capture).
    public struct Report: Sendable, Equatable, Codable {
        public var ssrc: UInt32
        public var payloadType: UInt8
        public var payloadName: String
        public var source: String
        public var destination: String
        public var packets: Int
        public var lost: Int
        public var duplicates: Int
        public var startSeconds: Double
        public var endSeconds: Double
        public var minDeltaMs: Double
        public var meanDeltaMs: Double
        public var maxDeltaMs: Double
        public var maxJitterMs: Double
        public var meanJitterMs: Double
        public var dtmf: [DTMFEvent]
    }

    public struct DTMFEvent: Sendable, Equatable, Codable {
        public var digit: String
        public var durationMs: Double
        /// Arrival of the event's first packet, seconds relative to the capture's first frame.
        public var atSeconds: Double
    }

    struct Packet {
        var arrival: Int64
        var rtp: RTPPacket
    }

    public var payloadTypes: PayloadTypeMap
    private var streams: [StreamKey: [Packet]] = [:]
    private var firstFrame: Int64?

    public init(payloadTypes: PayloadTypeMap = .standard) {
        self.payloadTypes = payloadTypes
    }

    /// Offers one datagram; RTCP and non-RTP payloads are ignored.
    public mutating func add(_ datagram: UDPDatagram) {
        if firstFrame == nil { firstFrame = datagram.timestamp }
        guard datagram.payload.readableBytes >= RTPPacket.fixedHeaderSize,
            let second = datagram.payload.getInteger(at: datagram.payload.readerIndex + 1, as: UInt8.self),
            !(200...204).contains(second),  // RTCP SR/RR/SDES/BYE/APP
            let packet = try? RTPPacket(parsing: datagram.payload)
        else { return }
        let key = StreamKey(source: datagram.source, destination: datagram.destination, ssrc: packet.ssrc)
        streams[key, default: []].append(Packet(arrival: datagram.timestamp, rtp: packet))
    }

    /// Notes when the capture started (its first frame, RTP or not), for relative times.
    public mutating func noteFrame(at timestamp: Int64) {
        if firstFrame == nil { firstFrame = timestamp }
    }

    /// The streams that look like RTP: at least two packets whose sequence numbers mostly advance by one.
    public func reports() -> [Report] {
        streams.keys.sorted().compactMap { key in
            let packets = streams[key]!
            guard Self.looksLikeRTP(packets) else { return nil }
            return report(key, packets)
        }
    }

    /// The decoded audio of a G.711 stream, in timestamp order with gaps filled by silence.
    public func audio(of report: Report) -> [Int16]? {
        guard let key = streams.keys.first(where: { $0.ssrc == report.ssrc && $0.source.description == report.source }),
            let packets = streams[key]
        else { return nil }
        let law: G711.Law
        switch payloadTypes[report.payloadType]?.name.uppercased() {
        case "PCMU": law = .muLaw
        case "PCMA": law = .aLaw
        default: return nil
        }
        let ordered = packets.filter { $0.rtp.payloadType == report.payloadType }.sorted { Int32(bitPattern: $0.rtp.timestamp &- $1.rtp.timestamp) < 0 }
        guard let first = ordered.first else { return [] }
        var samples: [Int16] = []
        var seen = Set<UInt32>()
        for packet in ordered where seen.insert(packet.rtp.timestamp).inserted {
            let offset = Int(packet.rtp.timestamp &- first.rtp.timestamp)
            if offset > samples.count, offset - samples.count < 8000 * 10 {
                samples.append(contentsOf: repeatElement(0, count: offset - samples.count))
            }
            for byte in packet.rtp.payload.readableBytesView {
                samples.append(law == .muLaw ? G711.muLawDecode(byte) : G711.aLawDecode(byte))
            }
        }
        return samples
    }

    // MARK: Private

    static func looksLikeRTP(_ packets: [Packet]) -> Bool {
        guard packets.count >= 2 else { return false }
        let steps = zip(packets, packets.dropFirst()).map { $1.rtp.sequenceNumber &- $0.rtp.sequenceNumber }
        let plausible = steps.filter { $0 <= 10 || $0 >= UInt16.max - 10 }.count
        return plausible * 2 >= steps.count
    }

    private func report(_ key: StreamKey, _ packets: [Packet]) -> Report {
        let origin = firstFrame ?? packets[0].arrival
        let first = packets[0]
        let format = payloadTypes[first.rtp.payloadType]
        let clockRate = Double(format?.clockRate ?? 8000)
        var jitter = 0.0
        var maxJitter = 0.0
        var meanJitter = 0.0
        var regular = 0
        var minDelta = Double.infinity
        var maxDelta = 0.0
        var statistics = RTPReceiverStatistics()
        var duplicates = 0
        var dtmf = TelephoneEventReceiver()
        var events: [DTMFEvent] = []
        var eventStarts: [UInt32: Int64] = [:]
        let isEvents = format?.name.lowercased() == "telephone-event"
        for (index, packet) in packets.enumerated() {
            if statistics.record(sequence: packet.rtp.sequenceNumber, timestamp: packet.rtp.timestamp, arrival: 0) == .duplicate {
                duplicates += 1
            }
            if isEvents, let event = try? TelephoneEvent(parsing: packet.rtp.payload) {
                if eventStarts[packet.rtp.timestamp] == nil { eventStarts[packet.rtp.timestamp] = packet.arrival }
                for press in dtmf.receive(event, timestamp: packet.rtp.timestamp) {
                    let start = eventStarts[press.timestamp] ?? packet.arrival
                    events.append(.init(digit: String(press.digit), durationMs: Double(press.duration) * 1000 / clockRate, atSeconds: Double(start - origin) / 1e9))
                }
            }
            guard index > 0 else { continue }
            let previous = packets[index - 1]
            let delta = Double(packet.arrival - previous.arrival) / 1e9
            let timestampDelta = Double(Int32(bitPattern: packet.rtp.timestamp &- previous.rtp.timestamp)) / clockRate
            let comfortNoise = [13, 19].contains(packet.rtp.payloadType) || [13, 19].contains(previous.rtp.payloadType)
            let wrongTimestamp = Int32(bitPattern: packet.rtp.timestamp &- previous.rtp.timestamp) < 0
            if !packet.rtp.marker && !comfortNoise && !wrongTimestamp {
                minDelta = min(minDelta, delta)
                maxDelta = max(maxDelta, delta)
            }
            // Event streams keep one timestamp per event: interarrival jitter means nothing there (tshark, which
            // knows no clock rate for a dynamic type without SDP, reports 0 as well).
            guard !isEvents else { continue }
            jitter += (abs(delta - timestampDelta) - jitter) / 16
            if !packet.rtp.marker && !comfortNoise && !wrongTimestamp {
                maxJitter = max(maxJitter, jitter)
                meanJitter = (meanJitter * Double(regular) + jitter) / Double(regular + 1)
                regular += 1
            }
        }
        if isEvents { events += dtmf.flush().map { .init(digit: String($0.digit), durationMs: Double($0.duration) * 1000 / clockRate, atSeconds: Double((eventStarts[$0.timestamp] ?? origin) - origin) / 1e9) } }
        let start = Double(first.arrival - origin) / 1e9
        let end = Double(packets.last!.arrival - origin) / 1e9
        return Report(
            ssrc: key.ssrc, payloadType: first.rtp.payloadType, payloadName: format?.name ?? "unknown-\(first.rtp.payloadType)",
            source: key.source.description, destination: key.destination.description, packets: packets.count,
            lost: Int(statistics.cumulativeLost), duplicates: duplicates, startSeconds: start, endSeconds: end,
            minDeltaMs: minDelta.isFinite ? minDelta * 1000 : 0, meanDeltaMs: packets.count > 1 ? (end - start) * 1000 / Double(packets.count - 1) : 0,
            maxDeltaMs: maxDelta * 1000, maxJitterMs: maxJitter * 1000, meanJitterMs: meanJitter * 1000, dtmf: events
        )
    }
}
