@testable import AnswerNinjaServices
import NIOCore
import SIPMessages
import Testing

/// The pure half of `replay`: a captured caller's requests rewritten for a live target.
@Suite struct SIPReplayRewriterTests {
    static func request(_ text: String) throws -> SIPRequest {
        let message = try SIPMessage(parsing: ByteBuffer(string: text.replacingOccurrences(of: "\n", with: "\r\n")))
        return try #require({ if case .request(let request) = message { request } else { nil } }())
    }

    static let sdp = "v=0\no=- 1 1 IN IP4 10.0.0.7\ns=-\nc=IN IP4 10.0.0.7\nt=0 0\nm=audio 41000 RTP/AVP 0\na=rtpmap:0 PCMU/8000\n"

    @Test func requestsAreRewrittenConsistently() throws {
        let invite = try Self.request("""
            INVITE sip:demo@10.0.0.1:5060;transport=udp SIP/2.0
            Via: SIP/2.0/UDP 10.0.0.7:25090;branch=z9hG4bKorig1;rport
            Route: <sip:edge.example.net;lr>
            From: <sip:caller@10.0.0.7>;tag=fromtag1
            To: <sip:demo@10.0.0.1>
            Call-ID: original-call-id
            CSeq: 1 INVITE
            Max-Forwards: 70
            Contact: <sip:caller@10.0.0.7:25090>
            Content-Type: application/sdp
            Content-Length: \(Self.sdp.replacingOccurrences(of: "\n", with: "\r\n").utf8.count)

            \(Self.sdp)
            """)
        var rewriter = SIPReplayRewriter(local: ("127.0.0.1", 40001), target: ("127.0.0.5", 5070), mediaPort: 40002)
        let sent = rewriter.rewrite(invite)
        #expect(sent.uri.description == "sip:demo@127.0.0.5:5070")
        let via = try #require(sent.headers.first("Via"))
        #expect(via.hasPrefix("SIP/2.0/UDP 127.0.0.1:40001;branch=z9hG4bK") && !via.contains("orig1"))
        #expect(sent.headers.first("Route") == nil)
        #expect(sent.headers.first("Call-ID")?.hasSuffix("@replay") == true && sent.headers.first("Call-ID") != "original-call-id")
        #expect(sent.headers.first("From")?.contains("tag=fromtag1") == false)
        #expect(sent.headers.first("Contact") == "<sip:caller@127.0.0.1:40001>")
        let body = String(buffer: sent.body)
        #expect(body.contains("c=IN IP4 127.0.0.1\r\n") && body.contains("o=- 1 1 IN IP4 127.0.0.1\r\n") && body.contains("m=audio 40002 RTP/AVP 0\r\n"), "\(body.debugDescription)")
        #expect(!SIPReplayRewriter.needsRemoteTag(invite))

        // A CANCEL keeps its INVITE's new branch, Call-ID and From tag.
        var cancelText = "CANCEL sip:demo@10.0.0.1:5060 SIP/2.0\nVia: SIP/2.0/UDP 10.0.0.7:25090;branch=z9hG4bKorig1;rport\n"
        cancelText += "From: <sip:caller@10.0.0.7>;tag=fromtag1\nTo: <sip:demo@10.0.0.1>\nCall-ID: original-call-id\nCSeq: 1 CANCEL\nMax-Forwards: 70\nContent-Length: 0\n\n"
        let cancel = rewriter.rewrite(try Self.request(cancelText))
        #expect(cancel.headers.first("Via") == via && cancel.headers.first("Call-ID") == sent.headers.first("Call-ID"))
        #expect(cancel.headers.first("From") == sent.headers.first("From"))

        // The BYE waits for the target's tag, then carries it in place of the captured one.
        var byeText = "BYE sip:demo@10.0.0.1:5060 SIP/2.0\nVia: SIP/2.0/UDP 10.0.0.7:25090;branch=z9hG4bKorig2;rport\n"
        byeText += "From: <sip:caller@10.0.0.7>;tag=fromtag1\nTo: <sip:demo@10.0.0.1>;tag=capturedtag\nCall-ID: original-call-id\nCSeq: 2 BYE\nMax-Forwards: 70\nContent-Length: 0\n\n"
        let bye = try Self.request(byeText)
        #expect(SIPReplayRewriter.needsRemoteTag(bye))
        var headers = SIPHeaders()
        for name in ["Via", "From", "Call-ID", "CSeq"] { headers.add(name, sent.headers.first(name) ?? "") }
        headers.add("To", "<sip:demo@10.0.0.1>;tag=livetag")
        let ok = SIPResponse(statusCode: 200, reasonPhrase: "OK", headers: headers)
        rewriter.learn(ok)
        let liveBye = rewriter.rewrite(bye)
        #expect(liveBye.headers.first("To") == "<sip:demo@10.0.0.1>;tag=livetag")
        #expect(liveBye.headers.first("Via") != via, "a new transaction, a new branch")
    }
}
