import NIOCore
import SIPMessages
import Testing

@Suite struct SIPExtensionHeaderTests {
    @Test func sessionExpiresRAckAndReasonParseAndWrite() throws {
        let expires = try SIPSessionExpires(parsing: " 1800 ; refresher=UAS")
        #expect(expires == SIPSessionExpires(seconds: 1800, refresher: .uas) && expires.serialized == "1800;refresher=uas")
        #expect(try SIPSessionExpires(parsing: "90").refresher == nil)
        #expect(throws: SIPMessageError.self) { try SIPSessionExpires(parsing: "soon") }
        #expect(throws: SIPMessageError.self) { try SIPSessionExpires(parsing: "90;refresher=proxy") }

        let rack = try SIPRAck(parsing: "776656 1 INVITE")
        #expect(rack == SIPRAck(responseNumber: 776656, cseq: SIPCSeq(sequence: 1, method: "INVITE")) && rack.serialized == "776656 1 INVITE")
        #expect(throws: SIPMessageError.self) { try SIPRAck(parsing: "0 1 INVITE") }
        #expect(throws: SIPMessageError.self) { try SIPRAck(parsing: "12") }

        let reason = try SIPReason(parsing: #"Q.850 ;cause=16 ;text="Normal \"call\" clearing""#)
        #expect(reason == SIPReason(protocolName: "Q.850", cause: 16, text: #"Normal "call" clearing"#))
        #expect(try SIPReason(parsing: reason.serialized[...]) == reason, "written and read back")
        #expect(try SIPReason(parsing: "SIP;cause=200;text=\"Call completed elsewhere\"").cause == 200)
        #expect(throws: SIPMessageError.self) { try SIPReason(parsing: "SIP;cause=abc") }
    }

    @Test func dtmfInINFOBodies() throws {
        #expect(try SIPDTMFInfo(contentType: "application/dtmf-relay", body: Array("Signal=5\r\nDuration=160\r\n".utf8)) == SIPDTMFInfo(digit: "5", durationMilliseconds: 160))
        #expect(try SIPDTMFInfo(contentType: "Application/DTMF-Relay; charset=x", body: Array("Signal= 11\nDuration= 250".utf8))?.digit == "#")
        #expect(try SIPDTMFInfo(contentType: "application/dtmf", body: Array("*".utf8))?.digit == "*")
        #expect(try SIPDTMFInfo(contentType: "application/sdp", body: Array("v=0".utf8)) == nil, "not a DTMF body")
        #expect(throws: SIPMessageError.self) { try SIPDTMFInfo(contentType: "application/dtmf-relay", body: Array("Signal=X\r\n".utf8)) }
        #expect(throws: SIPMessageError.self) { try SIPDTMFInfo(contentType: "application/dtmf-relay", body: Array("Duration=160\r\n".utf8)) }
    }

    static func invite(_ headers: String, uri: String = "sip:+15550100;npdi@gw.example.com") -> SIPRequest {
        let text = "INVITE \(uri) SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKx\r\nMax-Forwards: 70\r\n"
            + "From: \"Robo Caller\" <sip:+15550199@carrier.example.com>;tag=a\r\nTo: <sip:+15550111@gw.example.com>\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n"
            + headers + "Content-Length: 0\r\n\r\n"
        guard case .request(let request) = try! SIPMessage(parsing: ByteBuffer(string: text)) else { fatalError() }
        return request
    }

    @Test func theCalledNumberComesFromTheHeaderTheTrunkUses() {
        let headers = "P-Called-Party-ID: <sip:+15550122@ims.example.com>\r\nDiversion: <sip:+15550133@carrier.example.com>;reason=unconditional\r\n"
            + "Diversion: <sip:+15550144@carrier.example.com>;reason=user-busy\r\n"
        let invite = Self.invite(headers)
        #expect(SIPCallIdentity(invite, calledNumberSource: .requestURI, trustedSender: false).called == "+15550100", "user parameters dropped")
        #expect(SIPCallIdentity(invite, calledNumberSource: .to, trustedSender: false).called == "+15550111")
        #expect(SIPCallIdentity(invite, calledNumberSource: .pCalledPartyID, trustedSender: false).called == "+15550122")
        #expect(SIPCallIdentity(invite, calledNumberSource: .diversion, trustedSender: false).called == "+15550133", "the most recent diversion is on top")
        let history = Self.invite("History-Info: <sip:+15550155@gw.example.com>;index=1\r\nHistory-Info: <sip:+15550100@gw.example.com>;index=1.1\r\n")
        #expect(SIPCallIdentity(history, calledNumberSource: .diversion, trustedSender: false).called == "+15550155", "History-Info when there is no Diversion")
        let plain = SIPCallIdentity(Self.invite(""), calledNumberSource: .pCalledPartyID, trustedSender: false)
        #expect(plain.called == "+15550100" && plain.calledSource == .requestURI, "a missing header falls back to the Request-URI")
        #expect(SIPCallIdentity(Self.invite("", uri: "tel:+15550177"), calledNumberSource: .requestURI, trustedSender: false).called == "+15550177")
    }

    @Test func assertedIdentityIsBelievedOnlyFromATrustedSender() {
        let invite = Self.invite("P-Asserted-Identity: <sip:+15550199;verstat=TN-Validation-Passed@carrier.example.com;user=phone>\r\n")
        let trusted = SIPCallIdentity(invite, calledNumberSource: .requestURI, trustedSender: true)
        #expect(trusted.caller == "+15550199" && trusted.callerName == "Robo Caller")
        #expect(trusted.asserted == "+15550199" && trusted.verstat == "TN-Validation-Passed")
        let untrusted = SIPCallIdentity(invite, calledNumberSource: .requestURI, trustedSender: false)
        #expect(untrusted.asserted == nil && untrusted.verstat == nil, "anyone can write a P-Asserted-Identity (RFC 3325 §5)")
        let tel = SIPCallIdentity(Self.invite("P-Asserted-Identity: <tel:+15550199;verstat=TN-Validation-Failed>\r\n"), calledNumberSource: .requestURI, trustedSender: true)
        #expect(tel.verstat == "TN-Validation-Failed")
        #expect(SIPCallIdentity(Self.invite("Privacy: id\r\n"), calledNumberSource: .requestURI, trustedSender: false).anonymous)
    }
}
