import AnswerNinjaCore
import NIOCore
import SIPDialogs
import SIPMessages
import Testing

/// The registrar's bindings (RFC 3261 §10.3, RFC 5626): add, refresh, remove, expire, order, flows.
@Suite struct SIPLocationServiceTests {
    static func register(_ contacts: [String], expires: String? = nil, callID: String = "reg-1", cseq: UInt32 = 1, path: [String] = []) -> SIPRequest {
        var text = "REGISTER sip:gw.example.com SIP/2.0\r\nVia: SIP/2.0/TCP 192.0.2.7:5060;branch=z9hG4bK\(cseq)\r\nMax-Forwards: 70\r\n"
            + "From: <sip:alice@gw.example.com>;tag=a\r\nTo: <sip:alice@gw.example.com>\r\nCall-ID: \(callID)\r\nCSeq: \(cseq) REGISTER\r\n"
        for hop in path { text += "Path: \(hop)\r\n" }
        for contact in contacts { text += "Contact: \(contact)\r\n" }
        if let expires { text += "Expires: \(expires)\r\n" }
        guard case .request(let request) = try! SIPMessage(parsing: ByteBuffer(string: text + "Content-Length: 0\r\n\r\n")) else { fatalError() }
        return request
    }

    let now = MediaInstant(nanoseconds: 1_000_000_000_000)

    @Test func aBindingIsAddedRefreshedAndRemoved() {
        var location = SIPLocationService<Int>()
        guard case .registered(let added) = location.register(Self.register(["<sip:alice@10.0.0.5:5060;transport=tcp>"], expires: "300"), aor: "alice", flow: 7, now: now) else {
            Issue.record("not registered"); return
        }
        #expect(added.count == 1 && added[0].flow == 7 && added[0].secondsLeft(at: now) == 300)
        // A refresh with a higher CSeq from the same Call-ID, the expiry in the Contact this time, over a new flow.
        guard case .registered(let refreshed) = location.register(Self.register(["<sip:alice@10.0.0.5:5060;transport=tcp>;expires=600"], cseq: 2), aor: "alice", flow: 8, now: now) else {
            Issue.record("not refreshed"); return
        }
        #expect(refreshed.count == 1 && refreshed[0].flow == 8 && refreshed[0].secondsLeft(at: now) == 600, "one binding, moved to the new flow")
        #expect(location.register(Self.register(["<sip:alice@10.0.0.5:5060;transport=tcp>"], expires: "300", cseq: 2), aor: "alice", flow: 8, now: now) == .outOfOrder)
        #expect(location.register(Self.register(["<sip:alice@10.0.0.5:5060;transport=tcp>"], expires: "0", cseq: 3), aor: "alice", flow: 8, now: now) == .registered([]))
        #expect(location.bindings(of: "alice", now: now).isEmpty)
    }

    /// RFC 3327: the Path of a REGISTER (two edge proxies, one in a comma-separated header) is kept with every
    /// contact it registered, in order, and replaced by the next refresh's.
    @Test func thePathIsKeptWithTheBindings() {
        var location = SIPLocationService<Int>()
        let edge = "<sip:edge.example.com;lr;received=sip:198.51.100.7:5062>"
        let request = Self.register(["<sip:alice@10.0.0.5>", "<sip:alice@10.0.0.6>"], expires: "300", path: ["\(edge), <sip:core.example.com;lr>"])
        guard case .registered(let bindings) = location.register(request, aor: "alice", flow: 1, now: now) else {
            Issue.record("not registered"); return
        }
        #expect(bindings.map(\.path) == [[edge, "<sip:core.example.com;lr>"], [edge, "<sip:core.example.com;lr>"]])
        _ = location.register(Self.register(["<sip:alice@10.0.0.5>"], expires: "300", cseq: 2), aor: "alice", flow: 2, now: now)
        #expect(location.bindings(of: "alice", now: now).first { $0.contact.description.contains("10.0.0.5") }?.path == [], "registered directly now")
    }

    @Test func expiryLimitsWildcardAndFlows() {
        var location = SIPLocationService<Int>(minimumExpires: 60, maximumExpires: 3600)
        #expect(location.register(Self.register(["<sip:alice@10.0.0.5>"], expires: "30"), aor: "alice", flow: 1, now: now) == .intervalTooBrief(minimum: 60))
        guard case .registered(let capped) = location.register(Self.register(["<sip:alice@10.0.0.5>"], expires: "86400"), aor: "alice", flow: 1, now: now) else { return }
        #expect(capped.first?.secondsLeft(at: now) == 3600, "capped at the maximum")
        _ = location.register(Self.register(["<sip:alice@10.0.0.6>"], expires: "120", callID: "reg-2"), aor: "alice", flow: 2, now: now)
        #expect(location.bindings(of: "alice", now: now).map(\.flow) == [2, 1], "newest first")
        #expect(location.bindings(of: "alice", now: now.advanced(by: .seconds(121))).map(\.flow) == [1], "the 120 s one expired")
        location.flowClosed(1)
        #expect(location.bindings(of: "alice", now: now).map(\.flow) == [2], "the flow's bindings are gone with it")
        #expect(location.register(Self.register(["*"], expires: "300", cseq: 5), aor: "alice", flow: 2, now: now) == .badRequest("Contact: * needs Expires: 0 (§10.2.2)"))
        #expect(location.register(Self.register(["*"], expires: "0", callID: "reg-2", cseq: 9), aor: "alice", flow: 2, now: now) == .registered([]))
        #expect(location.count(now: now) == 0)
    }

    /// RFC 5626: the same instance and reg-id replace each other even when the Contact address changed (a new NAT
    /// binding); another reg-id is a second flow of the same device.
    @Test func outboundInstancesAreMatchedByInstanceAndRegID() {
        var location = SIPLocationService<Int>()
        let instance = #"+sip.instance="<urn:uuid:00000000-0000-1000-8000-AABBCCDDEEFF>""#
        _ = location.register(Self.register(["<sip:alice@10.0.0.5:40000;ob>;\(instance);reg-id=1"], expires: "300"), aor: "alice", flow: 1, now: now)
        _ = location.register(Self.register(["<sip:alice@10.0.0.5:40001;ob>;\(instance);reg-id=1"], expires: "300", cseq: 2), aor: "alice", flow: 2, now: now)
        #expect(location.bindings(of: "alice", now: now).map(\.flow) == [2], "the same instance and reg-id: replaced")
        _ = location.register(Self.register(["<sip:alice@10.0.0.5:40002;ob>;\(instance);reg-id=2"], expires: "300", callID: "reg-9"), aor: "alice", flow: 3, now: now)
        #expect(location.bindings(of: "alice", now: now).count == 2)
        #expect(SIPLocationService<Int>.key(.sip(SIPURI(user: "Alice", host: .name("gw.example.com")))) == "alice")
    }
}
