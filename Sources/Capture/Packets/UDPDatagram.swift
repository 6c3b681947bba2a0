import NIOCore

/// A UDP datagram found in a captured frame: addresses, ports and payload (a slice of the frame).
public struct UDPDatagram: Sendable, Equatable {
    public var timestamp: Int64
    public var source: Endpoint
    public var destination: Endpoint
    public var payload: ByteBuffer

    public struct Endpoint: Hashable, Sendable, Comparable, CustomStringConvertible {
        /// Dotted IPv4 or RFC 5952 IPv6 text.
        public var address: String
        public var port: UInt16
        public init(address: String, port: UInt16) {
            self.address = address
            self.port = port
        }
        public var description: String { address.contains(":") ? "[\(address)]:\(port)" : "\(address):\(port)" }
        public static func < (lhs: Endpoint, rhs: Endpoint) -> Bool { (lhs.address, lhs.port) < (rhs.address, rhs.port) }
    }

    /// Decodes link layer, IPv4/IPv6 and UDP; nil for anything else (TCP, ARP, fragments after the first, ...).
    public init?(frame: CapturedFrame) {
        var data = frame.data
        let ipVersionHint: UInt16?
        switch frame.linkType {
        case .ethernet:
            guard data.readableBytes >= 14 else { return nil }
            data.moveReaderIndex(forwardBy: 12)
            var etherType = data.readInteger(as: UInt16.self)!
            while etherType == 0x8100 || etherType == 0x88A8 {  // 802.1Q / 802.1ad tags
                guard data.readableBytes >= 4 else { return nil }
                data.moveReaderIndex(forwardBy: 2)
                etherType = data.readInteger(as: UInt16.self)!
            }
            ipVersionHint = etherType
        case .linuxCooked:
            guard data.readableBytes >= 16 else { return nil }
            ipVersionHint = data.getInteger(at: data.readerIndex + 14, as: UInt16.self)
            data.moveReaderIndex(forwardBy: 16)
        case .linuxCookedV2:
            guard data.readableBytes >= 20 else { return nil }
            ipVersionHint = data.getInteger(at: data.readerIndex, as: UInt16.self)
            data.moveReaderIndex(forwardBy: 20)
        case .null:
            guard data.readableBytes >= 4 else { return nil }
            data.moveReaderIndex(forwardBy: 4)
            ipVersionHint = nil
        case .raw, .ipv4, .ipv6, LinkType(rawValue: 12), LinkType(rawValue: 14):
            ipVersionHint = nil
        default:
            return nil
        }
        if let hint = ipVersionHint, hint != 0x0800, hint != 0x86DD { return nil }
        guard let first = data.getInteger(at: data.readerIndex, as: UInt8.self) else { return nil }
        let source: String
        let destination: String
        var transport: ByteBuffer
        switch first >> 4 {
        case 4:
            let headerLength = Int(first & 0x0F) * 4
            guard headerLength >= 20, data.readableBytes >= headerLength,
                let totalLength = data.getInteger(at: data.readerIndex + 2, as: UInt16.self),
                let fragment = data.getInteger(at: data.readerIndex + 6, as: UInt16.self),
                data.getInteger(at: data.readerIndex + 9, as: UInt8.self) == 17
            else { return nil }
            guard fragment & 0x1FFF == 0, fragment & 0x2000 == 0 else { return nil }  // fragments are not reassembled
            source = Self.ipv4(data.getBytes(at: data.readerIndex + 12, length: 4)!)
            destination = Self.ipv4(data.getBytes(at: data.readerIndex + 16, length: 4)!)
            let length = min(Int(totalLength), data.readableBytes)
            guard length >= headerLength else { return nil }
            transport = data.getSlice(at: data.readerIndex + headerLength, length: length - headerLength)!
        case 6:
            guard data.readableBytes >= 40, var next = data.getInteger(at: data.readerIndex + 6, as: UInt8.self),
                let payloadLength = data.getInteger(at: data.readerIndex + 4, as: UInt16.self)
            else { return nil }
            source = Self.ipv6(data.getBytes(at: data.readerIndex + 8, length: 16)!)
            destination = Self.ipv6(data.getBytes(at: data.readerIndex + 24, length: 16)!)
            transport = data.getSlice(at: data.readerIndex + 40, length: min(Int(payloadLength), data.readableBytes - 40))!
            // Skip hop-by-hop (0), routing (43), fragment (44, first fragment only) and destination options (60).
            while next != 17 {
                guard [0, 43, 44, 60].contains(next), let following = transport.getInteger(at: transport.readerIndex, as: UInt8.self),
                    let extensionLength = transport.getInteger(at: transport.readerIndex + 1, as: UInt8.self)
                else { return nil }
                if next == 44, let offset = transport.getInteger(at: transport.readerIndex + 2, as: UInt16.self), offset & 0xFFF9 != 0 { return nil }
                let skip = next == 44 ? 8 : (Int(extensionLength) + 1) * 8
                guard transport.readableBytes >= skip else { return nil }
                transport.moveReaderIndex(forwardBy: skip)
                next = following
            }
        default:
            return nil
        }
        guard let sourcePort = transport.readInteger(as: UInt16.self), let destinationPort = transport.readInteger(as: UInt16.self),
            let udpLength = transport.readInteger(as: UInt16.self), transport.readInteger(as: UInt16.self) != nil, udpLength >= 8
        else { return nil }
        self.timestamp = frame.timestamp
        self.source = Endpoint(address: source, port: sourcePort)
        self.destination = Endpoint(address: destination, port: destinationPort)
        self.payload = transport.getSlice(at: transport.readerIndex, length: min(Int(udpLength) - 8, transport.readableBytes))!
    }

    static func ipv4(_ bytes: [UInt8]) -> String {
        bytes.map(String.init).joined(separator: ".")
    }

    /// RFC 5952 text: lowercase hex, leading zeros dropped, the longest run of two or more zero groups as `::`.
    static func ipv6(_ bytes: [UInt8]) -> String {
        let groups = stride(from: 0, to: 16, by: 2).map { UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]) }
        var bestStart = -1, bestLength = 0, start = -1
        for index in 0...8 {
            if index < 8 && groups[index] == 0 {
                if start < 0 { start = index }
            } else if start >= 0 {
                if index - start > bestLength { bestStart = start; bestLength = index - start }
                start = -1
            }
        }
        let text = groups.map { String($0, radix: 16) }
        guard bestLength >= 2 else { return text.joined(separator: ":") }
        return text[..<bestStart].joined(separator: ":") + "::" + text[(bestStart + bestLength)...].joined(separator: ":")
    }
}
