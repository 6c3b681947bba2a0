import NIOCore
import RTP
import Testing

@Suite struct RTPPacketTests {
    /// V=2 P=1 X=1 CC=2, M=1 PT=0, seq 0x1234, ts 0xDEADBEEF, ssrc 0x01020304, two CSRCs, a one-byte extension
    /// with elements 1 (1 byte) and 3 (2 bytes), a 4-byte payload and 3 bytes of padding.
    static let bytes: [UInt8] = [
        0xB2, 0x80, 0x12, 0x34, 0xDE, 0xAD, 0xBE, 0xEF, 0x01, 0x02, 0x03, 0x04,
        0x00, 0x00, 0x00, 0x0A, 0x00, 0x00, 0x00, 0x0B,
        0xBE, 0xDE, 0x00, 0x02, 0x10, 0xAA, 0x31, 0xBB, 0xCC, 0x00, 0x00, 0x00,
        0xFF, 0xFE, 0xFD, 0xFC,
        0x00, 0x00, 0x03,
    ]

    @Test func parsesEveryFieldAndSlicesThePayload() throws {
        let packet = try RTPPacket(parsing: ByteBuffer(bytes: Self.bytes))
        #expect(packet.marker && packet.payloadType == 0)
        #expect(packet.sequenceNumber == 0x1234 && packet.timestamp == 0xDEAD_BEEF && packet.ssrc == 0x0102_0304)
        #expect(packet.csrcCount == 2 && packet.csrc(at: 0) == 10 && packet.csrc(at: 1) == 11 && packet.csrc(at: 2) == nil)
        #expect(packet.payload == ByteBuffer(bytes: [0xFF, 0xFE, 0xFD, 0xFC]))
        #expect(packet.paddingCount == 3)
        let elements = try #require(packet.headerExtension).elements()
        #expect(elements == [.init(id: 1, data: ByteBuffer(bytes: [0xAA])), .init(id: 3, data: ByteBuffer(bytes: [0xBB, 0xCC]))])
    }

    @Test func serializesBackByteForByte() throws {
        let packet = try RTPPacket(parsing: ByteBuffer(bytes: Self.bytes))
        var out = ByteBuffer()
        packet.write(to: &out)
        #expect(Array(out.readableBytesView) == Self.bytes)
        #expect(packet.serializedSize == Self.bytes.count)
    }

    @Test func everyTruncationIsATypedError() {
        for length in 0..<Self.bytes.count - 3 {
            // Cutting inside the padding changes its count, so stop before it.
            do {
                let packet = try RTPPacket(parsing: ByteBuffer(bytes: Self.bytes[..<length]))
                Issue.record("prefix of \(length) bytes parsed as \(packet)")
            } catch {
                #expect([.truncated, .badPadding].contains(error.code), "prefix \(length): \(error)")
            }
        }
    }

    @Test func versionAndPaddingAreChecked() {
        var wrongVersion = Self.bytes
        wrongVersion[0] = 0x40
        #expect(throws: RTPError(code: .badVersion, message: "RTP version 1, expected 2")) { try RTPPacket(parsing: ByteBuffer(bytes: wrongVersion)) }
        var zeroPadding = Self.bytes
        zeroPadding[zeroPadding.count - 1] = 0
        #expect { try RTPPacket(parsing: ByteBuffer(bytes: zeroPadding)) } throws: { ($0 as? RTPError)?.code == .badPadding }
        var hugePadding = Self.bytes
        hugePadding[hugePadding.count - 1] = 200
        #expect { try RTPPacket(parsing: ByteBuffer(bytes: hugePadding)) } throws: { ($0 as? RTPError)?.code == .badPadding }
    }

    @Test func randomBytesNeverCrash() {
        var generator = SystemRandomNumberGenerator()
        var parsed = 0
        for _ in 0..<20_000 {
            let length = Int.random(in: 0...64, using: &generator)
            var bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            if !bytes.isEmpty { bytes[0] = 0x80 | (bytes[0] & 0x3F) }  // mostly version 2, to reach the deeper checks
            if let packet = try? RTPPacket(parsing: ByteBuffer(bytes: bytes)) {
                parsed += 1
                _ = try? packet.headerExtension?.elements()
                var out = ByteBuffer()
                packet.write(to: &out)
                #expect(out.readableBytes == packet.serializedSize)
            }
        }
        #expect(parsed > 0)
    }

    @Test func aPlainPacketIsTwelveBytesPlusPayload() throws {
        let packet = RTPPacket(payloadType: 8, sequenceNumber: 65535, timestamp: 160, ssrc: 42, payload: ByteBuffer(repeating: 0xD5, count: 160))
        var out = ByteBuffer()
        packet.write(to: &out)
        #expect(out.readableBytes == 172)
        #expect(out.getBytes(at: 0, length: 2) == [0x80, 0x08])
        #expect(try RTPPacket(parsing: out) == packet)
    }

    @Test func extensionsChooseTheirFormAndRoundTrip() throws {
        let small = try RTPHeaderExtension.make([.init(id: 5, data: ByteBuffer(bytes: [1, 2, 3]))])
        #expect(small.format == .oneByte)
        let large = try RTPHeaderExtension.make([.init(id: 20, data: ByteBuffer(bytes: [9])), .init(id: 2, data: ByteBuffer(repeating: 7, count: 20))])
        #expect(large.format == .twoByte)
        for built in [small, large] {
            let packet = RTPPacket(payloadType: 111, sequenceNumber: 1, timestamp: 2, ssrc: 3, headerExtension: built, payload: ByteBuffer(bytes: [1]))
            var out = ByteBuffer()
            packet.write(to: &out)
            #expect(out.readableBytes % 4 == 1)  // header and extension in whole words, then the 1-byte payload
            let parsed = try RTPPacket(parsing: out)
            #expect(try parsed.headerExtension?.elements() == built.elements())
        }
        let overrun = RTPHeaderExtension(profile: RTPHeaderExtension.oneByteProfile, data: ByteBuffer(bytes: [0x1F, 0x00, 0x00, 0x00]))
        #expect { try overrun.elements() } throws: { ($0 as? RTPError)?.code == .malformed }
        #expect { try RTPHeaderExtension.make([.init(id: 0, data: ByteBuffer(bytes: [1]))]) } throws: { ($0 as? RTPError)?.code == .malformed }
    }
}
