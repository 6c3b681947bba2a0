import Foundation
import NIOCore
import SIPMessages
import Testing

/// RFC 4475's torture messages (transcribed from the RFC's §3 into RFC4475/*.dat, CRLF line ends; every valid
/// message's Content-Length matches its body, which checks the transcription): the valid ones parse and get the
/// response a UAS sends first; the invalid ones are refused with the status and a reason.
@Suite struct RFC4475Tests {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("RFC4475")

    static func load(_ name: String) throws -> ByteBuffer {
        ByteBuffer(bytes: try Data(contentsOf: folder.appendingPathComponent("\(name).dat")))
    }

    /// Valid requests and the first response of our gateway's policy (405 and 416 are the application's answers).
    @Test(arguments: [
        ("wsinv", 100), ("esc01", 100), ("escnull", 200), ("esc02", 405), ("lwsdisp", 200), ("dblreq", 200), ("semiuri", 200),
        ("transports", 200), ("badbranch", 200), ("unkscm", 416), ("novelsc", 416),
    ])
    func validRequestsParse(name: String, status: Int) throws {
        let message = try SIPMessage(parsing: try Self.load(name))
        guard case .request(let request) = message else {
            Issue.record("\(name) is a request")
            return
        }
        #expect(SIPUASPolicy.gateway.verdict(for: request)?.statusCode == status, "\(name)")
        #expect(message.callID?.isEmpty == false && message.cseq != nil && message.from != nil && message.to != nil && !message.vias.isEmpty)
    }

    @Test(arguments: [
        ("badinv01", "empty parameter"), ("clerr", "Content-Length 9999"), ("ncl", "Content-Length '-999'"), ("scalar02", "CSeq number"),
        ("quotbal", "unterminated quoted"), ("ltgtruri", "< >"), ("lwsruri", "single spaces"), ("lwsstart", "single spaces"),
        ("trws", "nothing after the version"), ("escruri", "may not carry headers"), ("baddate", "RFC 1123 date"),
        ("regbadct", "enclosed in < >"), ("badaspec", "no whitespace is allowed"), ("baddn", "From holds more than one address"),
        ("mismatch01", "CSeq method INVITE is not the request's method OPTIONS"), ("mismatch02", "CSeq method"),
        ("insuf", "missing"),
    ])
    func invalidRequestsAreRefusedWithAReason(name: String, reason: String) throws {
        #expect {
            _ = try SIPMessage(parsing: try Self.load(name))
        } throws: { error in
            guard let error = error as? SIPMessageError else { return false }
            #expect(error.statusCode == 400, "\(name): \(error)")
            #expect(error.message.contains(reason), "\(name): \(error.message)")
            return true
        }
    }

    @Test func anUnknownVersionIs505() throws {
        #expect(throws: SIPMessageError.versionNotSupported("SIP/7.0")) { _ = try SIPMessage(parsing: try Self.load("badvers")) }
    }

    @Test(arguments: ["scalarlg", "bigcode"])
    func malformedResponsesAreRefused(name: String) throws {
        #expect(throws: SIPMessageError.self) { _ = try SIPMessage(parsing: try Self.load(name)) }
    }

    @Test func theTortuousInviteReadsAsTheRFCSays() throws {
        let message = try SIPMessage(parsing: try Self.load("wsinv"))
        guard case .request(let request) = message else { return }
        #expect(request.method == "INVITE")
        #expect(request.uri.sipURI?.parameters.contains("unknownparam") == true)
        #expect(message.to?.tag == "1918181833n")
        #expect(message.from?.displayName == "J Rosenberg \\\"" && message.from?.tag == "98asjd8")
        #expect(message.cseq == SIPCSeq(sequence: 9, method: "INVITE"))
        #expect(message.vias.map(\.transport) == ["UDP", "TCP", "UDP"])
        #expect(message.vias.map(\.branch) == ["390skdjuw", "z9hG4bK9ikj8", "z9hG4bK30239"])
        #expect(message.headers.first("NewFangledHeader") == "newfangled value continued newfangled value")
        #expect(message.headers.first("Subject") == "")
        let contact = try SIPNameAddress(parsing: message.headers.first("Contact")![...])
        #expect(contact.displayName == "Quoted string \"\"" && contact.parameters["q"] == "0.33" && contact.parameters["newparam"] == "newvalue")
        #expect(message.body.readableBytes == 150)
    }

    @Test func escapesAreKeptAndDecoded() throws {
        let message = try SIPMessage(parsing: try Self.load("esc01"))
        guard case .request(let request) = message else { return }
        #expect(request.uri.sipURI?.user == "sips:user@example.com")
        #expect(message.to?.uri.sipURI?.user == "user")
        #expect(message.from?.uri.sipURI?.user == "I have spaces")
        #expect(message.headers.first("Content-Type") == "application/sdp", "the compact form c is Content-Type")
        let null = try SIPMessage(parsing: try Self.load("escnull"))
        #expect(null.to?.uri.sipURI?.user == "null-\u{0}-null")
        #expect(null.headers["Contact"].count == 2)
    }

    @Test func octetsPastContentLengthInADatagramAreDiscarded() throws {
        let message = try SIPMessage(parsing: try Self.load("dblreq"))
        guard case .request(let request) = message else { return }
        #expect(request.method == "REGISTER" && message.body.readableBytes == 0)
    }
}
