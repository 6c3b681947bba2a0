import AnswerNinjaCore
import NIOCore
import SIPMessages
import SIPTransactions
import Testing

enum Fixtures {
    static func request(_ method: String, branch: String = "z9hG4bK74bf9", cseq: UInt32 = 1) -> SIPRequest {
        let text = """
            \(method) sip:bob@biloxi.example.com SIP/2.0\r
            Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=\(branch)\r
            Max-Forwards: 70\r
            To: Bob <sip:bob@biloxi.example.com>\r
            From: Alice <sip:alice@atlanta.example.com>;tag=9fxced76sl\r
            Call-ID: 3848276298220188511@atlanta.example.com\r
            CSeq: \(cseq) \(method)\r
            Route: <sip:proxy.example.com;lr>\r
            Content-Length: 0\r
            \r

            """
        guard case .request(let request) = try! SIPMessage(parsing: ByteBuffer(string: text)) else { fatalError() }
        return request
    }

    static func response(_ code: Int, to request: SIPRequest, toTag: String? = "8321234356") -> SIPResponse {
        var response = SIPServerTransaction.response(to: request, statusCode: code, reasonPhrase: "R")
        if let toTag { response.headers.set("To", "Bob <sip:bob@biloxi.example.com>;tag=\(toTag)") }
        return response
    }

    static func sent(_ actions: [SIPTransactionAction]) -> [SIPMessage] {
        actions.compactMap { if case .send(let message) = $0 { message } else { nil } }
    }
}

@Suite struct SIPClientTransactionTests {
    @Test func anInviteOverUDPRetransmitsThenIsAcceptedBy2xx() {
        let invite = Fixtures.request("INVITE")
        var transaction = SIPClientTransaction(request: invite, reliable: false)
        #expect(transaction.start() == [.send(.request(invite)), .startTimer(.a, .milliseconds(500)), .startTimer(.b, .seconds(32))])
        #expect(transaction.timerFired(.a) == [.send(.request(invite)), .startTimer(.a, .seconds(1))])
        #expect(transaction.timerFired(.a) == [.send(.request(invite)), .startTimer(.a, .seconds(2))])
        let trying = Fixtures.response(100, to: invite, toTag: nil)
        #expect(transaction.receive(trying) == [.cancelTimer(.a), .deliver(.response(trying))])
        #expect(transaction.state == .proceeding && transaction.timerFired(.a).isEmpty, "A is stopped in Proceeding")
        let ok = Fixtures.response(200, to: invite)
        #expect(transaction.receive(ok) == [.cancelTimer(.a), .cancelTimer(.b), .deliver(.response(ok)), .startTimer(.m, .seconds(32))])
        #expect(transaction.state == .accepted)
        // RFC 6026: a retransmitted 2xx goes to the TU, which ACKs it.
        #expect(transaction.receive(ok) == [.deliver(.response(ok))])
        #expect(transaction.timerFired(.m) == [.terminated] && transaction.state == .terminated)
    }

    @Test func aFailureIsAckedByTheTransactionAndAgainOnEachRetransmission() throws {
        let invite = Fixtures.request("INVITE")
        var transaction = SIPClientTransaction(request: invite, reliable: false)
        _ = transaction.start()
        let busy = Fixtures.response(486, to: invite)
        let actions = transaction.receive(busy)
        #expect(transaction.state == .completed && actions.contains(.deliver(.response(busy))) && actions.contains(.startTimer(.d, .seconds(32))))
        guard case .request(let ack) = try #require(Fixtures.sent(actions).first) else { return }
        #expect(ack.method == "ACK" && ack.uri == invite.uri)
        #expect(ack.headers.first("CSeq") == "1 ACK" && ack.headers["Via"] == invite.headers["Via"] && ack.headers["Route"] == invite.headers["Route"])
        #expect((try SIPNameAddress(parsing: ack.headers.first("To")![...])).tag == "8321234356", "the To tag of the response")
        #expect(Fixtures.sent(transaction.receive(busy)) == [.request(ack)])
        #expect(transaction.timerFired(.d) == [.terminated])
    }

    @Test func noAnswerTimesOutWithTimerB() {
        var transaction = SIPClientTransaction(request: Fixtures.request("INVITE"), reliable: true)
        #expect(transaction.start().count == 2, "over TCP there is no timer A")
        #expect(transaction.timerFired(.b) == [.cancelTimer(.a), .timedOut, .terminated])
    }

    @Test func nonInviteRetransmitsUpToT2AndThenEveryT2() {
        let options = Fixtures.request("OPTIONS")
        var transaction = SIPClientTransaction(request: options, reliable: false)
        #expect(transaction.start() == [.send(.request(options)), .startTimer(.e, .milliseconds(500)), .startTimer(.f, .seconds(32))])
        let intervals = (0..<5).compactMap { _ -> Duration? in
            transaction.timerFired(.e).compactMap { if case .startTimer(.e, let interval) = $0 { interval } else { nil } }.first
        }
        #expect(intervals == [.seconds(1), .seconds(2), .seconds(4), .seconds(4), .seconds(4)])
        _ = transaction.receive(Fixtures.response(100, to: options, toTag: nil))
        #expect(transaction.timerFired(.e) == [.send(.request(options)), .startTimer(.e, .seconds(4))])
        let ok = Fixtures.response(200, to: options)
        #expect(transaction.receive(ok) == [.cancelTimer(.e), .cancelTimer(.f), .deliver(.response(ok)), .startTimer(.k, .seconds(5))])
        #expect(transaction.receive(ok).isEmpty, "retransmissions are absorbed")
        #expect(transaction.timerFired(.k) == [.terminated])
        var overTCP = SIPClientTransaction(request: options, reliable: true)
        _ = overTCP.start()
        #expect(overTCP.receive(ok).contains(.startTimer(.k, .zero)))
    }
}

@Suite struct SIPServerTransactionTests {
    @Test func anInviteRejectedOverUDPWaitsForItsAck() {
        let invite = Fixtures.request("INVITE")
        var transaction = SIPServerTransaction(request: invite, reliable: false)
        let start = transaction.start()
        guard case .send(.response(let trying)) = start.first else {
            Issue.record("100 Trying first")
            return
        }
        #expect(trying.statusCode == 100 && start.last == .deliver(.request(invite)))
        #expect(transaction.receive(invite) == [.send(.response(trying))], "a retransmitted INVITE gets the last provisional again")
        let ringing = Fixtures.response(180, to: invite)
        #expect(transaction.respond(ringing) == [.send(.response(ringing))])
        #expect(transaction.receive(invite) == [.send(.response(ringing))])
        let busy = Fixtures.response(486, to: invite)
        #expect(transaction.respond(busy) == [.send(.response(busy)), .startTimer(.g, .milliseconds(500)), .startTimer(.h, .seconds(32))])
        #expect(transaction.timerFired(.g) == [.send(.response(busy)), .startTimer(.g, .seconds(1))])
        #expect(transaction.receive(invite) == [.send(.response(busy))])
        let ack = Fixtures.request("ACK")
        #expect(transaction.receive(ack) == [.cancelTimer(.g), .cancelTimer(.h), .startTimer(.i, .seconds(5))])
        #expect(transaction.state == .confirmed && transaction.receive(invite).isEmpty && transaction.receive(ack).isEmpty)
        #expect(transaction.timerFired(.i) == [.terminated])
    }

    @Test func withoutAnAckTimerHEndsIt() {
        let invite = Fixtures.request("INVITE")
        var transaction = SIPServerTransaction(request: invite, reliable: false)
        _ = transaction.start()
        _ = transaction.respond(Fixtures.response(603, to: invite))
        #expect(transaction.timerFired(.h) == [.cancelTimer(.g), .ackNotReceived, .terminated])
    }

    @Test func a2xxMovesToAcceptedWhichAbsorbsRetransmissions() {
        let invite = Fixtures.request("INVITE")
        var transaction = SIPServerTransaction(request: invite, reliable: true)
        _ = transaction.start()
        let ok = Fixtures.response(200, to: invite)
        #expect(transaction.respond(ok) == [.send(.response(ok)), .startTimer(.l, .seconds(32))])
        #expect(transaction.receive(invite).isEmpty)
        #expect(transaction.respond(ok) == [.send(.response(ok))], "the UAS core's 2xx retransmissions pass")
        #expect(transaction.timerFired(.l) == [.terminated])
    }

    @Test func nonInviteAnswersRetransmissionsWithItsLastResponse() {
        let bye = Fixtures.request("BYE", cseq: 2)
        var transaction = SIPServerTransaction(request: bye, reliable: false)
        #expect(transaction.start() == [.deliver(.request(bye))])
        #expect(transaction.receive(bye).isEmpty, "Trying: nothing to resend yet")
        let ok = Fixtures.response(200, to: bye)
        #expect(transaction.respond(ok) == [.send(.response(ok)), .startTimer(.j, .seconds(32))])
        #expect(transaction.receive(bye) == [.send(.response(ok))])
        #expect(transaction.timerFired(.j) == [.terminated])
        var overTCP = SIPServerTransaction(request: bye, reliable: true)
        _ = overTCP.start()
        #expect(overTCP.respond(ok).contains(.startTimer(.j, .zero)))
    }
}

@Suite struct SIPTransactionKeyTests {
    @Test func matchingRules() {
        let invite = Fixtures.request("INVITE")
        let ack = Fixtures.request("ACK")
        let cancel = Fixtures.request("CANCEL")
        #expect(SIPTransactionKey.server(ack) == SIPTransactionKey.server(invite), "the ACK of a non-2xx matches its INVITE")
        #expect(SIPTransactionKey.server(cancel) != SIPTransactionKey.server(invite), "CANCEL is a transaction of its own")
        #expect(SIPTransactionKey.server(Fixtures.request("INVITE", branch: "z9hG4bKother")) != SIPTransactionKey.server(invite))
        #expect(SIPTransactionKey.client(Fixtures.response(180, to: invite)) == SIPTransactionKey.client(invite))
        #expect(SIPTransactionKey.client(Fixtures.response(200, to: cancel)) != SIPTransactionKey.client(invite))
        // RFC 2543 requests (no magic cookie) match by their other fields.
        let old = Fixtures.request("INVITE", branch: "oldbranch")
        #expect(SIPTransactionKey.server(old) == SIPTransactionKey.server(Fixtures.request("INVITE", branch: "oldbranch")))
        #expect(SIPTransactionKey.server(old) != SIPTransactionKey.server(Fixtures.request("INVITE", branch: "oldbranch", cseq: 2)))
    }
}

@Suite struct TimerWheelTests {
    @Test func everyTimerFiresOnceNeverEarlyAndCancelledOnesNever() {
        var generator = SystemRandomNumberGenerator()
        let start = MediaInstant(nanoseconds: 1_000_000_000)
        var wheel = TimerWheel<Int>(tick: .milliseconds(10), slots: 1024, now: start)
        var deadlines: [Int: MediaInstant] = [:]
        var handles: [TimerWheel<Int>.Handle] = []
        for id in 0..<100_000 {
            // Up to 40 s: several turns of a 10.24 s wheel.
            let deadline = start.advanced(by: .milliseconds(Int.random(in: 1...40_000, using: &generator)))
            deadlines[id] = deadline
            handles.append(wheel.schedule(id, at: deadline))
        }
        #expect(wheel.count == 100_000)
        for id in stride(from: 0, to: 100_000, by: 2) { #expect(wheel.cancel(handles[id]) == id) }
        #expect(wheel.cancel(handles[0]) == nil, "cancelling twice is harmless")
        var fired: [Int: MediaInstant] = [:]
        var now = start
        while now < start.advanced(by: .seconds(41)) {
            now = now.advanced(by: .milliseconds(Int.random(in: 1...50, using: &generator)))
            wheel.advance(to: now) { id in
                #expect(fired[id] == nil, "fired twice: \(id)")
                fired[id] = now
            }
        }
        #expect(fired.count == 50_000 && fired.keys.allSatisfy { $0 % 2 == 1 })
        for (id, at) in fired {
            let deadline = deadlines[id]!
            #expect(at >= deadline, "timer \(id) fired early")
            #expect(deadline.duration(to: at) < .milliseconds(60), "timer \(id) fired late")
        }
        #expect(wheel.count == 0)
    }

    @Test func aLongPauseFiresEverythingDueAndSlotsAreReused() {
        let start = MediaInstant(nanoseconds: 0)
        var wheel = TimerWheel<String>(tick: .milliseconds(10), slots: 64, now: start)
        wheel.schedule("soon", at: start.advanced(by: .milliseconds(30)))
        wheel.schedule("later", at: start.advanced(by: .seconds(100)))
        var fired: [String] = []
        wheel.advance(to: start.advanced(by: .seconds(50))) { fired.append($0) }
        #expect(fired == ["soon"] && wheel.count == 1)
        let handle = wheel.schedule("again", at: start.advanced(by: .seconds(51)))
        wheel.advance(to: start.advanced(by: .seconds(200))) { fired.append($0) }
        #expect(Set(fired) == ["soon", "later", "again"] && wheel.count == 0)
        #expect(wheel.cancel(handle) == nil)
    }
}

@Suite struct SIPResponseConstructionTests {
    /// RFC 3261 §8.2.6.2 and §12.1.1: Via, From, To, Call-ID and CSeq always; Record-Route, in order, only on a
    /// response that can establish a dialog (101-299 to an INVITE).
    @Test func dialogFormingResponsesCarryTheRecordRoute() {
        var invite = Fixtures.request("INVITE")
        invite.headers.add("Record-Route", "<sip:p2.example.com;lr>, <sip:p2b.example.com;lr;r2=on>")
        invite.headers.add("Record-Route", "<sip:p1.example.com;lr>")
        for code in [180, 183, 200] {
            let response = SIPServerTransaction.response(to: invite, statusCode: code, reasonPhrase: "R")
            #expect(response.headers["Record-Route"] == ["<sip:p2.example.com;lr>, <sip:p2b.example.com;lr;r2=on>", "<sip:p1.example.com;lr>"])
            #expect(response.headers.first("Call-ID") == invite.headers.first("Call-ID") && response.headers["Via"] == invite.headers["Via"])
        }
        for code in [100, 486] {
            #expect(SIPServerTransaction.response(to: invite, statusCode: code, reasonPhrase: "R").headers["Record-Route"].isEmpty)
        }
        var bye = Fixtures.request("BYE")
        bye.headers.add("Record-Route", "<sip:p1.example.com;lr>")
        #expect(SIPServerTransaction.response(to: bye, statusCode: 200, reasonPhrase: "OK").headers["Record-Route"].isEmpty)
    }
}
