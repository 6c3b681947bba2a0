import NIOCore
import SIPDialogs
import SIPMessages
import SIPTransactions
import Testing

@Suite struct SIPDialogTests {
    static func parse(_ text: String) -> SIPMessage { try! SIPMessage(parsing: ByteBuffer(string: text)) }

    /// RFC 3665 §3.2-style INVITE through two record-routing proxies.
    static let invite: SIPRequest = {
        guard case .request(let request) = parse("""
            INVITE sip:bob@biloxi.example.com SIP/2.0\r
            Via: SIP/2.0/UDP ss2.biloxi.example.com;branch=z9hG4bK2d4790.1\r
            Via: SIP/2.0/UDP client.atlanta.example.com:5060;branch=z9hG4bK74bf9\r
            Max-Forwards: 68\r
            Record-Route: <sip:ss2.biloxi.example.com;lr>\r
            Record-Route: <sip:ss1.atlanta.example.com;lr>\r
            From: Alice <sip:alice@atlanta.example.com>;tag=9fxced76sl\r
            To: Bob <sip:bob@biloxi.example.com>\r
            Call-ID: 2xTb9vxSit55XU7p8@atlanta.example.com\r
            CSeq: 1 INVITE\r
            Contact: <sip:alice@client.atlanta.example.com>\r
            Content-Length: 0\r
            \r

            """) else { fatalError() }
        return request
    }()

    static func ok(toTag: String = "314159") -> SIPResponse {
        // The Record-Route of the INVITE comes along (RFC 3261 §12.1.1).
        var response = SIPServerTransaction.response(to: invite, statusCode: 200, reasonPhrase: "OK")
        response.headers.set("To", "Bob <sip:bob@biloxi.example.com>;tag=\(toTag)")
        response.headers.add("Contact", "<sip:bob@client.biloxi.example.com>")
        return response
    }

    @Test func theUASDialogRoutesItsRequestsThroughTheRecordRoutes() throws {
        var dialog = try SIPDialog(uas: Self.invite, response: Self.ok())
        #expect(dialog.state == .confirmed && dialog.role == .uas)
        #expect(dialog.id == .init(callID: "2xTb9vxSit55XU7p8@atlanta.example.com", localTag: "314159", remoteTag: "9fxced76sl"))
        #expect(dialog.routeSet == ["<sip:ss2.biloxi.example.com;lr>", "<sip:ss1.atlanta.example.com;lr>"])
        #expect(dialog.remoteSequence == 1)
        let via = SIPVia(transport: "UDP", host: .name("client.biloxi.example.com"), parameters: SIPParameters([.init(name: "branch", value: "z9hG4bKnashds7")]))
        let before = dialog.localSequence
        let bye = dialog.makeRequest(method: "BYE", via: via, contact: "<sip:bob@client.biloxi.example.com>")
        #expect(bye.uri.description == "sip:alice@client.atlanta.example.com", "the remote target, loose routing")
        #expect(bye.headers["Route"] == dialog.routeSet)
        #expect(try SIPNameAddress(parsing: bye.headers.first("From")![...]).tag == "314159")
        #expect(try SIPNameAddress(parsing: bye.headers.first("To")![...]).tag == "9fxced76sl")
        #expect(bye.headers.first("CSeq") == "\(before + 1) BYE" && dialog.localSequence == before + 1)
        // The request parses back as a valid SIP message.
        var wire = ByteBuffer()
        wire.writeSIPMessage(.request(bye))
        #expect(SIPDialog.id(ofReceived: try SIPMessage(parsing: wire)) == .init(callID: dialog.id.callID, localTag: "9fxced76sl", remoteTag: "314159"),
                "seen from the far end, the tags swap")
    }

    @Test func theUACDialogReversesTheRecordRoutes() throws {
        var dialog = try SIPDialog(uac: Self.invite, response: Self.ok())
        #expect(dialog.routeSet == ["<sip:ss1.atlanta.example.com;lr>", "<sip:ss2.biloxi.example.com;lr>"])
        #expect(dialog.remoteTarget.description == "sip:bob@client.biloxi.example.com" && dialog.localSequence == 1 && dialog.remoteSequence == nil)
        let via = SIPVia(transport: "UDP", host: .name("client.atlanta.example.com"), parameters: SIPParameters([.init(name: "branch", value: "z9hG4bK1")]))
        let ack = dialog.makeRequest(method: "ACK", via: via, contact: "", sequence: 1)
        #expect(ack.headers.first("CSeq") == "1 ACK" && dialog.localSequence == 1, "ACK reuses the INVITE's number")
        #expect(!ack.headers.contains("Contact"))
        let reinvite = dialog.makeRequest(method: "INVITE", via: via, contact: "<sip:alice@client.atlanta.example.com>")
        #expect(reinvite.headers.first("CSeq") == "2 INVITE" && reinvite.headers.first("Contact") != nil)
    }

    @Test func requestsOutOfOrderAreRefusedAndTargetRefreshesMoveTheTarget() throws {
        var dialog = try SIPDialog(uas: Self.invite, response: Self.ok())
        func request(_ method: String, _ sequence: Int, contact: String? = nil) -> SIPRequest {
            var request = Self.invite
            request.method = method
            request.headers.set("CSeq", "\(sequence) \(method)")
            if let contact { request.headers.set("Contact", contact) }
            return request
        }
        try dialog.receive(request("ACK", 1))
        #expect(throws: SIPDialogError.outOfOrder("CSeq 1 is not above the dialog's last 1")) { try dialog.receive(request("INFO", 1)) }
        try dialog.receive(request("INVITE", 2, contact: "<sip:alice@moved.atlanta.example.com>"))
        #expect(dialog.remoteTarget.description == "sip:alice@moved.atlanta.example.com" && dialog.remoteSequence == 2)
        try dialog.receive(request("BYE", 3))
        #expect(dialog.state == .terminated)
    }

    @Test func aDialogNeedsItsTagsAndContact() {
        var noContact = Self.invite
        noContact.headers.remove("Contact")
        #expect(throws: SIPDialogError.self) { _ = try SIPDialog(uas: noContact, response: Self.ok()) }
        var noTag = Self.ok()
        noTag.headers.set("To", "Bob <sip:bob@biloxi.example.com>")
        #expect(throws: SIPDialogError.self) { _ = try SIPDialog(uas: Self.invite, response: noTag) }
    }
}

@Suite struct SIPResponseRetransmissionTests {
    /// RFC 3261 §13.3.1.4: a lost first ACK. The 2xx goes out at 0, 0.5, 1.5, 3.5 s... (T1 doubling to T2) until the
    /// ACK comes; without one, the dialog ends after 64·T1.
    @Test func the2xxIsResentAtT1DoublingUntilTheAck() {
        var retransmission = SIPResponseRetransmission(response: SIPDialogTests.ok())
        #expect(retransmission.start(reliable: false) == [.send(SIPDialogTests.ok()), .startTimer(.milliseconds(500))])
        var resentAt: [Duration] = []
        var now = Duration.milliseconds(500)
        for _ in 0..<3 {
            let actions = retransmission.timerFired(reliable: false)
            #expect(actions.first == .send(SIPDialogTests.ok()))
            resentAt.append(now)
            if case .startTimer(let next) = actions.last { now += next }
        }
        #expect(resentAt == [.milliseconds(500), .milliseconds(1500), .milliseconds(3500)], "0.5, 1 and 2 s apart")
        #expect(retransmission.ackReceived() == [.cancelTimer] && retransmission.acknowledged)
        #expect(retransmission.timerFired(reliable: false).isEmpty)
    }

    @Test func withoutAnAckTheCallEndsAfter64T1() {
        var retransmission = SIPResponseRetransmission(response: SIPDialogTests.ok())
        _ = retransmission.start(reliable: false)
        var sent = 1, total = Duration.milliseconds(500)
        while true {
            let actions = retransmission.timerFired(reliable: false)
            if actions == [.ackTimedOut] { break }
            sent += 1
            if case .startTimer(let next) = actions.last { total += next }
            #expect(sent < 20)
        }
        #expect(total == .seconds(32) && sent == 11)
        var overTCP = SIPResponseRetransmission(response: SIPDialogTests.ok())
        #expect(overTCP.start(reliable: true).last == .startTimer(.seconds(32)))
        #expect(overTCP.timerFired(reliable: true) == [.ackTimedOut])
    }
}
