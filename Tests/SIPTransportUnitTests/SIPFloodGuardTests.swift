import AnswerNinjaCore
import NIOCore
import SIPMessages
import SIPTransport
import Testing

@Suite struct SIPFloodGuardTests {
    static let start = MediaInstant(nanoseconds: 1_000_000_000_000)

    @Test func aSourceOverItsRateIsBlockedThenForgiven() {
        var guardian = SIPFloodGuard(configuration: .init(rate: 50, burst: 100, blockFor: .seconds(30)))
        // A burst of 100 passes, the 101st within the same instant blocks the source.
        for _ in 0..<100 { #expect(guardian.admit("192.0.2.7", now: Self.start) == .accept) }
        #expect(guardian.admit("192.0.2.7", now: Self.start) == .blocked)
        #expect(guardian.admit("192.0.2.7", now: Self.start.advanced(by: .seconds(29))) == .drop, "still blocked, silently")
        #expect(guardian.admit("192.0.2.8", now: Self.start) == .accept, "another source is not affected")
        #expect(guardian.admit("192.0.2.7", now: Self.start.advanced(by: .seconds(31))) == .accept, "forgiven after the block")
        #expect(guardian.dropped == 2)
    }

    @Test func aSteadySourceUnderTheRateIsNeverDropped() {
        var guardian = SIPFloodGuard(configuration: .init(rate: 50, burst: 100))
        for index in 0..<10_000 {
            // 40 messages a second for 250 s.
            #expect(guardian.admit("192.0.2.9", now: Self.start.advanced(by: .milliseconds(index * 25))) == .accept)
        }
    }

    @Test func trustedSourcesAreExemptAndTrackingIsBounded() throws {
        var guardian = SIPFloodGuard(configuration: .init(rate: 1, burst: 1, trusted: try IPAddressSet(parsing: ["198.51.100.1", "10.42.0.0/16"]), maximumSources: 100))
        for _ in 0..<1000 { #expect(guardian.admit("198.51.100.1", now: Self.start) == .accept) }
        // An edge pod's address within the trusted prefix: exempt too.
        for _ in 0..<1000 { #expect(guardian.admit("10.42.7.19", now: Self.start) == .accept) }
        for host in 0..<1000 { _ = guardian.admit("10.0.\(host / 256).\(host % 256)", now: Self.start.advanced(by: .seconds(host))) }
        #expect(guardian.dropped == 0 && guardian.trackedSources <= 100)
    }

    @Test func scannersAreRecognised() throws {
        func request(userAgent: String?, from: String = "<sip:100@192.0.2.1>;tag=1") throws -> SIPRequest {
            var text = "OPTIONS sip:100@192.0.2.2 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\nMax-Forwards: 70\r\nTo: <sip:100@192.0.2.2>\r\nFrom: \(from)\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\n"
            if let userAgent { text += "User-Agent: \(userAgent)\r\n" }
            guard case .request(let request) = try SIPMessage(parsing: ByteBuffer(string: text + "Content-Length: 0\r\n\r\n")) else { throw SIPMessageError.badRequest("not a request") }
            return request
        }
        #expect(SIPFloodGuard.isScanner(try request(userAgent: "friendly-scanner")))
        #expect(SIPFloodGuard.isScanner(try request(userAgent: "sipcli/v1.8")))
        #expect(SIPFloodGuard.isScanner(try request(userAgent: nil, from: "\"sipvicious\" <sip:100@1.1.1.1>;tag=1")))
        #expect(!SIPFloodGuard.isScanner(try request(userAgent: "baresip v1.0.0")))
        #expect(!SIPFloodGuard.isScanner(try request(userAgent: nil)))
    }
}
