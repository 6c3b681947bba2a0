import NIOCore

/// Reads pcap (microsecond and nanosecond timestamps, either byte order) and pcapng (several sections and
/// interfaces, `if_tsresol`, enhanced and simple packet blocks) from the bytes of a file.
public enum CaptureFileParser {
    public enum Format: String, Sendable { case pcap, pcapng }

    /// pcap magic numbers as read big-endian.
    static let pcapMicroseconds: UInt32 = 0xA1B2_C3D4
    static let pcapNanoseconds: UInt32 = 0xA1B2_3C4D
    /// pcapng Section Header Block type and byte-order magic.
    static let sectionHeader: UInt32 = 0x0A0D_0D0A
    static let byteOrderMagic: UInt32 = 0x1A2B_3C4D
    /// A frame longer than this is refused (RFC-independent sanity bound; pcap's default snaplen is 262144).
    public static let maximumFrameSize = 1 << 20

    public static func parse(_ file: ByteBuffer) throws(CaptureError) -> (format: Format, frames: [CapturedFrame]) {
        guard let magic = file.getInteger(at: file.readerIndex, as: UInt32.self) else {
            throw CaptureError(code: .notACapture, message: "file of \(file.readableBytes) bytes is too short for a capture header")
        }
        switch magic {
        case pcapMicroseconds, pcapNanoseconds, pcapMicroseconds.byteSwapped, pcapNanoseconds.byteSwapped:
            return (.pcap, try parsePcap(file))
        case sectionHeader:
            return (.pcapng, try parsePcapng(file))
        default:
            throw CaptureError(code: .notACapture, message: "unknown magic 0x\(String(magic, radix: 16)): not a pcap or pcapng file")
        }
    }

    // MARK: pcap

    static func parsePcap(_ file: ByteBuffer) throws(CaptureError) -> [CapturedFrame] {
        var buffer = file
        let magic = buffer.readInteger(as: UInt32.self)!
        let endianness: Endianness = (magic == pcapMicroseconds || magic == pcapNanoseconds) ? .big : .little
        let nanoseconds = magic == pcapNanoseconds || magic == pcapNanoseconds.byteSwapped
        guard buffer.readableBytes >= 20 else { throw CaptureError(code: .truncated, message: "pcap global header is 24 bytes, file has \(file.readableBytes)") }
        buffer.moveReaderIndex(forwardBy: 16)  // version, thiszone, sigfigs, snaplen
        let linkType = LinkType(rawValue: buffer.readInteger(endianness: endianness, as: UInt32.self)! & 0x0FFF_FFFF)
        var frames: [CapturedFrame] = []
        while buffer.readableBytes > 0 {
            guard let seconds = buffer.readInteger(endianness: endianness, as: UInt32.self),
                let fraction = buffer.readInteger(endianness: endianness, as: UInt32.self),
                let captured = buffer.readInteger(endianness: endianness, as: UInt32.self),
                buffer.readInteger(endianness: endianness, as: UInt32.self) != nil
            else { throw CaptureError(code: .truncated, message: "pcap record header \(frames.count + 1) is cut short") }
            guard Int(captured) <= maximumFrameSize, let data = buffer.readSlice(length: Int(captured)) else {
                throw CaptureError(code: .truncated, message: "pcap record \(frames.count + 1) claims \(captured) bytes, \(buffer.readableBytes) remain")
            }
            let timestamp = Int64(seconds) * 1_000_000_000 + Int64(fraction) * (nanoseconds ? 1 : 1000)
            frames.append(CapturedFrame(timestamp: timestamp, linkType: linkType, data: data))
        }
        return frames
    }

    // MARK: pcapng

    private struct Interface {
        var linkType: LinkType
        /// Timestamp units per second.
        var unitsPerSecond: Int64 = 1_000_000
    }

    static func parsePcapng(_ file: ByteBuffer) throws(CaptureError) -> [CapturedFrame] {
        var buffer = file
        var endianness: Endianness = .big
        var interfaces: [Interface] = []
        var frames: [CapturedFrame] = []
        while buffer.readableBytes > 0 {
            guard let rawType = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self) else { break }
            if rawType == sectionHeader {
                // A new section: its byte-order magic (after the length) sets the endianness; interfaces restart.
                guard let magic = buffer.getInteger(at: buffer.readerIndex + 8, as: UInt32.self) else {
                    throw CaptureError(code: .truncated, message: "pcapng section header is cut short")
                }
                switch magic {
                case byteOrderMagic: endianness = .big
                case byteOrderMagic.byteSwapped: endianness = .little
                default: throw CaptureError(code: .malformed, message: "pcapng byte-order magic 0x\(String(magic, radix: 16)) is wrong")
                }
                interfaces = []
            }
            guard let type = buffer.readInteger(endianness: endianness, as: UInt32.self),
                let length = buffer.readInteger(endianness: endianness, as: UInt32.self)
            else { throw CaptureError(code: .truncated, message: "pcapng block header is cut short") }
            guard length >= 12, length % 4 == 0, Int(length) - 8 <= buffer.readableBytes, Int(length) <= maximumFrameSize + 64 else {
                throw CaptureError(code: .malformed, message: "pcapng block of type \(type) has length \(length)")
            }
            var body = buffer.readSlice(length: Int(length) - 12)!
            guard buffer.readInteger(endianness: endianness, as: UInt32.self) == length else {
                throw CaptureError(code: .malformed, message: "pcapng block of type \(type): trailing length differs")
            }
            switch type {
            case 1:  // Interface Description Block
                guard let link = body.readInteger(endianness: endianness, as: UInt16.self) else {
                    throw CaptureError(code: .truncated, message: "pcapng interface description is cut short")
                }
                body.moveReaderIndex(forwardBy: min(6, body.readableBytes))  // reserved, snaplen
                var interface = Interface(linkType: LinkType(rawValue: UInt32(link)))
                try readOptions(&body, endianness: endianness) { code, value in
                    if code == 9, let resolution = value.getInteger(at: value.readerIndex, as: UInt8.self) {
                        // if_tsresol: MSB clear → 10^-n, set → 2^-n.
                        let exponent = Int64(resolution & 0x7F)
                        interface.unitsPerSecond = resolution & 0x80 == 0 ? Self.power(10, exponent) : Self.power(2, exponent)
                    }
                }
                interfaces.append(interface)
            case 6:  // Enhanced Packet Block
                guard let id = body.readInteger(endianness: endianness, as: UInt32.self),
                    let high = body.readInteger(endianness: endianness, as: UInt32.self),
                    let low = body.readInteger(endianness: endianness, as: UInt32.self),
                    let captured = body.readInteger(endianness: endianness, as: UInt32.self),
                    body.readInteger(endianness: endianness, as: UInt32.self) != nil
                else { throw CaptureError(code: .truncated, message: "pcapng enhanced packet block is cut short") }
                guard Int(id) < interfaces.count else {
                    throw CaptureError(code: .malformed, message: "pcapng packet on interface \(id), but \(interfaces.count) are described")
                }
                guard let data = body.readSlice(length: Int(captured)) else {
                    throw CaptureError(code: .truncated, message: "pcapng packet claims \(captured) bytes, its block holds \(body.readableBytes)")
                }
                let units = Int64(high) << 32 | Int64(low)
                let perSecond = interfaces[Int(id)].unitsPerSecond
                let timestamp = units / perSecond * 1_000_000_000 + (units % perSecond) * 1_000_000_000 / perSecond
                frames.append(CapturedFrame(timestamp: timestamp, linkType: interfaces[Int(id)].linkType, data: data, interface: Int(id)))
            case 3:  // Simple Packet Block: interface 0, no timestamp
                guard let first = interfaces.first, let original = body.readInteger(endianness: endianness, as: UInt32.self) else {
                    throw CaptureError(code: .malformed, message: "pcapng simple packet block without an interface")
                }
                let data = body.readSlice(length: min(Int(original), body.readableBytes))!
                frames.append(CapturedFrame(timestamp: frames.last?.timestamp ?? 0, linkType: first.linkType, data: data))
            default:
                continue  // section header, statistics, name resolution, custom blocks
            }
        }
        return frames
    }

    private static func readOptions(_ body: inout ByteBuffer, endianness: Endianness, _ handle: (UInt16, ByteBuffer) -> Void) throws(CaptureError) {
        while let code = body.readInteger(endianness: endianness, as: UInt16.self), let length = body.readInteger(endianness: endianness, as: UInt16.self) {
            if code == 0 { return }  // opt_endofopt
            guard let value = body.readSlice(length: Int(length)) else {
                throw CaptureError(code: .malformed, message: "pcapng option \(code) overruns its block")
            }
            body.moveReaderIndex(forwardBy: min((4 - Int(length) % 4) % 4, body.readableBytes))
            handle(code, value)
        }
    }

    private static func power(_ base: Int64, _ exponent: Int64) -> Int64 {
        var result: Int64 = 1
        for _ in 0..<min(exponent, 18) { result *= base }
        return result
    }
}
