import AnswerNinjaCore
import SIPAuth
import SIPMessages
import Testing

@Suite struct DigestTests {
    /// RFC 7616 §3.9.1: the same request digested with MD5 and with SHA-256.
    @Test(arguments: [
        (DigestAlgorithm.md5, "8ca523f5e9506fed4657c9700eebdbec"),
        (.sha256, "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"),
    ])
    func rfc7616Examples(algorithm: DigestAlgorithm, expected: String) {
        let ha1 = DigestComputation.ha1(username: "Mufasa", realm: "http-auth@example.org", password: "Circle of Life", algorithm: algorithm)
        let response = DigestComputation.response(
            ha1: ha1, algorithm: algorithm, nonce: "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", method: "GET", uri: "/dir/index.html",
            qopAuth: true, nonceCount: 1, cnonce: "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"
        )
        #expect(response == expected)
    }

    /// RFC 2617 §3.5.
    @Test func rfc2617Example() {
        let ha1 = DigestComputation.ha1(username: "Mufasa", realm: "testrealm@host.com", password: "Circle Of Life", algorithm: .md5)
        let response = DigestComputation.response(
            ha1: ha1, algorithm: .md5, nonce: "dcd98b7102dd2f0e8b11d0f600bfb0c093", method: "GET", uri: "/dir/index.html", qopAuth: true,
            nonceCount: 1, cnonce: "0a4f113b"
        )
        #expect(response == "6629fae49393a05397450978507c4ef1")
    }

    @Test func challengesAndCredentialsParseAndWriteBack() throws {
        let header = #"Digest realm="atlanta.example.com", qop="auth,auth-int", nonce="84f1c1ae6cbe5ua9e8dd8d5a2e67", opaque="", stale=FALSE, algorithm=SHA-256"#
        let challenge = try DigestChallenge(parsing: header)
        #expect(challenge.realm == "atlanta.example.com" && challenge.qopAuth && challenge.algorithm == .sha256 && !challenge.stale && challenge.opaque == "")
        #expect(try DigestChallenge(parsing: challenge.headerValue) == challenge)
        #expect(throws: SIPAuthError.self) { _ = try DigestChallenge(parsing: #"Digest realm="x", nonce="y", algorithm=SHA-512"#) }
        #expect(throws: SIPAuthError.self) { _ = try DigestChallenge(parsing: #"Basic realm="x""#) }
        #expect(throws: SIPAuthError.self) { _ = try DigestChallenge(parsing: #"Digest realm="x, nonce="y""#) }
        var client = DigestClient(username: "bob", password: "zanzibar")
        let credentials = client.credentials(for: challenge, method: "REGISTER", uri: "sip:atlanta.example.com")
        #expect(try DigestCredentials(parsing: credentials.headerValue) == credentials)
        #expect(credentials.nonceCount == 1 && client.credentials(for: challenge, method: "REGISTER", uri: "sip:atlanta.example.com").nonceCount == 2)
        #expect(!credentials.redacted.contains(credentials.response), "the redacted form never shows the digest")
    }

    @Test(arguments: [DigestAlgorithm.md5, .sha256, .sha256Session])
    func theServerAcceptsTheRightPasswordOnceAndRefusesTheRest(algorithm: DigestAlgorithm) {
        let start = MediaInstant(nanoseconds: 1_000_000_000_000)
        var server = DigestServer(realm: "gateway.example.com", algorithm: algorithm, secret: Array("a server secret of enough bytes!".utf8))
        let store = ["alice": DigestComputation.ha1(username: "alice", realm: "gateway.example.com", password: "wonderland", algorithm: algorithm)]
        let challenge = server.challenge(now: start)
        var alice = DigestClient(username: "alice", password: "wonderland")
        let good = alice.credentials(for: challenge, method: "REGISTER", uri: "sip:gateway.example.com")
        #expect(server.verify(good, method: "REGISTER", now: start.advanced(by: .seconds(1)), ha1: { store[$0] }) == .accepted(username: "alice"))
        // The same nonce count again is a replay.
        #expect(server.verify(good, method: "REGISTER", now: start.advanced(by: .seconds(2)), ha1: { store[$0] }) == .rejected(reason: "nonce count 1 was already used"))
        #expect(server.verify(alice.credentials(for: challenge, method: "REGISTER", uri: "sip:gateway.example.com"), method: "REGISTER", now: start.advanced(by: .seconds(3)), ha1: { store[$0] }) == .accepted(username: "alice"))
        // Wrong password, wrong method, unknown user, a nonce we did not issue, an expired nonce.
        var mallory = DigestClient(username: "alice", password: "guess")
        #expect(server.verify(mallory.credentials(for: challenge, method: "REGISTER", uri: "sip:gateway.example.com"), method: "REGISTER", now: start, ha1: { store[$0] }) == .rejected(reason: "wrong digest"))
        #expect(server.verify(alice.credentials(for: challenge, method: "REGISTER", uri: "sip:gateway.example.com"), method: "INVITE", now: start, ha1: { store[$0] }) == .rejected(reason: "wrong digest"))
        var eve = DigestClient(username: "eve", password: "x")
        #expect(server.verify(eve.credentials(for: challenge, method: "REGISTER", uri: "sip:gateway.example.com"), method: "REGISTER", now: start, ha1: { store[$0] }) == .rejected(reason: "unknown user"))
        let forged = DigestChallenge(realm: "gateway.example.com", nonce: String(repeating: "0", count: 48), algorithm: algorithm)
        // A nonce not made here, with the right password: challenged again (stale), never accepted; with a wrong one, refused.
        #expect(server.verify(alice.credentials(for: forged, method: "REGISTER", uri: "sip:gateway.example.com"), method: "REGISTER", now: start, ha1: { store[$0] }) == .stale)
        #expect(server.verify(mallory.credentials(for: forged, method: "REGISTER", uri: "sip:gateway.example.com"), method: "REGISTER", now: start, ha1: { store[$0] }) == .rejected(reason: "wrong digest"))
        #expect(server.verify(alice.credentials(for: challenge, method: "REGISTER", uri: "sip:gateway.example.com"), method: "REGISTER", now: start.advanced(by: .seconds(301)), ha1: { store[$0] }) == .stale)
        // Stamped ahead of this clock by more than the skew the instances' clocks may have: stale too.
        #expect(server.verify(alice.credentials(for: challenge, method: "REGISTER", uri: "sip:gateway.example.com"), method: "REGISTER", now: start.advanced(by: .seconds(-31)), ha1: { store[$0] }) == .stale)
        #expect(server.verify(alice.credentials(for: challenge, method: "REGISTER", uri: "sip:gateway.example.com"), method: "REGISTER", now: start.advanced(by: .seconds(-29)), ha1: { store[$0] }) == .accepted(username: "alice"))
    }

    /// The gateways behind one edge: a device's answer to one gateway's 407 is a new INVITE, which the edge may give
    /// to another gateway. With the secret derived from the key they share, that one takes it; with its own, it does not.
    @Test func aNonceIsTakenByEveryGatewayOfTheSameKeyOnly() {
        let start = MediaInstant(nanoseconds: 1_000_000_000_000)
        let key = [UInt8](repeating: 7, count: 32)
        let shared = DigestServer.secret(sharedFrom: key)
        #expect(shared.count == 32 && shared != key && shared == DigestServer.secret(sharedFrom: key))
        #expect(shared != DigestServer.secret(sharedFrom: [UInt8](repeating: 8, count: 32)))
        let first = DigestServer(realm: "answer-ninja", algorithm: .md5, secret: shared)
        var second = DigestServer(realm: "answer-ninja", algorithm: .md5, secret: DigestServer.secret(sharedFrom: key))
        var stranger = DigestServer(realm: "answer-ninja", algorithm: .md5, secret: DigestServer.secret(sharedFrom: [UInt8](repeating: 9, count: 32)))
        let store = ["alice": DigestComputation.ha1(username: "alice", realm: "answer-ninja", password: "wonderland", algorithm: .md5)]
        var alice = DigestClient(username: "alice", password: "wonderland")
        let answer = alice.credentials(for: first.challenge(now: start), method: "INVITE", uri: "sip:4155550142@edge.example.com")
        #expect(second.verify(answer, method: "INVITE", now: start.advanced(by: .seconds(1)), ha1: { store[$0] }) == .accepted(username: "alice"))
        // Another key's gateway (a key being rotated) challenges it again rather than refusing it.
        #expect(stranger.verify(answer, method: "INVITE", now: start.advanced(by: .seconds(1)), ha1: { store[$0] }) == .stale)
    }
}

/// A request sent again to answer a challenge (RFC 3261 §22.2), as the gateway does with its trunk and `call`
/// with a gateway.
@Suite struct DigestRetryTests {
    @Test(arguments: [(401, "WWW-Authenticate", "Authorization"), (407, "Proxy-Authenticate", "Proxy-Authorization")])
    func aChallengedRequestGoesAgainWithCredentialsAHigherCSeqAndANewBranch(status: Int, challengeHeader: String, credentialsHeader: String) throws {
        let start = MediaInstant(nanoseconds: 1_000_000_000_000)
        var server = DigestServer(realm: "trunk.example.com", algorithm: .md5, secret: Array("a server secret of enough bytes!".utf8))
        var headers = SIPHeaders()
        headers.add("Via", SIPVia.outgoing(transport: "UDP", host: "192.0.2.1", port: 5060).serialized)
        headers.add("CSeq", "1 INVITE")
        headers.add("Call-ID", "retry@test")
        let uri = try SIPURI(parsing: "sip:+14155550142@trunk.example.com;user=phone")
        let invite = SIPRequest(method: "INVITE", uri: .sip(uri), headers: headers)
        var challenged = SIPHeaders()
        challenged.add(challengeHeader, server.challenge(now: start).headerValue)
        let via = SIPVia.outgoing(transport: "UDP", host: "192.0.2.1", port: 5060)
        var client = DigestClient(username: "+14155550100", password: "trunk-secret")
        let answered = client.authorize(invite, answering: SIPResponse(statusCode: status, reasonPhrase: "Challenge", headers: challenged), via: via)
        let retry = try #require(answered)
        #expect(retry.headers.first("CSeq") == "2 INVITE" && retry.headers.first("Call-ID") == "retry@test")
        #expect(retry.headers.first("Via") == via.serialized && retry.headers.first("Via") != invite.headers.first("Via"))
        let credentials = try DigestCredentials(parsing: try #require(retry.headers.first(credentialsHeader)))
        #expect(credentials.uri == uri.serialized)
        let ha1 = DigestComputation.ha1(username: "+14155550100", realm: "trunk.example.com", password: "trunk-secret", algorithm: .md5)
        #expect(server.verify(credentials, method: "INVITE", now: start, ha1: { _ in ha1 }) == .accepted(username: "+14155550100"))
        // No challenge to answer: nothing to send.
        let unanswerable = client.authorize(invite, answering: SIPResponse(statusCode: status, reasonPhrase: "Challenge"), via: via)
        #expect(unanswerable == nil)
    }
}
