import AnswerNinjaTestSupport
import Foundation
import Testing

/// The trunk found by name (RFC 3263) through a real DNS server, dnsmasq on loopback, and Kamailio as the trunk.
@Suite(.serialized) struct SIPTrunkTests {
    /// SIPp calls the demo user through the trunk (`trunk-caller.xml`: it keeps the route set and requires the
    /// Record-Route in the 200); checks that the gateway answered and that the caller's BYE came back through the
    /// trunk; returns the gateway's `call answered` line.
    static func callThrough(_ trunk: KamailioPeer, to gateway: AnswerNinjaProcess) async throws -> Substring {
        let call = try await PeerEnvironment.run(
            try PeerEnvironment.require("sipp", package: "sip-tester"),
            ["-sf", AnswerNinjaProcess.packageRootFromSource() + "/Tests/PeerTests/SIPp/trunk-caller.xml", "-s", "demo", "127.0.0.1:\(trunk.port)",
             "-i", "127.0.0.1", "-p", String(try PeerEnvironment.freePort()), "-m", "1", "-nostdin", "-timeout", "20s", "-timeout_error"],
            timeout: .seconds(30)
        )
        #expect(call.status == 0, "\(call.output.suffix(1500))")
        try await gateway.process.waitUntilReady(timeout: .seconds(10)) { !SIPScenarioTests.lines(gateway, containing: "call ended").isEmpty }
        #expect(SIPScenarioTests.lines(gateway, containing: "call ended").first?.contains(#""hangup_side":"remote""#) == true, "the BYE came through the trunk")
        return SIPScenarioTests.lines(gateway, containing: "call answered").first ?? ""
    }

    /// `answer-ninja sip resolve` against dnsmasq: NAPTR picks TCP before UDP, SRV orders by priority, a target's A
    /// and AAAA both count, and a name with nothing is an error.
    @Test(.enabled(if: PeerEnvironment.available("dnsmasq")), .timeLimit(.minutes(1)))
    func resolveFollowsNaptrSrvAndAddressRecords() async throws {
        let dns = try await DnsmasqPeer.start(records: [
            "--naptr-record=trunk.test,20,50,s,SIP+D2U,,_sip._udp.trunk.test", "--naptr-record=trunk.test,10,50,s,SIP+D2T,,_sip._tcp.trunk.test",
            "--srv-host=_sip._tcp.trunk.test,edge2.trunk.test,5072,20,0", "--srv-host=_sip._tcp.trunk.test,edge1.trunk.test,5071,10,0",
            "--srv-host=_sip._udp.trunk.test,edge2.trunk.test,5080,10,0",
            "--host-record=edge1.trunk.test,127.0.0.1,::1", "--host-record=edge2.trunk.test,127.0.0.2",
        ])
        try await withPeer(dns) { dns in
            func resolve(_ uri: String) async throws -> (status: Int32, output: String) {
                try await PeerEnvironment.run(try AnswerNinjaProcess.binary(), ["sip", "resolve", uri, "--dns-server", dns.server])
            }
            let found = try await resolve("sip:trunk.test")
            #expect(found.status == 0, "\(found.output)")
            #expect(found.output.split(separator: "\n") == ["tcp 127.0.0.1 5071", "tcp ::1 5071", "tcp 127.0.0.2 5072", "udp 127.0.0.2 5080"])
            #expect(try await resolve("sip:trunk.test;transport=udp").output.split(separator: "\n") == ["udp 127.0.0.2 5080"])
            let nothing = try await resolve("sip:nowhere.test")
            #expect(nothing.status == 1 && nothing.output.contains("no NAPTR, SRV, A or AAAA record"), "\(nothing.output)")
            #expect(dns.process.log().contains("query[NAPTR] trunk.test"), "the lookups reached dnsmasq")
        }
    }

    /// The gateway's registrar is `sip:trunk.test`: NAPTR says TCP, the first SRV target refuses connections, the
    /// second is Kamailio. The gateway registers over TCP with digest, and a call through Kamailio (SIPp as a
    /// caller that keeps the route set, `trunk-caller.xml`) reaches it over TCP and is answered with Kamailio's
    /// Record-Route, so that the ACK and the BYE come back through Kamailio; the trunk's P-Asserted-Identity is
    /// believed, since it comes from an address the trunk's name resolved to.
    @Test(.enabled(if: PeerEnvironment.available("dnsmasq") && PeerEnvironment.available("kamailio") && PeerEnvironment.available("sipp")), .timeLimit(.minutes(1)))
    func theGatewayFindsItsTrunkByNameAndRegistersOverTCP() async throws {
        let trunk = try await KamailioPeer.start(configuration: KamailioPeer.trunkConfiguration(password: "trunk-secret"))
        try await withPeer(trunk) { trunk in
            let dead = try PeerEnvironment.freePort()
            let dns = try await DnsmasqPeer.start(records: [
                "--naptr-record=trunk.test,10,50,s,SIP+D2T,,_sip._tcp.trunk.test", "--naptr-record=trunk.test,20,50,s,SIP+D2U,,_sip._udp.trunk.test",
                "--srv-host=_sip._tcp.trunk.test,dead.trunk.test,\(dead),5,0", "--srv-host=_sip._tcp.trunk.test,edge.trunk.test,\(trunk.port),10,0",
                "--srv-host=_sip._udp.trunk.test,edge.trunk.test,\(trunk.port),10,0",
                "--host-record=dead.trunk.test,127.0.0.1", "--host-record=edge.trunk.test,127.0.0.1",
            ])
            try await withPeer(dns) { dns in
                let gateway = try await AnswerNinjaProcess.start(environment: [
                    "ANSWER_NINJA_SIP_TRUNK_REGISTRAR": "sip:trunk.test", "ANSWER_NINJA_SIP_TRUNK_USERNAME": "demo",
                    "ANSWER_NINJA_SIP_TRUNK_PASSWORD": "trunk-secret", "ANSWER_NINJA_SIP_DNS_SERVER": dns.server,
                ])
                try await withPeer(gateway) { gateway in
                    try await gateway.process.waitUntilReady(timeout: .seconds(20)) { gateway.process.log().contains(#""registered""#) }
                    let log = gateway.process.log()
                    #expect(log.contains("tcp 127.0.0.1:\(dead) refused the connection"), "the dead target first")
                    let target = SIPScenarioTests.lines(gateway, containing: "trunk target").last ?? ""
                    #expect(target.contains("tcp 127.0.0.1:\(trunk.port)"), "\(target)")
                    let answered = try await Self.callThrough(trunk, to: gateway)
                    #expect(answered.contains(#""transport":"tcp""#), "Kamailio relays to our TCP Contact: \(answered)")
                    #expect(answered.contains(#""verstat":"TN-Validation-Passed""#), "the trunk's asserted identity is believed: \(answered)")
                    #expect(dns.process.log().contains("query[NAPTR] trunk.test"))
                }
            }
        }
    }
}

extension SIPTrunkTests {
    /// Over TLS: NAPTR says SIPS+D2T, the gateway opens a TLS connection to Kamailio and checks its certificate
    /// against the trunk's CA and the domain `trunk.test` (RFC 5922), registers over it, and a call through
    /// Kamailio reaches the gateway's own TLS listener. A certificate that does not name `trunk.test` fails the
    /// handshake, and the gateway moves on to the next NAPTR rule (UDP).
    @Test(
        .enabled(if: PeerEnvironment.available("dnsmasq") && PeerEnvironment.available("kamailio") && PeerEnvironment.available("sipp")), .timeLimit(.minutes(1)),
        arguments: [true, false]
    )
    func theGatewayRegistersWithItsTrunkOverTLS(certificateNamesTheTrunk: Bool) async throws {
        // The trunk's certificate names a domain only (no IP entry, which NIOSSL would accept for 127.0.0.1).
        let trunkCertificates = try await TestCertificates.make(
            name: "trunk-tls", alternativeNames: [certificateNamesTheTrunk ? "DNS:trunk.test" : "DNS:elsewhere.test"]
        )
        let gatewayCertificates = try await TestCertificates.make(name: "gateway-tls")
        let tlsPort = try PeerEnvironment.freePort()
        let configurationDirectory = try PeerEnvironment.artifactsDirectory(named: "kamailio-tls")
        let trunk = try await KamailioPeer.start(configuration: KamailioPeer.trunkConfiguration(
            password: "trunk-secret",
            tls: (tlsPort, trunkCertificates.serverCertificate, trunkCertificates.serverKey, configurationDirectory)
        ))
        try await withPeer(trunk) { trunk in
            let dns = try await DnsmasqPeer.start(records: [
                "--naptr-record=trunk.test,10,50,s,SIPS+D2T,,_sips._tcp.trunk.test", "--naptr-record=trunk.test,20,50,s,SIP+D2U,,_sip._udp.trunk.test",
                "--srv-host=_sips._tcp.trunk.test,edge.trunk.test,\(tlsPort),10,0", "--srv-host=_sip._udp.trunk.test,edge.trunk.test,\(trunk.port),10,0",
                "--host-record=edge.trunk.test,127.0.0.1",
            ])
            try await withPeer(dns) { dns in
                let gateway = try await AnswerNinjaProcess.start(environment: [
                    "ANSWER_NINJA_SIP_TRUNK_REGISTRAR": "sip:trunk.test", "ANSWER_NINJA_SIP_TRUNK_USERNAME": "demo",
                    "ANSWER_NINJA_SIP_TRUNK_PASSWORD": "trunk-secret", "ANSWER_NINJA_SIP_DNS_SERVER": dns.server,
                    "ANSWER_NINJA_SIP_TRUNK_TLS_CA": trunkCertificates.caCertificate,
                    "ANSWER_NINJA_SIP_TLS_PORT": String(try PeerEnvironment.freePort()),
                    "ANSWER_NINJA_SIP_TLS_CERTIFICATE": gatewayCertificates.serverCertificate, "ANSWER_NINJA_SIP_TLS_PRIVATE_KEY": gatewayCertificates.serverKey,
                ])
                try await withPeer(gateway) { gateway in
                    try await gateway.process.waitUntilReady(timeout: .seconds(20)) { gateway.process.log().contains(#""registered""#) }
                    let target = SIPScenarioTests.lines(gateway, containing: "trunk target").last ?? ""
                    guard certificateNamesTheTrunk else {
                        #expect(!SIPScenarioTests.lines(gateway, containing: "trunk connection closed").isEmpty, "the name check failed the handshake")
                        #expect(target.contains("udp 127.0.0.1:\(trunk.port)"), "then the UDP rule: \(target)")
                        return
                    }
                    #expect(target.contains("tls 127.0.0.1:\(tlsPort)"), "\(target)")
                    let answered = try await Self.callThrough(trunk, to: gateway)
                    #expect(answered.contains(#""transport":"tls""#), "Kamailio relays to our TLS Contact: \(answered)")
                }
            }
        }
    }
}

/// IPv6 listeners (`sip.ipv6_host=::1`): SIPp calls `[::1]` over UDP and over TCP; the gateway answers with its IPv6
/// address in Contact and SDP, plays the greeting over IPv6 RTP, and records what SIPp echoes back.
@Suite(.serialized) struct SIPIPv6Tests {
    @Test(.enabled(if: PeerEnvironment.available("sipp")), .timeLimit(.minutes(1)), arguments: ["u1", "t1"])
    func callsOverIPv6(transport: String) async throws {
        let gateway = try await AnswerNinjaProcess.start(environment: ["ANSWER_NINJA_SIP_IPV6_HOST": "::1"])
        try await withPeer(gateway) { gateway in
            let sipPort = try #require(gateway.sipPort)
            try await gateway.process.waitUntilReady(timeout: .seconds(5)) { gateway.process.log().contains("sip6      sip:[::1]:\(sipPort)") }
            let result = try await PeerEnvironment.run(
                try PeerEnvironment.require("sipp", package: "sip-tester"),
                ["-sf", AnswerNinjaProcess.packageRootFromSource() + "/Tests/PeerTests/SIPp/ipv6-call.xml", "-s", "demo", "[::1]:\(sipPort)",
                 "-i", "::1", "-p", String(try PeerEnvironment.freePort()), "-mp", String(try PeerEnvironment.freePort()), "-rtp_echo",
                 "-t", transport, "-m", "1", "-nostdin", "-timeout", "20s", "-timeout_error"],
                timeout: .seconds(30)
            )
            #expect(result.status == 0, "SIPp over IPv6 (\(transport)): \(result.output.suffix(1500))")
            try await gateway.process.waitUntilReady(timeout: .seconds(10)) { !SIPScenarioTests.lines(gateway, containing: "call ended").isEmpty }
            let answered = SIPScenarioTests.lines(gateway, containing: "call answered").first ?? ""
            #expect(answered.contains(#""transport":"\#(transport == "t1" ? "tcp" : "udp")""#), "\(answered)")
            let ended = SIPScenarioTests.lines(gateway, containing: "call ended").first ?? ""
            let received = ended.firstMatch(of: /"packets_received":"(\d+)"/).flatMap { Int($0.1) } ?? 0
            #expect(received > 50, "our greeting came back over IPv6 RTP: \(ended)")
            #expect(ended.contains(#""hangup_side":"remote""#))
        }
    }
}
