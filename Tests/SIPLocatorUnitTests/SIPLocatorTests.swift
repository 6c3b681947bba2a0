import AnswerNinjaCore
import SIPLocator
import SIPMessages
import AnswerNinjaTestSupport
import Testing

/// A DNS response written the long way (RFC 1035 §4.1), names compressed against the question, to read back.
struct DNSResponseBuilder {
    var bytes: [UInt8] = []
    var answers = 0
    var questionOffset = 12

    init(question: String, type: UInt16, responseCode: UInt8 = 0) {
        bytes = [0x12, 0x34, 0x81, 0x80 | responseCode, 0, 1, 0, 0, 0, 0, 0, 0]
        bytes += Self.name(question) + [UInt8(type >> 8), UInt8(type & 0xFF), 0, 1]
    }

    static func name(_ name: String) -> [UInt8] {
        name.split(separator: ".").flatMap { [UInt8($0.utf8.count)] + Array($0.utf8) } + [0]
    }

    static func u16(_ value: UInt16) -> [UInt8] { [UInt8(value >> 8), UInt8(value & 0xFF)] }

    /// A record whose owner is the question's name (a pointer to offset 12).
    mutating func add(type: UInt16, data: [UInt8], owner: [UInt8] = [0xC0, 12]) {
        bytes += owner + Self.u16(type) + [0, 1, 0, 0, 0x0E, 0x10] + Self.u16(UInt16(data.count)) + data
        answers += 1
        bytes[6] = UInt8(answers >> 8)
        bytes[7] = UInt8(answers & 0xFF)
    }

    static func characterString(_ text: String) -> [UInt8] { [UInt8(text.utf8.count)] + Array(text.utf8) }
}


@Suite struct DNSMessageTests {
    @Test func naptrSrvAAndAAAARecordsParse() throws {
        var naptr = DNSResponseBuilder(question: "trunk.test", type: 35)
        naptr.add(type: 35, data: DNSResponseBuilder.u16(10) + DNSResponseBuilder.u16(50) + DNSResponseBuilder.characterString("s")
            + DNSResponseBuilder.characterString("SIP+D2T") + DNSResponseBuilder.characterString("") + DNSResponseBuilder.name("_sip._tcp.trunk.test"))
        // The replacement's tail compressed against the question ("trunk.test" at offset 12).
        naptr.add(type: 35, data: DNSResponseBuilder.u16(20) + DNSResponseBuilder.u16(50) + DNSResponseBuilder.characterString("S")
            + DNSResponseBuilder.characterString("SIP+D2U") + DNSResponseBuilder.characterString("") + [4] + Array("_sip".utf8) + [4] + Array("_udp".utf8) + [0xC0, 12])
        let message = try DNSMessage(parsing: naptr.bytes)
        #expect(message.responseCode == 0 && !message.truncated)
        #expect(message.answers == [
            .naptr(name: "trunk.test", order: 10, preference: 50, flags: "s", service: "SIP+D2T", regexp: "", replacement: "_sip._tcp.trunk.test"),
            .naptr(name: "trunk.test", order: 20, preference: 50, flags: "S", service: "SIP+D2U", regexp: "", replacement: "_sip._udp.trunk.test"),
        ])

        var srv = DNSResponseBuilder(question: "_sip._tcp.trunk.test", type: 33)
        srv.add(type: 33, data: DNSResponseBuilder.u16(1) + DNSResponseBuilder.u16(60) + DNSResponseBuilder.u16(5070) + DNSResponseBuilder.name("edge1.trunk.test"))
        srv.add(type: 1, data: [127, 0, 0, 1], owner: DNSResponseBuilder.name("edge1.trunk.test"))
        srv.add(type: 28, data: [0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 11) + [1], owner: DNSResponseBuilder.name("edge1.trunk.test"))
        srv.add(type: 28, data: [UInt8](repeating: 0, count: 15) + [1], owner: DNSResponseBuilder.name("edge1.trunk.test"))
        srv.add(type: 99, data: [1, 2, 3])  // a type we do not read is skipped
        srv.add(type: 5, data: DNSResponseBuilder.name("other.test"))
        #expect(try DNSMessage(parsing: srv.bytes).answers == [
            .srv(name: "_sip._tcp.trunk.test", priority: 1, weight: 60, port: 5070, target: "edge1.trunk.test"),
            .a(name: "edge1.trunk.test", address: "127.0.0.1"),
            .aaaa(name: "edge1.trunk.test", address: "2001:db8::1"),
            .aaaa(name: "edge1.trunk.test", address: "::1"),
            .cname(name: "_sip._tcp.trunk.test", target: "other.test"),
        ])
    }

    @Test func brokenMessagesAreRefused() {
        var response = DNSResponseBuilder(question: "a.test", type: 1)
        response.add(type: 1, data: [127, 0, 0, 1])
        // Cut anywhere: never a crash, always a `malformed` error.
        for length in 0..<response.bytes.count {
            #expect(throws: SIPLocatorError.self) { try DNSMessage(parsing: Array(response.bytes.prefix(length))) }
        }
        // A pointer to itself, a pointer forwards, an A record of 3 bytes.
        var loop = DNSResponseBuilder(question: "a.test", type: 1)
        loop.add(type: 1, data: [127, 0, 0, 1], owner: [0xC0, UInt8(loop.bytes.count)])
        #expect(throws: SIPLocatorError.self) { try DNSMessage(parsing: loop.bytes) }
        var short = DNSResponseBuilder(question: "a.test", type: 1)
        short.add(type: 1, data: [127, 0, 0])
        #expect(throws: SIPLocatorError.self) { try DNSMessage(parsing: short.bytes) }
        // An SRV whose RDLENGTH (2) is shorter than its fields: they must not come from the next record.
        var borrowed = DNSResponseBuilder(question: "_sip._udp.a.test", type: 33)
        borrowed.add(type: 33, data: DNSResponseBuilder.u16(1))
        borrowed.add(type: 1, data: [127, 0, 0, 1], owner: DNSResponseBuilder.name("edge.a.test"))
        #expect(throws: SIPLocatorError.self) { try DNSMessage(parsing: borrowed.bytes) }
        let long = DNSResponseBuilder(question: Array(repeating: String(repeating: "x", count: 63), count: 5).joined(separator: "."), type: 1)
        #expect(throws: SIPLocatorError.self) { try DNSMessage(parsing: long.bytes) }
    }
}

@Suite struct SIPServerLocatorTests {
    /// A zone: answers by name and type; names in `failing` make the server fail.
    struct Zone: Sendable {
        var records: [DNSRecord]
        var failing: Set<String> = []
        var lookup: SIPServerLocator.Lookup {
            { [records, failing] name, type in
                if failing.contains(name) { throw SIPLocatorError.lookupFailed("SERVFAIL for \(name)") }
                return records.filter { record in
                    guard record.name == name else { return false }
                    switch (record, type) {
                    case (.a, .a), (.aaaa, .aaaa), (.srv, .srv), (.naptr, .naptr): return true
                    default: return false
                    }
                }
            }
        }
    }

    static func locate(_ uri: String, _ zone: Zone, transports: [SIPTransportProtocol] = [.tls, .tcp, .udp]) async throws -> [String] {
        var random = SplitMix64(state: 7)
        return try await SIPServerLocator(transports: transports).locate(try SIPURI(parsing: uri[...]), lookup: zone.lookup, random: &random).map(\.description)
    }

    static let edge: [DNSRecord] = [
        .a(name: "edge1.trunk.test", address: "127.0.0.1"), .aaaa(name: "edge1.trunk.test", address: "::1"),
        .a(name: "edge2.trunk.test", address: "127.0.0.2"), .a(name: "trunk.test", address: "127.0.0.9"),
    ]

    @Test func numericHostsAndPortsNeedNoService() async throws {
        let zone = Zone(records: Self.edge)
        #expect(try await Self.locate("sip:127.0.0.1", zone) == ["udp 127.0.0.1:5060"])
        #expect(try await Self.locate("sips:127.0.0.1", zone) == ["tls 127.0.0.1:5061"])
        #expect(try await Self.locate("sip:[::1]:5080;transport=tcp", zone) == ["tcp [::1]:5080"])
        // A port: A and AAAA only, UDP unless said.
        #expect(try await Self.locate("sip:edge1.trunk.test:5070", zone) == ["udp 127.0.0.1:5070", "udp [::1]:5070"])
        #expect(try await Self.locate("sip:edge1.trunk.test:5070;transport=TCP", zone) == ["tcp 127.0.0.1:5070", "tcp [::1]:5070"])
    }

    @Test func naptrChoosesTheTransportInOrder() async throws {
        let zone = Zone(records: Self.edge + [
            .naptr(name: "trunk.test", order: 20, preference: 10, flags: "s", service: "SIP+D2U", regexp: "", replacement: "_sip._udp.trunk.test"),
            .naptr(name: "trunk.test", order: 10, preference: 10, flags: "s", service: "SIP+D2T", regexp: "", replacement: "_sip._tcp.trunk.test"),
            .naptr(name: "trunk.test", order: 5, preference: 10, flags: "s", service: "SIP+D2S", regexp: "", replacement: "_sip._sctp.trunk.test"),
            .naptr(name: "trunk.test", order: 1, preference: 10, flags: "u", service: "SIP+D2T", regexp: "!^.*$!sip:x@y!", replacement: ""),
            .srv(name: "_sip._tcp.trunk.test", priority: 10, weight: 0, port: 5070, target: "edge1.trunk.test"),
            .srv(name: "_sip._udp.trunk.test", priority: 10, weight: 0, port: 5080, target: "edge2.trunk.test"),
        ])
        // SCTP and a non-terminal rule are not ours; TCP (order 10) before UDP (order 20).
        #expect(try await Self.locate("sip:trunk.test", zone) == ["tcp 127.0.0.1:5070", "tcp [::1]:5070", "udp 127.0.0.2:5080"])
        // A gateway without TCP takes the UDP rule.
        #expect(try await Self.locate("sip:trunk.test", zone, transports: [.udp]) == ["udp 127.0.0.2:5080"])
        // transport=udp skips NAPTR.
        #expect(try await Self.locate("sip:trunk.test;transport=udp", zone) == ["udp 127.0.0.2:5080"])
        // sips: NAPTR is still read (RFC 3263 §4.1), for its SIPS+D2T rules alone.
        let secure = Zone(records: Self.edge + [
            .naptr(name: "secure.test", order: 10, preference: 10, flags: "s", service: "SIP+D2U", regexp: "", replacement: "_sip._udp.secure.test"),
            .naptr(name: "secure.test", order: 20, preference: 10, flags: "s", service: "SIPS+D2T", regexp: "", replacement: "_sips._tcp.edge.secure.test"),
            .srv(name: "_sips._tcp.edge.secure.test", priority: 10, weight: 0, port: 5071, target: "edge1.trunk.test"),
        ])
        #expect(try await Self.locate("sips:secure.test", secure) == ["tls 127.0.0.1:5071", "tls [::1]:5071"])
        // sips: only TLS, and no TLS rule or SRV: nothing but the domain's address on 5061.
        #expect(try await Self.locate("sips:trunk.test", zone) == ["tls 127.0.0.9:5061"])
        // The TLS target keeps the URI's domain for the certificate check (RFC 5922), not the SRV target.
        var random = SplitMix64(state: 1)
        let target = try await SIPServerLocator().locate(try SIPURI(parsing: "sip:trunk.test"), lookup: zone.lookup, random: &random).first
        #expect(target?.serverName == "trunk.test")
    }

    @Test func withoutNaptrEachTransportsSRVInOurPreference() async throws {
        let zone = Zone(records: Self.edge + [
            .srv(name: "_sip._udp.trunk.test", priority: 10, weight: 0, port: 5080, target: "edge2.trunk.test"),
            .srv(name: "_sips._tcp.trunk.test", priority: 10, weight: 0, port: 5061, target: "edge1.trunk.test"),
            .srv(name: "_sip._tcp.trunk.test", priority: 10, weight: 0, port: 5060, target: "."),  // not offered
        ])
        #expect(try await Self.locate("sip:trunk.test", zone) == ["tls 127.0.0.1:5061", "tls [::1]:5061", "udp 127.0.0.2:5080"])
        #expect(try await Self.locate("sip:trunk.test", zone, transports: [.udp, .tcp]) == ["udp 127.0.0.2:5080"])
        // No NAPTR, no SRV: the domain's A record, UDP on 5060.
        #expect(try await Self.locate("sip:trunk.test", Zone(records: Self.edge)) == ["udp 127.0.0.9:5060"])
        // transport=tcp without SRV: A on 5060.
        #expect(try await Self.locate("sip:trunk.test;transport=tcp", Zone(records: Self.edge)) == ["tcp 127.0.0.9:5060"])
    }

    @Test func nothingOrAFailingServerIsAnError() async throws {
        await #expect(throws: SIPLocatorError.self) { try await Self.locate("sip:nowhere.test", Zone(records: [])) }
        let failing = Zone(records: Self.edge, failing: ["trunk.test"])
        await #expect(throws: SIPLocatorError.self) { try await Self.locate("sip:trunk.test", failing) }
        // A port or a transport in the URI, and no address: an error, never an empty list.
        await #expect(throws: SIPLocatorError.self) { try await Self.locate("sip:nowhere.test:5070", Zone(records: [])) }
        await #expect(throws: SIPLocatorError.self) { try await Self.locate("sip:nowhere.test;transport=tcp", Zone(records: [])) }
        // A transport we do not send on.
        await #expect(throws: SIPLocatorError.self) { try await Self.locate("sip:trunk.test;transport=tls", Zone(records: Self.edge), transports: [.udp]) }
    }

    /// RFC 2782: lower priority first; within a priority, picks in proportion to weight.
    @Test func srvPrioritiesAndWeights() async throws {
        let zone = Zone(records: [
            .srv(name: "_sip._udp.w.test", priority: 20, weight: 0, port: 5060, target: "backup.w.test"),
            .srv(name: "_sip._udp.w.test", priority: 10, weight: 90, port: 5060, target: "big.w.test"),
            .srv(name: "_sip._udp.w.test", priority: 10, weight: 10, port: 5060, target: "small.w.test"),
            .a(name: "big.w.test", address: "127.0.1.1"), .a(name: "small.w.test", address: "127.0.1.2"), .a(name: "backup.w.test", address: "127.0.1.3"),
        ])
        var random = SplitMix64(state: 42)
        var bigFirst = 0
        let draws = 2000
        for _ in 0..<draws {
            let targets = try await SIPServerLocator(transports: [.udp]).locate(try SIPURI(parsing: "sip:w.test;transport=udp"), lookup: zone.lookup, random: &random)
            #expect(targets.count == 3 && targets.last?.address == "127.0.1.3", "the priority-20 record last")
            if targets.first?.address == "127.0.1.1" { bigFirst += 1 }
        }
        let share = Double(bigFirst) / Double(draws)
        #expect(share > 0.85 && share < 0.95, "weight 90 of 100 first in \(share) of draws")
    }
}
