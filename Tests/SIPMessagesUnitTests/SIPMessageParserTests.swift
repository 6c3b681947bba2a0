import NIOCore
import SIPMessages
import Testing

@Suite struct SIPMessageParserTests {
    static let invite = """
        INVITE sip:+15551234567@gateway.example.com SIP/2.0\r
        Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK776asdhds;rport\r
        Max-Forwards: 70\r
        To: <sip:+15551234567@gateway.example.com>\r
        From: "Caller" <sip:+15557654321@trunk.example.com>;tag=1928301774\r
        Call-ID: a84b4c76e66710@192.0.2.10\r
        CSeq: 314159 INVITE\r
        Contact: <sip:+15557654321@192.0.2.10:5060>\r
        Content-Type: application/sdp\r
        Content-Length: 4\r
        \r
        v=0\n
        """

    static func buffer(_ text: String) -> ByteBuffer { ByteBuffer(string: text) }

    @Test func aRequestRoundTrips() throws {
        let message = try SIPMessage(parsing: Self.buffer(Self.invite))
        var wire = ByteBuffer()
        wire.writeSIPMessage(message)
        let again = try SIPMessage(parsing: wire)
        #expect(again == message)
        #expect(message.vias.first?.rport == .some(nil) && message.vias.first?.branch == "z9hG4bK776asdhds")
        #expect(String(buffer: message.body) == "v=0\n")
    }

    @Test func theStreamParserFramesMessagesByteByByteAndAllAtOnce() throws {
        var stream = ByteBuffer()
        for _ in 0..<3 { stream.writeString(Self.invite) }
        stream.writeString("\r\n\r\n")  // a keep-alive ping
        stream.writeString(Self.invite)
        // All at once.
        var parser = SIPStreamParser()
        parser.append(stream)
        var frames: [SIPStreamParser.Frame] = []
        while let frame = try parser.next() { frames.append(frame) }
        #expect(frames.count == 5 && frames[3] == .ping)
        // One byte at a time gives the same frames.
        var slow = SIPStreamParser()
        var slowFrames: [SIPStreamParser.Frame] = []
        for index in 0..<stream.readableBytes {
            slow.append(stream.getSlice(at: index, length: 1)!)
            while let frame = try slow.next() { slowFrames.append(frame) }
        }
        #expect(slowFrames == frames)
        #expect(slow.bufferedBytes == 0)
    }

    @Test func aStreamNeedsContentLength() {
        var parser = SIPStreamParser()
        parser.append(Self.buffer(Self.invite.replacingOccurrences(of: "Content-Length: 4\r\n", with: "")))
        #expect(throws: SIPMessageError.self) { _ = try parser.next() }
        #expect(throws: SIPMessageError.self) { _ = try parser.next() }  // and stays failed
    }

    @Test func limitsAreEnforcedWith513() {
        var huge = Self.invite
        huge.insert(contentsOf: "X-Padding: \(String(repeating: "a", count: SIPMessageLimits.maximumHeadLength))\r\n", at: huge.range(of: "Max-Forwards")!.lowerBound)
        #expect {
            _ = try SIPMessage(parsing: Self.buffer(huge))
        } throws: { ($0 as? SIPMessageError)?.statusCode == 513 }
        var parser = SIPStreamParser()
        parser.append(Self.buffer(huge))
        #expect { _ = try parser.next() } throws: { ($0 as? SIPMessageError)?.statusCode == 513 }
    }

    @Test(arguments: [
        ("Max-Forwards: 70\r\n", "Max-Forwards: 70\r\nMax-Forwards: 69\r\n", "Max-Forwards appears 2 times"),
        ("Call-ID: a84b4c76e66710@192.0.2.10\r\n", "", "missing Call-ID"),
        ("Content-Length: 4\r\n", "Content-Length: 4\r\nContent-Length: 5\r\n", "conflicting Content-Length"),
        ("Content-Type: application/sdp\r\n", "", "a body without a Content-Type"),
        ("Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK776asdhds;rport\r\n", "", "missing Via"),
        ("Max-Forwards: 70\r\n", "Max-Forwards: 256\r\n", "is not 0-255"),
        ("Max-Forwards: 70\r\n", "Max-Forwards 70\r\n", "without a colon"),
        ("INVITE sip:", "INVITE sip:x@example.com?subject=hi SIP/2.0\r\nX: ", "may not carry headers"),
    ])
    func whatAUASRejects(original: String, replacement: String, reason: String) {
        let text = Self.invite.replacingOccurrences(of: original, with: replacement)
        #expect {
            _ = try SIPMessage(parsing: Self.buffer(text))
        } throws: { error in
            let error = error as? SIPMessageError
            return error?.statusCode == 400 && error?.message.contains(reason) == true
        }
    }

    @Test func unknownMethodsAndSchemesParseAndGetTheirAnswer() throws {
        let unknown = try SIPMessage(parsing: Self.buffer(Self.invite.replacingOccurrences(of: "INVITE", with: "FROBNICATE")))
        guard case .request(let request) = unknown else { return }
        let verdict = SIPUASPolicy.gateway.verdict(for: request)
        #expect(verdict?.statusCode == 405 && verdict?.headers.first?.name == "Allow")
        let require = try SIPMessage(parsing: Self.buffer(Self.invite.replacingOccurrences(of: "Max-Forwards: 70\r\n", with: "Max-Forwards: 70\r\nRequire: 100rel, nosuchthing\r\n")))
        guard case .request(let withRequire) = require else { return }
        #expect(SIPUASPolicy.gateway.verdict(for: withRequire) == .init(statusCode: 420, reasonPhrase: "Bad Extension", headers: [.init(name: "Unsupported", value: "nosuchthing")]))
        let unknownType = try SIPMessage(parsing: Self.buffer(Self.invite.replacingOccurrences(of: "application/sdp", with: "application/unknownformat")))
        guard case .request(let withUnknownType) = unknownType else { return }
        #expect(SIPUASPolicy.gateway.verdict(for: withUnknownType)?.statusCode == 415)
    }

    /// A SIP-I INVITE (RFC 5621, ITU-T Q.1912.5): SDP and a binary ISUP IAM in multipart/mixed.
    @Test func multipartBodiesGiveTheirPartsBinarySafe() throws {
        let isup: [UInt8] = [0x01, 0x00, 0x60, 0x01, 0x0A, 0x00, 0x02, 0x0A, 0x08, 0x83, 0x90, 0x89, 0x06, 0x0D, 0x0A, 0x0D, 0x0A, 0xFF, 0x00]
        var body = ByteBuffer()
        body.writeString("preamble\r\n--unique-boundary-1\r\nContent-Type: application/sdp\r\n\r\nv=0\r\nm=audio 4000 RTP/AVP 8\r\n\r\n")
        body.writeString("--unique-boundary-1\r\nContent-Type: application/ISUP;version=itu-t92+\r\nContent-Disposition: signal;handling=optional\r\n\r\n")
        body.writeBytes(isup)
        body.writeString("\r\n--unique-boundary-1--\r\nepilogue")
        var message = Self.invite.replacingOccurrences(of: "Content-Type: application/sdp", with: "Content-Type: multipart/mixed;boundary=\"unique-boundary-1\"")
        message = message.replacingOccurrences(of: "Content-Length: 4\r\n\r\nv=0\n", with: "Content-Length: \(body.readableBytes)\r\n\r\n")
        var wire = Self.buffer(message)
        wire.writeBuffer(&body)
        let parsed = try SIPMessage(parsing: wire)
        let boundary = try #require(SIPMultipartBody.boundary(ofContentType: parsed.headers.first("Content-Type")!))
        let multipart = try SIPMultipartBody(parsing: parsed.body, boundary: boundary)
        #expect(multipart.parts.count == 2)
        #expect(multipart.part(ofType: "application/sdp").map { String(buffer: $0.body) } == "v=0\r\nm=audio 4000 RTP/AVP 8\r\n")
        #expect(multipart.part(ofType: "application/isup").map { Array($0.body.readableBytesView) } == isup, "binary bytes, CRLFs inside included, come out whole")
        guard case .request(let request) = parsed else { return }
        #expect(SIPUASPolicy.gateway.verdict(for: request)?.statusCode == 100)
    }

    @Test func responsesParseWithTheirReason() throws {
        let text = "SIP/2.0 180 Ringing ☎ bell\r\nVia: SIP/2.0/UDP h.example.com;branch=z9hG4bK1\r\nTo: <sip:a@example.com>;tag=2\r\nFrom: <sip:b@example.com>;tag=1\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
        guard case .response(let response) = try SIPMessage(parsing: Self.buffer(text)) else {
            Issue.record("a response")
            return
        }
        #expect(response.statusCode == 180 && response.reasonPhrase == "Ringing ☎ bell")
    }
}
