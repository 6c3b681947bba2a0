import SIPMessages
import Testing

@Suite struct SIPURITests {
    @Test func everyPartOfASIPURI() throws {
        let uri = try SIPURI(parsing: "sips:alice:secret@atlanta.example.com:5061;transport=tls;lr?subject=project%20x&priority=urgent")
        #expect(uri.secure && uri.user == "alice" && uri.password == "secret")
        #expect(uri.host == .name("atlanta.example.com") && uri.port == 5061)
        #expect(uri.parameters["transport"] == "tls" && uri.parameters["lr"] == .some(nil) && uri.parameters["missing"] == nil)
        #expect(uri.headers.map(\.name) == ["subject", "priority"])
        #expect(try SIPURI(parsing: uri.serialized[...]) == uri, "serialising and parsing again gives the same URI")
    }

    /// RFC 5118's IPv6 references (§4.1, §4.5, §4.6 and the Via forms).
    @Test(arguments: [
        ("sip:[2001:db8::10]", "2001:db8::10", nil),
        ("sip:user@[2001:db8::10]:5070", "2001:db8::10", 5070),
        ("sip:[2001:db8::192.0.2.1]", "2001:db8::192.0.2.1", nil),
        ("sip:[::ffff:192.0.2.128]:5060", "::ffff:192.0.2.128", 5060),
        ("sip:[2001:db8:0:0:0:0:0:10]", "2001:db8:0:0:0:0:0:10", nil),
        ("sip:[::1]", "::1", nil),
    ] as [(String, String, Int?)])
    func ipv6References(text: String, address: String, port: Int?) throws {
        let uri = try SIPURI(parsing: text[...])
        #expect(uri.host == .ipv6(address) && uri.port == port)
    }

    /// RFC 5118 §4.2 and §4.3: an address without brackets, and a port inside the brackets, are invalid.
    @Test(arguments: ["sip:2001:db8::10", "sip:[2001:db8::10:5070", "sip:[2001:db8:::10]", "sip:[1:2:3:4:5:6:7:8:9]", "sip:[2001:db8::g]"])
    func malformedIPv6IsRefused(text: String) {
        #expect(throws: SIPMessageError.self) { _ = try SIPURI(parsing: text[...]) }
    }

    @Test(arguments: [
        "sip:", "sip:@example.com", "sip:user@", "sip:user@example.com:99999", "sip:user@exa mple.com", "sip:user@example.com;",
        "sip:user@example.com;;lr", "sip:us<er@example.com", "sip:user@-bad-.example.com", "sip:user@256.1.1.1", "sip:user@example.com?noequals",
    ])
    func malformedURIsAreRefused(text: String) {
        #expect(throws: SIPMessageError.self) { _ = try SIPURI(parsing: text[...]) }
    }

    @Test func telAndOtherSchemes() throws {
        guard case .tel(let global) = try SIPURIReference(parsing: "tel:+1-201-555-0123;ext=9") else {
            Issue.record("a tel URI")
            return
        }
        #expect(global.isGlobal && global.digits == "+12015550123" && global.parameters["ext"] == "9")
        guard case .tel(let local) = try SIPURIReference(parsing: "tel:7042;phone-context=example.com") else { return }
        #expect(!local.isGlobal && local.digits == "7042")
        #expect(throws: SIPMessageError.self) { _ = try SIPURIReference(parsing: "tel:7042") }  // local needs a context
        #expect(try SIPURIReference(parsing: "mailto:alice@example.com").scheme == "mailto")
        #expect(throws: SIPMessageError.self) { _ = try SIPURIReference(parsing: "1abc:x") }
    }

    @Test func nameAddresses() throws {
        let quoted = try SIPNameAddress(parsing: #" "A \"quoted\" name" <sip:alice@example.com;transport=udp> ; tag = abc ; expires=60"#)
        #expect(quoted.displayName == #"A "quoted" name"# && quoted.tag == "abc" && quoted.parameters["expires"] == "60")
        #expect(quoted.uri.sipURI?.parameters["transport"] == "udp", "URI parameters stay inside the brackets")
        let tokens = try SIPNameAddress(parsing: "Alice Smith <sip:alice@example.com>")
        #expect(tokens.displayName == "Alice Smith")
        let bare = try SIPNameAddress(parsing: "sip:bob@example.com;tag=x")
        #expect(bare.displayName == nil && bare.tag == "x" && bare.uri.sipURI?.parameters.isEmpty == true, "in an addr-spec, ';' starts header parameters")
        let tel = try SIPNameAddress(parsing: "<tel:+15551234567>;tag=1")
        #expect(tel.uri.scheme == "tel")
        #expect(try SIPNameAddress(parsing: quoted.serialized[...]) == quoted)
    }

    @Test func headersFoldCompactAndList() throws {
        var headers = SIPHeaders([("v", "SIP/2.0/UDP a.example.com;branch=z9hG4bK1, SIP/2.0/TCP b.example.com;branch=z9hG4bK2"), ("VIA", "SIP/2.0/UDP c.example.com")])
        #expect(headers["Via"].count == 2 && headers.list("via").count == 3)
        #expect(headers.fields.allSatisfy { $0.name == "Via" }, "compact and odd-case names become the canonical one")
        headers.set("Max-Forwards", "70")
        headers.set("max-forwards", "69")
        #expect(headers["Max-Forwards"] == ["69"])
        headers.remove("v")
        #expect(!headers.contains("Via"))
    }
}
