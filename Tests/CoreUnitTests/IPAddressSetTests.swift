import AnswerNinjaCore
import Testing

/// `sip.trusted_sources`: addresses and CIDR prefixes, IPv4 and IPv6.
@Suite struct IPAddressSetTests {
    @Test func addressesAndPrefixesMatch() throws {
        let set = try IPAddressSet(parsing: ["10.42.0.0/16", "192.0.2.7", "2001:db8:1::/48", "172.16.5.128/25"])
        #expect(set.contains("10.42.3.9") && set.contains("10.42.255.255"))
        #expect(!set.contains("10.43.0.1"))
        #expect(set.contains("192.0.2.7") && !set.contains("192.0.2.8"))
        #expect(set.contains("2001:db8:1:ffff::5") && !set.contains("2001:db8:2::5"))
        #expect(set.contains("172.16.5.200") && !set.contains("172.16.5.100"), "a prefix that ends inside a byte")
        #expect(set.contains("::ffff:10.42.0.1"), "an IPv4-mapped IPv6 address is its IPv4 address")
        #expect(!set.contains("not-an-address") && !set.contains("10.42.0.0/16"))
        #expect(!IPAddressSet().contains("127.0.0.1"))
        #expect(try IPAddressSet(parsing: ["0.0.0.0/0"]).contains("203.0.113.9"))
        #expect(!(try IPAddressSet(parsing: ["0.0.0.0/0"]).contains("::1")), "families do not mix")
        // An IPv4-mapped prefix counts over 128 bits and matches the IPv4 addresses it maps.
        let mapped = try IPAddressSet(parsing: ["::ffff:10.42.0.0/112"])
        #expect(mapped.contains("10.42.9.9") && mapped.contains("::ffff:10.42.0.1") && !mapped.contains("10.43.0.1"))
        #expect(throws: CoreError.self) { try IPAddressSet(parsing: ["::ffff:10.0.0.0/95"]) }
    }

    @Test func badItemsSayWhy() {
        let name = #expect(throws: CoreError.self) { try IPAddressSet(parsing: ["edge.example.com"]) }
        #expect(name?.message.contains("is not an IP address or a CIDR prefix") == true)
        let long = #expect(throws: CoreError.self) { try IPAddressSet(parsing: ["10.0.0.0/33"]) }
        #expect(long?.message.contains("the prefix length must be 0 to 32") == true)
        #expect(throws: CoreError.self) { try IPAddressSet(parsing: ["2001:db8::/129"]) }
    }
}
