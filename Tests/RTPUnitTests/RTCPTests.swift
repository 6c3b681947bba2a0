import NIOCore
import RTP
import Testing

@Suite struct RTCPTests {
    let block = RTCPReportBlock(ssrc: 7, fractionLost: 64, cumulativeLost: -5, extendedHighestSequence: 70_000, jitter: 12, lastSenderReport: 0x1234_5678, delaySinceLastSenderReport: 65536)

    @Test func compoundPacketsRoundTrip() throws {
        let compound = RTCPCompoundPacket(packets: [
            .senderReport(.init(ssrc: 1, ntpTimestamp: 0xE5A0_0000_8000_0000, rtpTimestamp: 160, packetCount: 50, octetCount: 8000, reports: [block])),
            .sourceDescription([.init(ssrc: 1, items: [.init(type: RTCPPacket.SDESItem.cname, value: "ninja@127.0.0.1")])]),
            .app(.init(subtype: 3, ssrc: 1, name: 0x4E_494E_4A, data: ByteBuffer(bytes: [1, 2, 3, 4]))),
            .bye(.init(sources: [1], reason: "call ended")),
        ])
        var out = ByteBuffer()
        compound.write(to: &out)
        #expect(out.readableBytes % 4 == 0)
        let parsed = try RTCPCompoundPacket(parsing: out)
        #expect(parsed == compound)
        // The 24-bit cumulative loss keeps its sign.
        if case .senderReport(let sr) = parsed.packets[0] { #expect(sr.reports[0].cumulativeLost == -5) }
    }

    @Test func receiverReportWithoutBlocksAndUnknownTypesArePreserved() throws {
        let compound = RTCPCompoundPacket(packets: [
            .receiverReport(.init(ssrc: 9, reports: [])),
            .other(type: 205, count: 1, body: ByteBuffer(bytes: [0, 0, 0, 9, 0, 0, 0, 7])),
        ])
        var out = ByteBuffer()
        compound.write(to: &out)
        #expect(try RTCPCompoundPacket(parsing: out) == compound)
    }

    @Test func theRulesOfAppendixA2AreEnforced() {
        // Must start with SR or RR.
        var bye = ByteBuffer()
        RTCPCompoundPacket(packets: [.bye(.init(sources: [1]))]).write(to: &bye)
        #expect { try RTCPCompoundPacket(parsing: bye) } throws: { ($0 as? RTPError)?.code == .malformed }
        // Length beyond the datagram.
        var rr = ByteBuffer()
        RTCPCompoundPacket(packets: [.receiverReport(.init(ssrc: 1, reports: [block]))]).write(to: &rr)
        let cut = rr.getSlice(at: 0, length: rr.readableBytes - 4)!
        #expect { try RTCPCompoundPacket(parsing: cut) } throws: { ($0 as? RTPError)?.code == .badLength }
        // Padding only in the last packet.
        var padded = ByteBuffer()
        RTCPCompoundPacket(packets: [.receiverReport(.init(ssrc: 1, reports: [])), .bye(.init(sources: [1]))]).write(to: &padded)
        padded.setInteger(UInt8(0xA0), at: 0)
        #expect { try RTCPCompoundPacket(parsing: padded) } throws: { ($0 as? RTPError)?.code == .badPadding }
        #expect { try RTCPCompoundPacket(parsing: ByteBuffer()) } throws: { ($0 as? RTPError)?.code == .truncated }
    }

    @Test func randomCompoundsNeverCrash() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<20_000 {
            var bytes = (0..<Int.random(in: 0...80, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            if bytes.count >= 4 {
                bytes[0] = 0x80 | (bytes[0] & 0x3F)
                bytes[1] = UInt8.random(in: 200...204, using: &generator)
            }
            _ = try? RTCPCompoundPacket(parsing: ByteBuffer(bytes: bytes))
        }
    }
}
