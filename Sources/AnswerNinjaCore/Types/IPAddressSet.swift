#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// IP addresses and CIDR prefixes, IPv4 and IPv6 (`sip.trusted_sources`: "10.42.0.0/16, 192.0.2.7, 2001:db8::/32").
/// An edge proxy on Kubernetes has no fixed address, but its pods' network has a prefix. An IPv4-mapped IPv6
/// address (::ffff:192.0.2.7, as a dual-stack socket reports it) is taken as the IPv4 address.
public struct IPAddressSet: Sendable, Equatable, CustomStringConvertible {
    /// An address's bytes (4 or 16) and how many leading bits must match.
    struct Prefix: Sendable, Equatable {
        var bytes: [UInt8]
        var length: Int
    }

    private var prefixes: [Prefix] = []
    /// The items as written, for the description.
    public private(set) var items: [String] = []

    public init() {}

    /// Parses each item: an address, or an address and a prefix length after a slash.
    public init(parsing items: [String]) throws(CoreError) {
        for item in items { try insert(item) }
    }

    public var isEmpty: Bool { prefixes.isEmpty }
    public var description: String { items.joined(separator: ", ") }

    public mutating func insert(_ item: String) throws(CoreError) {
        let parts = item.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let bytes = Self.bytes(of: String(parts[0])) else {
            throw .invalidValue("\"\(item)\" is not an IP address or a CIDR prefix such as 10.0.0.0/8")
        }
        var length = bytes.count * 8
        if parts.count == 2 {
            // An IPv4-mapped IPv6 prefix (::ffff:10.0.0.0/104) counts its bits over 128; it is kept as IPv4.
            let mapped = bytes.count == 4 && parts[0].contains(":")
            let limit = mapped ? 128 : bytes.count * 8
            guard let bits = Int(parts[1]), ((mapped ? 96 : 0)...limit).contains(bits) else {
                throw .invalidValue("\"\(item)\": the prefix length must be \(mapped ? 96 : 0) to \(limit)")
            }
            length = mapped ? bits - 96 : bits
        }
        prefixes.append(Prefix(bytes: bytes, length: length))
        items.append(item)
    }

    public func contains(_ address: String) -> Bool {
        guard !prefixes.isEmpty, let bytes = Self.bytes(of: address) else { return false }
        return prefixes.contains { prefix in
            guard prefix.bytes.count == bytes.count else { return false }
            let whole = prefix.length / 8, rest = prefix.length % 8
            for index in 0..<whole where prefix.bytes[index] != bytes[index] { return false }
            guard rest > 0 else { return true }
            let mask = UInt8(0xFF) << (8 - rest)
            return prefix.bytes[whole] & mask == bytes[whole] & mask
        }
    }

    /// The bytes of an IPv4 (4) or IPv6 (16) address in text; an IPv4-mapped IPv6 address gives its IPv4 bytes.
    static func bytes(of text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            return withUnsafeBytes(of: &v4) { Array($0) }
        }
        var v6 = in6_addr()
        guard inet_pton(AF_INET6, text, &v6) == 1 else { return nil }
        let bytes = withUnsafeBytes(of: &v6) { Array($0) }
        if bytes[0..<10].allSatisfy({ $0 == 0 }), bytes[10] == 0xFF, bytes[11] == 0xFF { return Array(bytes[12...]) }
        return bytes
    }
}
