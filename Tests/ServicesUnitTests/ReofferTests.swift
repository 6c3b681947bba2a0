@testable import AnswerNinjaServices
import SDP
import Testing

/// The offer that brings a caller's media back from the media role (the take-over's re-INVITE) continues the session
/// the caller knows: the same origin one version on, and every m-line in its place (RFC 3264 §8).
@Suite struct ReofferTests {
    /// What we answered before: the caller offered video first (refused) and audio second.
    static let previous = """
        v=0\r
        o=- 7001 3 IN IP4 192.0.2.5\r
        s=-\r
        c=IN IP4 192.0.2.5\r
        t=0 0\r
        m=video 0 RTP/AVP 96\r
        a=rtpmap:96 H264/90000\r
        m=audio 24000 RTP/AVP 0 101\r
        a=rtpmap:0 PCMU/8000\r
        a=rtpmap:101 telephone-event/8000\r
        a=sendrecv\r

        """

    @Test func everyMLineStaysInItsPlaceAndTheAnswerIsReadFromOurs() throws {
        let offerer = SDPOfferer(capabilities: MediaCapabilities(codecs: [.pcmu], srtp: .off), localAddress: "192.0.2.9")
        var offer = offerer.offer(localPort: 30_000)
        offer.description = SIPUserAgent.reoffer(offer.description, continuing: try SessionDescription(parsing: Self.previous))
        #expect(offer.description.origin.sessionID == "7001" && offer.description.origin.sessionVersion == 4, "\(offer.description.origin)")
        #expect(offer.description.media.map(\.type) == ["video", "audio"])
        #expect(offer.description.media[0].port == 0)
        #expect(offer.description.media[1].port == 30_000)
        // The caller answers in the same places: video still refused, audio from its new port.
        let answer = try SessionDescription(parsing: """
            v=0\r
            o=caller 1 2 IN IP4 198.51.100.7\r
            s=-\r
            c=IN IP4 198.51.100.7\r
            t=0 0\r
            m=video 0 RTP/AVP 96\r
            m=audio 41000 RTP/AVP 0\r
            a=rtpmap:0 PCMU/8000\r

            """)
        let audio = try offerer.accept(answer, for: offer)
        #expect(audio.remotePort == 41_000 && audio.remoteAddress == "198.51.100.7" && audio.codec == .pcmu)
    }

    @Test func aSessionOfAudioAloneStaysOneLine() throws {
        let offerer = SDPOfferer(capabilities: MediaCapabilities(codecs: [.pcmu], srtp: .off), localAddress: "192.0.2.9")
        let previous = try SessionDescription(parsing: "v=0\r\no=- 5 1 IN IP4 192.0.2.5\r\ns=-\r\nc=IN IP4 192.0.2.5\r\nt=0 0\r\nm=audio 24000 RTP/AVP 0\r\n")
        let offer = SIPUserAgent.reoffer(offerer.offer(localPort: 30_000).description, continuing: previous)
        #expect(offer.media.count == 1 && offer.media[0].port == 30_000 && offer.origin.sessionVersion == 2)
    }
}
