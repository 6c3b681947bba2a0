import NIOCore

/// One frame of a capture file: when it was captured, on which link type, and its bytes (a slice of the file).
public struct CapturedFrame: Sendable, Equatable {
    /// Nanoseconds since the Unix epoch.
    public var timestamp: Int64
    public var linkType: LinkType
    public var data: ByteBuffer
    /// For pcapng: the interface the frame was captured on.
    public var interface: Int

    public init(timestamp: Int64, linkType: LinkType, data: ByteBuffer, interface: Int = 0) {
        self.timestamp = timestamp
        self.linkType = linkType
        self.data = data
        self.interface = interface
    }
}

/// The link-layer header types we decode (tcpdump.org LINKTYPE_ values).
public struct LinkType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// BSD loopback: a 4-byte address family in host order.
    public static let null = LinkType(rawValue: 0)
    public static let ethernet = LinkType(rawValue: 1)
    /// Raw IPv4 or IPv6 (101; 12 and 14 are older values for the same).
    public static let raw = LinkType(rawValue: 101)
    public static let linuxCooked = LinkType(rawValue: 113)
    public static let linuxCookedV2 = LinkType(rawValue: 276)
    public static let ipv4 = LinkType(rawValue: 228)
    public static let ipv6 = LinkType(rawValue: 229)

    public var description: String {
        switch self {
        case .null: "null"
        case .ethernet: "ethernet"
        case .raw, LinkType(rawValue: 12), LinkType(rawValue: 14): "raw"
        case .linuxCooked: "linux-sll"
        case .linuxCookedV2: "linux-sll2"
        case .ipv4: "ipv4"
        case .ipv6: "ipv6"
        default: "linktype-\(rawValue)"
        }
    }
}
