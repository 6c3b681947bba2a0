import Capture
import NIOCore
import RTP
import Testing

@Suite struct CaptureFileTests {
    static let payload = ByteBuffer(bytes: Array("answer-ninja".utf8))
    static let rawFrame = PcapWriter.ipv4UDP(from: ([10, 0, 0, 1], 4000), to: ([10, 0, 0, 2], 5000), payload: payload)

    @Test(arguments: [(Endianness.little, false), (.little, true), (.big, false), (.big, true)])
    func pcapInEveryByteOrderAndResolution(endianness: Endianness, nanoseconds: Bool) throws {
        let writer = PcapWriter(linkType: .raw, nanosecondResolution: nanoseconds, endianness: endianness)
        var file = ByteBuffer()
        writer.writeHeader(to: &file)
        writer.write(frame: Self.rawFrame, timestamp: 1_700_000_000_123_456_789, to: &file)
        writer.write(frame: Self.rawFrame, timestamp: 1_700_000_001_000_000_000, to: &file)
        let (format, frames) = try CaptureFileParser.parse(file)
        #expect(format == .pcap && frames.count == 2)
        #expect(frames[0].timestamp == (nanoseconds ? 1_700_000_000_123_456_789 : 1_700_000_000_123_456_000))
        let datagram = try #require(UDPDatagram(frame: frames[1]))
        #expect(datagram.source == .init(address: "10.0.0.1", port: 4000) && datagram.destination.port == 5000)
        #expect(datagram.payload == Self.payload)
    }

    /// A pcapng file with two interfaces: Ethernet at microseconds (the default) and raw IP at nanoseconds.
    static func pcapng(endianness: Endianness) -> ByteBuffer {
        var file = ByteBuffer()
        func block(_ type: UInt32, _ body: ByteBuffer) {
            let length = UInt32(12 + (body.readableBytes + 3) / 4 * 4)
            file.writeInteger(type, endianness: endianness)
            file.writeInteger(length, endianness: endianness)
            file.writeImmutableBuffer(body)
            file.writeRepeatingByte(0, count: Int(length) - 12 - body.readableBytes)
            file.writeInteger(length, endianness: endianness)
        }
        var section = ByteBuffer()
        section.writeInteger(UInt32(0x1A2B_3C4D), endianness: endianness)
        section.writeInteger(UInt16(1), endianness: endianness)
        section.writeInteger(UInt16(0), endianness: endianness)
        section.writeInteger(Int64(-1), endianness: endianness)
        block(0x0A0D_0D0A, section)
        var ethernet = ByteBuffer()
        ethernet.writeInteger(UInt16(1), endianness: endianness)
        ethernet.writeInteger(UInt16(0), endianness: endianness)
        ethernet.writeInteger(UInt32(65535), endianness: endianness)
        block(1, ethernet)
        var raw = ByteBuffer()
        raw.writeInteger(UInt16(101), endianness: endianness)
        raw.writeInteger(UInt16(0), endianness: endianness)
        raw.writeInteger(UInt32(65535), endianness: endianness)
        raw.writeInteger(UInt16(9), endianness: endianness)  // if_tsresol = 10^-9
        raw.writeInteger(UInt16(1), endianness: endianness)
        raw.writeBytes([9, 0, 0, 0])
        raw.writeInteger(UInt32(0), endianness: endianness)  // opt_endofopt
        block(1, raw)
        func packet(interface: UInt32, units: UInt64, frame: ByteBuffer) {
            var body = ByteBuffer()
            body.writeInteger(interface, endianness: endianness)
            body.writeInteger(UInt32(units >> 32), endianness: endianness)
            body.writeInteger(UInt32(truncatingIfNeeded: units), endianness: endianness)
            body.writeInteger(UInt32(frame.readableBytes), endianness: endianness)
            body.writeInteger(UInt32(frame.readableBytes), endianness: endianness)
            body.writeImmutableBuffer(frame)
            block(6, body)
        }
        var ethernetFrame = ByteBuffer(bytes: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x81, 0x00, 0x00, 0x05, 0x08, 0x00])
        ethernetFrame.writeImmutableBuffer(rawFrame)
        packet(interface: 0, units: 1_700_000_000_000_001, frame: ethernetFrame)
        packet(interface: 1, units: 1_700_000_000_000_000_007, frame: rawFrame)
        block(5, ByteBuffer(bytes: [0, 0, 0, 0]))  // an interface statistics block, skipped
        return file
    }

    @Test(arguments: [Endianness.little, .big])
    func pcapngWithSeveralInterfacesAndResolutions(endianness: Endianness) throws {
        let (format, frames) = try CaptureFileParser.parse(Self.pcapng(endianness: endianness))
        #expect(format == .pcapng && frames.count == 2)
        #expect(frames[0].timestamp == 1_700_000_000_000_001_000 && frames[0].linkType == .ethernet)
        #expect(frames[1].timestamp == 1_700_000_000_000_000_007 && frames[1].linkType == .raw && frames[1].interface == 1)
        for frame in frames {
            #expect(UDPDatagram(frame: frame)?.payload == Self.payload, "VLAN-tagged Ethernet and raw IP both decode")
        }
    }

    @Test func linuxCookedAndIPv6WithAnExtensionHeader() throws {
        var ipv6 = ByteBuffer()
        ipv6.writeMultipleIntegers(UInt32(0x6000_0000), UInt16(8 + 8 + Self.payload.readableBytes), UInt8(60), UInt8(64))  // next: destination options
        ipv6.writeBytes([0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 11) + [1])
        ipv6.writeBytes([UInt8](repeating: 0, count: 15) + [1])
        ipv6.writeBytes([17, 0, 1, 4, 0, 0, 0, 0])  // destination options: next UDP, 8 bytes
        ipv6.writeMultipleIntegers(UInt16(1234), UInt16(5678), UInt16(8 + Self.payload.readableBytes), UInt16(0))
        ipv6.writeImmutableBuffer(Self.payload)
        var sll = ByteBuffer(bytes: [0, 0, 0, 1, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0x86, 0xDD])
        sll.writeImmutableBuffer(ipv6)
        let datagram = try #require(UDPDatagram(frame: .init(timestamp: 0, linkType: .linuxCooked, data: sll)))
        #expect(datagram.source.address == "2001:db8::1" && datagram.destination.address == "::1")
        #expect(datagram.source.description == "[2001:db8::1]:1234" && datagram.payload == Self.payload)
        var sll2 = ByteBuffer(bytes: [0x08, 0x00] + [UInt8](repeating: 0, count: 18))
        sll2.writeImmutableBuffer(Self.rawFrame)
        #expect(UDPDatagram(frame: .init(timestamp: 0, linkType: .linuxCookedV2, data: sll2))?.payload == Self.payload)
        var null = ByteBuffer(bytes: [2, 0, 0, 0])
        null.writeImmutableBuffer(Self.rawFrame)
        #expect(UDPDatagram(frame: .init(timestamp: 0, linkType: .null, data: null))?.payload == Self.payload)
    }

    @Test func brokenFilesAreClearErrors() {
        #expect { try CaptureFileParser.parse(ByteBuffer(bytes: [1, 2])) } throws: { ($0 as? CaptureError)?.code == .notACapture }
        #expect { try CaptureFileParser.parse(ByteBuffer(string: "GIF89a....")) } throws: { ($0 as? CaptureError)?.code == .notACapture }
        var file = ByteBuffer()
        let writer = PcapWriter(linkType: .raw)
        writer.writeHeader(to: &file)
        writer.write(frame: Self.rawFrame, timestamp: 0, to: &file)
        let cut = file.getSlice(at: 0, length: file.readableBytes - 5)!
        #expect { try CaptureFileParser.parse(cut) } throws: { ($0 as? CaptureError)?.code == .truncated }
        let pcapng = Self.pcapng(endianness: .little)
        for length in stride(from: 4, to: pcapng.readableBytes, by: 7) {
            // Never a crash: either an error or the frames before the cut.
            _ = try? CaptureFileParser.parse(pcapng.getSlice(at: 0, length: length)!)
        }
    }

    @Test func wavRoundTrips() throws {
        let wav = WAVFile(sampleRate: 8000, samples: (0..<800).map { Int16(truncatingIfNeeded: $0 * 37) })
        var buffer = ByteBuffer()
        wav.write(to: &buffer)
        #expect(buffer.readableBytes == 44 + 1600)
        #expect(try WAVFile(parsing: buffer) == wav)
        #expect(wav.durationSeconds == 0.1)
        #expect { try WAVFile(parsing: ByteBuffer(string: "RIFF\0\0\0\0AVI ")) } throws: { ($0 as? CaptureError)?.code == .badWAV }
    }
}

@Suite struct RTPStreamAnalyzerTests {
    /// 50 PCMU packets at 20 ms (two lost, one duplicated, one late) and a DTMF "7" on payload type 101.
    func capture() -> ByteBuffer {
        let writer = PcapWriter(linkType: .raw)
        var file = ByteBuffer()
        writer.writeHeader(to: &file)
        var frames: [(Int64, ByteBuffer)] = []
        func rtp(_ packet: RTPPacket, at time: Int64, port: UInt16 = 4000) {
            var payload = ByteBuffer()
            packet.write(to: &payload)
            frames.append((time, PcapWriter.ipv4UDP(from: ([10, 0, 0, 1], port), to: ([10, 0, 0, 2], 5000), payload: payload)))
        }
        let base: Int64 = 1_700_000_000_000_000_000
        for sequence in UInt16(0)..<50 where sequence != 10 && sequence != 11 {
            let packet = RTPPacket(payloadType: 0, sequenceNumber: 1000 + sequence, timestamp: 160 * UInt32(sequence), ssrc: 0xAB, payload: ByteBuffer(repeating: 0xFF, count: 160))
            rtp(packet, at: base + Int64(sequence) * 20_000_000 + (sequence == 20 ? 45_000_000 : 0))
            if sequence == 30 { rtp(packet, at: base + Int64(sequence) * 20_000_000 + 1_000_000) }
        }
        var sequence: UInt16 = 7
        for event in TelephoneEventSender.packets(digit: "7", startTimestamp: 8000, duration: 800, packetInterval: 160) {
            var payload = ByteBuffer()
            event.event.write(to: &payload)
            rtp(RTPPacket(marker: event.marker, payloadType: 101, sequenceNumber: sequence, timestamp: event.timestamp, ssrc: 0xCD, payload: payload), at: base + Int64(sequence) * 20_000_000, port: 4002)
            sequence += 1
        }
        for (time, frame) in frames.sorted(by: { $0.0 < $1.0 }) { writer.write(frame: frame, timestamp: time, to: &file) }
        return file
    }

    @Test func streamsLossDuplicatesJitterAndDTMF() throws {
        let inspection = try CaptureInspection(file: capture())
        #expect(inspection.streams.count == 2)
        let audio = try #require(inspection.streams.first { $0.ssrc == 0xAB })
        #expect(audio.payloadName == "PCMU" && audio.packets == 49)  // 48 + 1 duplicate
        #expect(audio.lost == 2 && audio.duplicates == 1)
        #expect(audio.maxDeltaMs > 40)  // packet 20 arrived 45 ms late
        #expect(audio.maxJitterMs > 1)
        let wav = try #require(inspection.audio(of: audio))
        #expect(wav.samples.count == 50 * 160, "the two lost packets become silence")
        let events = try #require(inspection.streams.first { $0.ssrc == 0xCD })
        #expect(events.dtmf.map(\.digit) == ["7"])
        #expect(events.dtmf.first?.durationMs == 100)
        #expect(inspection.audio(of: events) == nil)
    }

    @Test func payloadTypeMappings() throws {
        var map = PayloadTypeMap.standard
        try map.apply("96=opus")
        try map.apply("100=telephone-event/48000")
        #expect(map[96] == .init(name: "opus", clockRate: 48000))
        #expect(map[100]?.clockRate == 48000)
        #expect { try map.apply("200=x/8000") } throws: { ($0 as? CaptureError)?.code == .malformed }
        #expect { try map.apply("97=mystery") } throws: { ($0 as? CaptureError)?.message.contains("give the clock rate") == true }
    }
}
