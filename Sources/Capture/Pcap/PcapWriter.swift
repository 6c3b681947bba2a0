import NIOCore

/// Writes classic pcap files (microsecond or nanosecond resolution, host byte order as libpcap does, or a chosen
/// one): for tests that need captures in every dialect, and for recording what our own code sends.
public struct PcapWriter: Sendable {
    public var linkType: LinkType
    public var nanosecondResolution: Bool
    public var endianness: Endianness

    public init(linkType: LinkType, nanosecondResolution: Bool = false, endianness: Endianness = .little) {
        self.linkType = linkType
        self.nanosecondResolution = nanosecondResolution
        self.endianness = endianness
    }

    public func writeHeader(to buffer: inout ByteBuffer) {
        let magic: UInt32 = nanosecondResolution ? 0xA1B2_3C4D : 0xA1B2_C3D4
        buffer.writeInteger(magic, endianness: endianness)
        buffer.writeInteger(UInt16(2), endianness: endianness)
        buffer.writeInteger(UInt16(4), endianness: endianness)
        buffer.writeInteger(Int32(0), endianness: endianness)
        buffer.writeInteger(UInt32(0), endianness: endianness)
        buffer.writeInteger(UInt32(262_144), endianness: endianness)
        buffer.writeInteger(linkType.rawValue, endianness: endianness)
    }

    public func write(frame: ByteBuffer, timestamp: Int64, to buffer: inout ByteBuffer) {
        let seconds = timestamp / 1_000_000_000
        let fraction = timestamp % 1_000_000_000 / (nanosecondResolution ? 1 : 1000)
        buffer.writeInteger(UInt32(truncatingIfNeeded: seconds), endianness: endianness)
        buffer.writeInteger(UInt32(truncatingIfNeeded: fraction), endianness: endianness)
        buffer.writeInteger(UInt32(frame.readableBytes), endianness: endianness)
        buffer.writeInteger(UInt32(frame.readableBytes), endianness: endianness)
        buffer.writeImmutableBuffer(frame)
    }

    /// A raw IPv4 + UDP frame (checksums zero, which IPv4 UDP allows) around `payload`.
    public static func ipv4UDP(from source: (address: [UInt8], port: UInt16), to destination: (address: [UInt8], port: UInt16), payload: ByteBuffer) -> ByteBuffer {
        var frame = ByteBuffer()
        let total = 20 + 8 + payload.readableBytes
        frame.writeMultipleIntegers(UInt8(0x45), UInt8(0), UInt16(total), UInt16(0), UInt16(0x4000), UInt8(64), UInt8(17), UInt16(0))
        frame.writeBytes(source.address)
        frame.writeBytes(destination.address)
        frame.writeMultipleIntegers(source.port, destination.port, UInt16(8 + payload.readableBytes), UInt16(0))
        frame.writeImmutableBuffer(payload)
        return frame
    }
}
