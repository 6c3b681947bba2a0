import NIOCore

/// One report block of an SR or RR (RFC 3550 §6.4.1).
public struct RTCPReportBlock: Sendable, Equatable {
    public var ssrc: UInt32
    /// Fraction of packets lost since the previous report, in 1/256.
    public var fractionLost: UInt8
    /// Cumulative packets lost, a signed 24-bit number (negative with duplicates, per RFC 3550 A.3).
    public var cumulativeLost: Int32
    public var extendedHighestSequence: UInt32
    /// Interarrival jitter in timestamp units.
    public var jitter: UInt32
    /// The middle 32 bits of the NTP timestamp of the last SR received from this source.
    public var lastSenderReport: UInt32
    /// Delay since that SR, in 1/65536 s.
    public var delaySinceLastSenderReport: UInt32

    public init(ssrc: UInt32, fractionLost: UInt8, cumulativeLost: Int32, extendedHighestSequence: UInt32, jitter: UInt32, lastSenderReport: UInt32, delaySinceLastSenderReport: UInt32) {
        self.ssrc = ssrc
        self.fractionLost = fractionLost
        self.cumulativeLost = max(-0x80_0000, min(0x7F_FFFF, cumulativeLost))
        self.extendedHighestSequence = extendedHighestSequence
        self.jitter = jitter
        self.lastSenderReport = lastSenderReport
        self.delaySinceLastSenderReport = delaySinceLastSenderReport
    }

    static let size = 24
}

/// An RTCP packet (RFC 3550 §6.4-6.7). Unknown types (RTPFB, PSFB, XR, ...) are kept as raw bodies.
public enum RTCPPacket: Sendable, Equatable {
    case senderReport(SenderReport)
    case receiverReport(ReceiverReport)
    case sourceDescription([SDESChunk])
    case bye(Bye)
    case app(App)
    case other(type: UInt8, count: UInt8, body: ByteBuffer)

    public struct SenderReport: Sendable, Equatable {
        public var ssrc: UInt32
        /// 64-bit NTP timestamp (RFC 5905 era 0 format).
        public var ntpTimestamp: UInt64
        public var rtpTimestamp: UInt32
        public var packetCount: UInt32
        public var octetCount: UInt32
        public var reports: [RTCPReportBlock]
        public init(ssrc: UInt32, ntpTimestamp: UInt64, rtpTimestamp: UInt32, packetCount: UInt32, octetCount: UInt32, reports: [RTCPReportBlock] = []) {
            self.ssrc = ssrc
            self.ntpTimestamp = ntpTimestamp
            self.rtpTimestamp = rtpTimestamp
            self.packetCount = packetCount
            self.octetCount = octetCount
            self.reports = reports
        }

        /// The middle 32 bits of the NTP timestamp: what a receiver echoes as LSR.
        public var compactNTP: UInt32 { UInt32(truncatingIfNeeded: ntpTimestamp >> 16) }
    }

    public struct ReceiverReport: Sendable, Equatable {
        public var ssrc: UInt32
        public var reports: [RTCPReportBlock]
        public init(ssrc: UInt32, reports: [RTCPReportBlock]) {
            self.ssrc = ssrc
            self.reports = reports
        }
    }

    public struct SDESChunk: Sendable, Equatable {
        public var ssrc: UInt32
        /// (type, text) items: 1 CNAME, 2 NAME, ... (RFC 3550 §6.5).
        public var items: [SDESItem]
        public init(ssrc: UInt32, items: [SDESItem]) {
            self.ssrc = ssrc
            self.items = items
        }
    }

    public struct SDESItem: Sendable, Equatable {
        public static let cname: UInt8 = 1
        public var type: UInt8
        public var value: String
        public init(type: UInt8, value: String) {
            self.type = type
            self.value = value
        }
    }

    public struct Bye: Sendable, Equatable {
        public var sources: [UInt32]
        public var reason: String?
        public init(sources: [UInt32], reason: String? = nil) {
            self.sources = sources
            self.reason = reason
        }
    }

    public struct App: Sendable, Equatable {
        public var subtype: UInt8
        public var ssrc: UInt32
        /// Four ASCII characters.
        public var name: UInt32
        public var data: ByteBuffer
        public init(subtype: UInt8, ssrc: UInt32, name: UInt32, data: ByteBuffer) {
            self.subtype = subtype & 0x1F
            self.ssrc = ssrc
            self.name = name
            self.data = data
        }
    }

    public static let typeSR: UInt8 = 200
    public static let typeRR: UInt8 = 201
    public static let typeSDES: UInt8 = 202
    public static let typeBYE: UInt8 = 203
    public static let typeAPP: UInt8 = 204
}

/// A compound RTCP packet (RFC 3550 §6.1): one or more packets back to back in one datagram.
public struct RTCPCompoundPacket: Sendable, Equatable {
    public var packets: [RTCPPacket]

    public init(packets: [RTCPPacket]) {
        self.packets = packets
    }

    /// Parses and validates a compound packet as RFC 3550 A.2 does: version 2 everywhere, the first packet an SR
    /// or RR without padding, padding only in the last packet, and lengths that add up to the datagram.
    public init(parsing datagram: ByteBuffer) throws(RTPError) {
        var buffer = datagram
        var packets: [RTCPPacket] = []
        while buffer.readableBytes > 0 {
            guard let first = buffer.readInteger(as: UInt8.self), let type = buffer.readInteger(as: UInt8.self),
                let words = buffer.readInteger(as: UInt16.self)
            else {
                throw .truncated("RTCP header", need: 4, have: buffer.readableBytes)
            }
            guard first >> 6 == 2 else { throw RTPError(code: .badVersion, message: "RTCP version \(first >> 6), expected 2") }
            guard var body = buffer.readSlice(length: Int(words) * 4) else {
                throw RTPError(code: .badLength, message: "RTCP packet type \(type) claims \(Int(words) * 4) bytes, \(buffer.readableBytes) remain")
            }
            if first & 0x20 != 0 {
                guard buffer.readableBytes == 0 else {
                    throw RTPError(code: .badPadding, message: "padding in RTCP packet \(packets.count + 1), which is not the last")
                }
                guard let count = body.getInteger(at: body.writerIndex - 1, as: UInt8.self), count > 0, Int(count) <= body.readableBytes else {
                    throw RTPError(code: .badPadding, message: "bad RTCP padding count")
                }
                body.moveWriterIndex(to: body.writerIndex - Int(count))
            }
            if packets.isEmpty {
                guard type == RTCPPacket.typeSR || type == RTCPPacket.typeRR else {
                    throw RTPError(code: .malformed, message: "a compound RTCP packet must start with SR or RR, got type \(type)")
                }
            }
            packets.append(try Self.parse(type: type, count: first & 0x1F, body: body))
        }
        guard !packets.isEmpty else { throw .truncated("RTCP compound packet", need: 8, have: 0) }
        self.packets = packets
    }

    private static func parse(type: UInt8, count: UInt8, body: ByteBuffer) throws(RTPError) -> RTCPPacket {
        var body = body
        switch type {
        case RTCPPacket.typeSR:
            guard let ssrc = body.readInteger(as: UInt32.self), let ntp = body.readInteger(as: UInt64.self),
                let rtp = body.readInteger(as: UInt32.self), let packets = body.readInteger(as: UInt32.self),
                let octets = body.readInteger(as: UInt32.self)
            else { throw .truncated("RTCP SR sender info", need: 24, have: body.readableBytes) }
            return .senderReport(.init(ssrc: ssrc, ntpTimestamp: ntp, rtpTimestamp: rtp, packetCount: packets, octetCount: octets, reports: try reportBlocks(count, from: &body)))
        case RTCPPacket.typeRR:
            guard let ssrc = body.readInteger(as: UInt32.self) else { throw .truncated("RTCP RR", need: 4, have: body.readableBytes) }
            return .receiverReport(.init(ssrc: ssrc, reports: try reportBlocks(count, from: &body)))
        case RTCPPacket.typeSDES:
            var chunks: [RTCPPacket.SDESChunk] = []
            for _ in 0..<count {
                guard let ssrc = body.readInteger(as: UInt32.self) else { throw .truncated("SDES chunk", need: 4, have: body.readableBytes) }
                var items: [RTCPPacket.SDESItem] = []
                var consumed = 0
                while true {
                    guard let itemType = body.readInteger(as: UInt8.self) else {
                        throw RTPError(code: .malformed, message: "SDES chunk for \(ssrc) has no terminating null item")
                    }
                    consumed += 1
                    if itemType == 0 { break }
                    guard let length = body.readInteger(as: UInt8.self), let text = body.readString(length: Int(length)) else {
                        throw RTPError(code: .malformed, message: "SDES item \(itemType) overruns its chunk")
                    }
                    consumed += 1 + Int(length)
                    items.append(.init(type: itemType, value: text))
                }
                // Chunks end on a 32-bit boundary: skip the null padding after the terminating item.
                let padding = (4 - consumed % 4) % 4
                guard body.readableBytes >= padding else { throw RTPError(code: .malformed, message: "SDES chunk padding overruns the packet") }
                body.moveReaderIndex(forwardBy: padding)
                chunks.append(.init(ssrc: ssrc, items: items))
            }
            return .sourceDescription(chunks)
        case RTCPPacket.typeBYE:
            var sources: [UInt32] = []
            for _ in 0..<count {
                guard let ssrc = body.readInteger(as: UInt32.self) else { throw .truncated("BYE sources", need: 4, have: body.readableBytes) }
                sources.append(ssrc)
            }
            var reason: String?
            if let length = body.readInteger(as: UInt8.self), length > 0 {
                guard let text = body.readString(length: Int(length)) else { throw RTPError(code: .malformed, message: "BYE reason overruns the packet") }
                reason = text
            }
            return .bye(.init(sources: sources, reason: reason))
        case RTCPPacket.typeAPP:
            guard let ssrc = body.readInteger(as: UInt32.self), let name = body.readInteger(as: UInt32.self) else {
                throw .truncated("RTCP APP", need: 8, have: body.readableBytes)
            }
            return .app(.init(subtype: count, ssrc: ssrc, name: name, data: body))
        default:
            return .other(type: type, count: count, body: body)
        }
    }

    private static func reportBlocks(_ count: UInt8, from body: inout ByteBuffer) throws(RTPError) -> [RTCPReportBlock] {
        var blocks: [RTCPReportBlock] = []
        for _ in 0..<count {
            guard let ssrc = body.readInteger(as: UInt32.self), let lossWord = body.readInteger(as: UInt32.self),
                let highest = body.readInteger(as: UInt32.self), let jitter = body.readInteger(as: UInt32.self),
                let lsr = body.readInteger(as: UInt32.self), let dlsr = body.readInteger(as: UInt32.self)
            else { throw .truncated("RTCP report block", need: RTCPReportBlock.size, have: body.readableBytes) }
            // Sign-extend the 24-bit cumulative loss.
            let cumulative = Int32(bitPattern: (lossWord & 0x00FF_FFFF) << 8) >> 8
            blocks.append(.init(ssrc: ssrc, fractionLost: UInt8(lossWord >> 24), cumulativeLost: cumulative, extendedHighestSequence: highest, jitter: jitter, lastSenderReport: lsr, delaySinceLastSenderReport: dlsr))
        }
        return blocks
    }

    /// Appends the compound packet to `buffer`.
    public func write(to buffer: inout ByteBuffer) {
        for packet in packets {
            let start = buffer.writerIndex
            buffer.writeMultipleIntegers(UInt8(0), UInt8(0), UInt16(0))  // header, patched below
            let (type, count) = Self.writeBody(packet, to: &buffer)
            let length = buffer.writerIndex - start
            let padded = (length + 3) / 4 * 4
            buffer.writeRepeatingByte(0, count: padded - length)
            buffer.setInteger(0x80 | (count & 0x1F), at: start)
            buffer.setInteger(type, at: start + 1)
            buffer.setInteger(UInt16(padded / 4 - 1), at: start + 2)
        }
    }

    private static func writeBody(_ packet: RTCPPacket, to buffer: inout ByteBuffer) -> (UInt8, UInt8) {
        switch packet {
        case .senderReport(let sr):
            buffer.writeMultipleIntegers(sr.ssrc, sr.ntpTimestamp, sr.rtpTimestamp, sr.packetCount, sr.octetCount)
            writeReports(sr.reports, to: &buffer)
            return (RTCPPacket.typeSR, UInt8(min(sr.reports.count, 31)))
        case .receiverReport(let rr):
            buffer.writeInteger(rr.ssrc)
            writeReports(rr.reports, to: &buffer)
            return (RTCPPacket.typeRR, UInt8(min(rr.reports.count, 31)))
        case .sourceDescription(let chunks):
            for chunk in chunks.prefix(31) {
                buffer.writeInteger(chunk.ssrc)
                var written = 0
                for item in chunk.items {
                    let text = Array(item.value.utf8.prefix(255))
                    buffer.writeMultipleIntegers(item.type, UInt8(text.count))
                    buffer.writeBytes(text)
                    written += 2 + text.count
                }
                // The null item, then nulls to the next 32-bit boundary.
                let total = written + 1
                buffer.writeRepeatingByte(0, count: 1 + (4 - total % 4) % 4)
            }
            return (RTCPPacket.typeSDES, UInt8(min(chunks.count, 31)))
        case .bye(let bye):
            for source in bye.sources.prefix(31) { buffer.writeInteger(source) }
            if let reason = bye.reason {
                let text = Array(reason.utf8.prefix(255))
                buffer.writeInteger(UInt8(text.count))
                buffer.writeBytes(text)
            }
            return (RTCPPacket.typeBYE, UInt8(min(bye.sources.count, 31)))
        case .app(let app):
            buffer.writeMultipleIntegers(app.ssrc, app.name)
            buffer.writeImmutableBuffer(app.data)
            return (RTCPPacket.typeAPP, app.subtype)
        case .other(let type, let count, let body):
            buffer.writeImmutableBuffer(body)
            return (type, count)
        }
    }

    private static func writeReports(_ reports: [RTCPReportBlock], to buffer: inout ByteBuffer) {
        for block in reports.prefix(31) {
            let lossWord = UInt32(block.fractionLost) << 24 | (UInt32(bitPattern: block.cumulativeLost) & 0x00FF_FFFF)
            buffer.writeMultipleIntegers(block.ssrc, lossWord, block.extendedHighestSequence, block.jitter, block.lastSenderReport, block.delaySinceLastSenderReport)
        }
    }
}
