import AnswerNinjaCore
import NIOCore

/// An RTP packet (RFC 3550 §5.1): the header fields, and the CSRC list, header extension and payload as slices of
/// the datagram's buffer (no copies: slicing a `ByteBuffer` shares its storage).
public struct RTPPacket: Sendable, Equatable {
    /// RFC 3550 §5.1: the fixed header is 12 bytes.
    public static let fixedHeaderSize = 12
    /// RFC 3550 §5.1: CC is four bits.
    public static let maximumCSRCCount = 15

    public var marker: Bool
    /// 7 bits.
    public var payloadType: UInt8
    public var sequenceNumber: UInt16
    public var timestamp: UInt32
    public var ssrc: UInt32
    /// The CSRC identifiers, 4 bytes each, in network order.
    public var csrcs: ByteBuffer
    public var headerExtension: RTPHeaderExtension?
    public var payload: ByteBuffer
    /// Padding octets after the payload (0 when the P bit is clear); written as zeros, the last holding the count.
    public var paddingCount: UInt8

    public init(
        marker: Bool = false, payloadType: UInt8, sequenceNumber: UInt16, timestamp: UInt32, ssrc: UInt32,
        csrcs: ByteBuffer = ByteBuffer(), headerExtension: RTPHeaderExtension? = nil, payload: ByteBuffer, paddingCount: UInt8 = 0
    ) {
        self.marker = marker
        self.payloadType = payloadType & 0x7F
        self.sequenceNumber = sequenceNumber
        self.timestamp = timestamp
        self.ssrc = ssrc
        self.csrcs = csrcs
        self.headerExtension = headerExtension
        self.payload = payload
        self.paddingCount = paddingCount
    }

    public var csrcCount: Int { csrcs.readableBytes / 4 }

    public func csrc(at index: Int) -> UInt32? {
        csrcs.getInteger(at: csrcs.readerIndex + index * 4, as: UInt32.self)
    }

    /// Parses one datagram. Every malformation is an `RTPError`, never a trap.
    public init(parsing datagram: ByteBuffer) throws(RTPError) {
        var buffer = datagram
        guard let first = buffer.readInteger(as: UInt8.self), let second = buffer.readInteger(as: UInt8.self),
            let sequence = buffer.readInteger(as: UInt16.self), let timestamp = buffer.readInteger(as: UInt32.self),
            let ssrc = buffer.readInteger(as: UInt32.self)
        else {
            throw .truncated("RTP fixed header", need: Self.fixedHeaderSize, have: datagram.readableBytes)
        }
        guard first >> 6 == 2 else {
            throw RTPError(code: .badVersion, message: "RTP version \(first >> 6), expected 2")
        }
        let hasPadding = first & 0x20 != 0
        let hasExtension = first & 0x10 != 0
        let csrcCount = Int(first & 0x0F)
        guard let csrcs = buffer.readSlice(length: csrcCount * 4) else {
            throw .truncated("RTP CSRC list of \(csrcCount)", need: Self.fixedHeaderSize + csrcCount * 4, have: datagram.readableBytes)
        }
        var headerExtension: RTPHeaderExtension?
        if hasExtension {
            guard let profile = buffer.readInteger(as: UInt16.self), let words = buffer.readInteger(as: UInt16.self) else {
                throw .truncated("RTP header extension header", need: 4, have: buffer.readableBytes)
            }
            guard let data = buffer.readSlice(length: Int(words) * 4) else {
                throw .truncated("RTP header extension of \(words) words", need: Int(words) * 4, have: buffer.readableBytes)
            }
            headerExtension = RTPHeaderExtension(profile: profile, data: data)
        }
        var paddingCount: UInt8 = 0
        if hasPadding {
            guard buffer.readableBytes > 0, let count = buffer.getInteger(at: buffer.writerIndex - 1, as: UInt8.self) else {
                throw RTPError(code: .badPadding, message: "P bit set but no padding count")
            }
            guard count > 0, Int(count) <= buffer.readableBytes else {
                throw RTPError(code: .badPadding, message: "padding count \(count) with \(buffer.readableBytes) bytes after the header")
            }
            paddingCount = count
            buffer.moveWriterIndex(to: buffer.writerIndex - Int(count))
        }
        self.init(
            marker: second & 0x80 != 0, payloadType: second & 0x7F, sequenceNumber: sequence, timestamp: timestamp, ssrc: ssrc,
            csrcs: csrcs, headerExtension: headerExtension, payload: buffer, paddingCount: paddingCount
        )
    }

    /// Bytes `write(to:)` produces.
    public var serializedSize: Int {
        Self.fixedHeaderSize + csrcs.readableBytes + (headerExtension.map { 4 + $0.paddedLength } ?? 0) + payload.readableBytes
            + Int(paddingCount)
    }

    /// Appends the packet to `buffer` (no allocation when `buffer` has the capacity).
    public func write(to buffer: inout ByteBuffer) {
        let count = UInt8(min(csrcCount, Self.maximumCSRCCount))
        let first: UInt8 = 0x80 | (paddingCount > 0 ? 0x20 : 0) | (headerExtension != nil ? 0x10 : 0) | count
        buffer.writeMultipleIntegers(first, (marker ? 0x80 : 0) | payloadType, sequenceNumber, timestamp, ssrc)
        var csrcList = csrcs
        if let csrcBytes = csrcList.readSlice(length: Int(count) * 4) { buffer.writeImmutableBuffer(csrcBytes) }
        if let headerExtension {
            buffer.writeMultipleIntegers(headerExtension.profile, UInt16(headerExtension.paddedLength / 4))
            buffer.writeImmutableBuffer(headerExtension.data)
            buffer.writeRepeatingByte(0, count: headerExtension.paddedLength - headerExtension.data.readableBytes)
        }
        buffer.writeImmutableBuffer(payload)
        if paddingCount > 0 {
            buffer.writeRepeatingByte(0, count: Int(paddingCount) - 1)
            buffer.writeInteger(paddingCount)
        }
    }
}
