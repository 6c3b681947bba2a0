import SDP
import SRTP
import Testing

@Suite struct SessionDescriptionTests {
    /// RFC 3264 §10.1's first offer (audio and video).
    static let rfc3264Offer = """
        v=0\r
        o=alice 2890844526 2890844526 IN IP4 host.atlanta.example.com\r
        s=\r
        c=IN IP4 host.atlanta.example.com\r
        t=0 0\r
        m=audio 49170 RTP/AVP 0 8 97\r
        a=rtpmap:0 PCMU/8000\r
        a=rtpmap:8 PCMA/8000\r
        a=rtpmap:97 iLBC/8000\r
        m=video 51372 RTP/AVP 31 32\r
        a=rtpmap:31 H261/90000\r
        a=rtpmap:32 MPV/90000\r

        """

    @Test func parsesAndWritesBackTheRFC3264Offer() throws {
        let offer = try SessionDescription(parsing: Self.rfc3264Offer)
        #expect(offer.origin.username == "alice" && offer.origin.sessionVersion == 2890844526)
        #expect(offer.media.map(\.type) == ["audio", "video"])
        #expect(offer.media[0].formats == ["0", "8", "97"] && offer.media[0].rtpmap(97)?.encoding == "ilbc")
        #expect(offer.media[0].rtpmap(0)?.clockRate == 8000 && offer.media[0].direction == .sendrecv)
        #expect(try SessionDescription(parsing: offer.serialized) == offer)
    }

    @Test(arguments: [
        ("o=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\n", "must start with v=0"),
        ("v=0\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nm=audio 4000 RTP/AVP 0\r\n", "without an o= line"),
        ("v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nm=audio 70000 RTP/AVP 0\r\n", "port"),
        ("v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nm=audio 4000 RTP/AVP 200\r\n", "0-127"),
        ("v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nq=what\r\n", "unknown SDP line type"),
        ("v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nm=audio 4000 RTP/AVP 0\r\n", "no connection address"),
        ("v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN ATM 1\r\n", "malformed c="),
    ])
    func malformedSDPIsRefused(text: String, reason: String) {
        #expect {
            _ = try SessionDescription(parsing: text)
        } throws: { error in
            let error = error as? SDPError
            return error?.code == .malformed && error?.message.contains(reason) == true && error?.sipStatus == 400
        }
    }
}

@Suite struct OfferAnswerTests {
    static let answerer = SDPAnswerer(localAddress: "192.0.2.99")

    static func offer(_ media: String, connection: String = "192.0.2.10") throws -> SessionDescription {
        try SessionDescription(parsing: "v=0\r\no=- 1 1 IN IP4 \(connection)\r\ns=-\r\nc=IN IP4 \(connection)\r\nt=0 0\r\n" + media)
    }

    @Test func aG711OfferGetsTheOfferersFirstCodecAndItsEvents() throws {
        let offer = try Self.offer("m=audio 30000 RTP/AVP 8 0 101\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:30\r\n")
        let negotiation = try Self.answerer.answer(offer, localPort: 40000)
        let audio = negotiation.audio
        #expect(audio.codec == .pcma && audio.payloadType == 8 && audio.telephoneEventPayloadType == 101 && audio.ptime == 30)
        #expect(audio.remoteAddress == "192.0.2.10" && audio.remotePort == 30000 && audio.keys == nil && audio.direction == .sendrecv)
        let section = negotiation.answer.media[0]
        #expect(section.port == 40000 && section.formats == ["8", "101"] && section.proto == "RTP/AVP")
        #expect(negotiation.answer.connection?.address == "192.0.2.99" && negotiation.answer.origin.sessionVersion == 1)
        #expect(try SessionDescription(parsing: negotiation.answer.serialized) == negotiation.answer)
    }

    @Test func opusIsAlways48000Over2ChannelsWithEventsAt48000() throws {
        let offer = try Self.offer("""
            m=audio 30000 RTP/AVP 96 101 102\r
            a=rtpmap:96 opus/48000/2\r
            a=fmtp:96 useinbandfec=1\r
            a=rtpmap:101 telephone-event/8000\r
            a=rtpmap:102 telephone-event/48000\r

            """)
        let negotiation = try Self.answerer.answer(offer, localPort: 40000)
        #expect(negotiation.audio.codec == .opus && negotiation.audio.payloadType == 96 && negotiation.audio.telephoneEventPayloadType == 102)
        #expect(negotiation.answer.media[0].rtpmap(96).map { "\($0.encoding)/\($0.clockRate)/\($0.channels)" } == "opus/48000/2")
        #expect(negotiation.answer.media[0].fmtp(96) == "minptime=10;useinbandfec=1")
    }

    @Test func streamsWeDoNotTakeAreAnsweredWithPortZero() throws {
        let offer = try SessionDescription(parsing: SessionDescriptionTests.rfc3264Offer)
        let negotiation = try Self.answerer.answer(offer, localPort: 40000)
        #expect(negotiation.answer.media.count == 2)
        #expect(negotiation.answer.media[0].port == 40000 && negotiation.answer.media[0].formats == ["0"])
        #expect(negotiation.answer.media[1].port == 0 && negotiation.answer.media[1].type == "video")
        // A second audio stream is refused too: one audio stream per call.
        let two = try Self.offer("m=audio 30000 RTP/AVP 0\r\nm=audio 30002 RTP/AVP 0\r\n")
        #expect(try Self.answerer.answer(two, localPort: 40000).answer.media.map(\.port) == [40000, 0])
    }

    @Test func nothingInCommonIs488() throws {
        let offer = try Self.offer("m=audio 30000 RTP/AVP 18\r\na=rtpmap:18 G729/8000\r\nm=video 30002 RTP/AVP 31\r\n")
        #expect {
            _ = try Self.answerer.answer(offer, localPort: 40000)
        } throws: { error in
            let error = error as? SDPError
            return error?.sipStatus == 488 && error?.message.contains("no common codec (offered: g729/8000)") == true
        }
    }

    @Test func srtpTakesTheFirstSupportedSuiteAndAnswersWithAFreshKey() throws {
        let offered = SRTPKeyMaterial.random(for: .aesCM128HMACSHA1_80)
        let offer = try Self.offer("""
            m=audio 30000 RTP/SAVP 0\r
            a=crypto:1 F8_128_HMAC_SHA1_80 inline:MTIzNDU2Nzg5QUJDREUwMTIzNDU2Nzg5QUJjZGVm\r
            a=crypto:\(SDESCryptoAttribute(tag: 2, suite: .aesCM128HMACSHA1_80, material: offered).sdpValue)\r
            a=rtcp-mux\r

            """)
        let negotiation = try Self.answerer.answer(offer, localPort: 40000)
        let keys = try #require(negotiation.audio.keys)
        #expect(keys.tag == 2 && keys.suite == .aesCM128HMACSHA1_80)
        #expect(keys.remote.isEqual(to: offered) && !keys.local.isEqual(to: offered), "never the offer's key")
        let crypto = negotiation.answer.media[0].attributes("crypto")
        #expect(crypto.count == 1 && crypto[0].hasPrefix("2 AES_CM_128_HMAC_SHA1_80 inline:"))
        #expect(negotiation.answer.media[0].proto == "RTP/SAVP" && negotiation.answer.media[0].rtcpMux && negotiation.audio.rtcpMux)
        // Mandatory SRTP refuses plain RTP; SRTP off refuses SAVP.
        let strict = SDPAnswerer(capabilities: MediaCapabilities(srtp: .mandatory), localAddress: "192.0.2.99")
        #expect(throws: SDPError.self) { _ = try strict.answer(try Self.offer("m=audio 30000 RTP/AVP 0\r\n"), localPort: 40000) }
        let plain = SDPAnswerer(capabilities: MediaCapabilities(srtp: .off), localAddress: "192.0.2.99")
        #expect(throws: SDPError.self) { _ = try plain.answer(offer, localPort: 40000) }
    }

    @Test func holdAndResumeKeepThePortAndRaiseTheVersion() throws {
        let first = try Self.answerer.answer(try Self.offer("m=audio 30000 RTP/AVP 0\r\n"), localPort: 40000)
        let hold = try Self.answerer.answer(try Self.offer("m=audio 30000 RTP/AVP 0\r\na=sendonly\r\n"), localPort: 41000, previous: first)
        #expect(hold.answer.media[0].port == 40000 && hold.answer.media[0].direction == .recvonly && hold.audio.isHeld)
        #expect(hold.answer.origin.sessionID == first.answer.origin.sessionID && hold.answer.origin.sessionVersion == 2)
        let legacy = try Self.answerer.answer(try Self.offer("m=audio 30000 RTP/AVP 0\r\n", connection: "0.0.0.0"), localPort: 41000, previous: hold)
        #expect(legacy.audio.direction == .recvonly && legacy.answer.origin.sessionVersion == 3)
        let resume = try Self.answerer.answer(try Self.offer("m=audio 30000 RTP/AVP 0\r\na=sendrecv\r\n"), localPort: 41000, previous: legacy)
        #expect(resume.audio.direction == .sendrecv && resume.answer.media[0].port == 40000 && !resume.audio.isHeld)
        let inactive = try Self.answerer.answer(try Self.offer("m=audio 30000 RTP/AVP 0\r\na=inactive\r\n"), localPort: 41000, previous: resume)
        #expect(inactive.audio.direction == .inactive)
    }

    @Test(arguments: [MediaCapabilities.SRTPPolicy.off, .optional])
    func ourOffererAndAnswererAgree(policy: MediaCapabilities.SRTPPolicy) throws {
        let offerer = SDPOfferer(capabilities: MediaCapabilities(codecs: [.opus, .pcmu], srtp: policy), localAddress: "198.51.100.1")
        let offer = offerer.offer(localPort: 20000)
        let reparsed = try SessionDescription(parsing: offer.description.serialized)
        let answered = try Self.answerer.answer(reparsed, localPort: 40000)
        let accepted = try offerer.accept(try SessionDescription(parsing: answered.answer.serialized), for: offer)
        #expect(accepted.codec == .opus && answered.audio.codec == .opus && accepted.payloadType == SDPOfferer.opusPayloadType)
        #expect(accepted.telephoneEventPayloadType == SDPOfferer.telephoneEvent48000 && answered.audio.telephoneEventPayloadType == SDPOfferer.telephoneEvent48000)
        #expect(accepted.remotePort == 40000 && answered.audio.remotePort == 20000 && accepted.rtcpMux)
        if policy == .off {
            #expect(accepted.keys == nil && answered.audio.keys == nil)
        } else {
            let ours = try #require(accepted.keys), theirs = try #require(answered.audio.keys)
            #expect(ours.suite == .aeadAES128GCM && theirs.suite == .aeadAES128GCM, "the first suite offered")
            #expect(ours.local.isEqual(to: theirs.remote) && ours.remote.isEqual(to: theirs.local), "each side protects with its key, the other unprotects with it")
        }
    }
}
