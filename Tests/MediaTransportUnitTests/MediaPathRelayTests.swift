import AnswerNinjaCore
import Codecs
import MediaTransport
import NIOCore
import RTP
import SRTP
import Testing

/// A bridge whose legs share a codec relays packets: the caller's leg takes each one for the device's leg
/// (`receive(forwarding: true)`), which rewrites it as its own stream and re-keys it (`relay`). Four paths: the caller,
/// our caller-side leg, our device-side leg, the device.
@Suite struct MediaPathRelayTests {
    static func keyed(_ suite: SRTPCryptoSuite, _ implementation: SRTPImplementation) throws -> (outbound: any SRTPTransform, inbound: any SRTPTransform) {
        let material = SRTPKeyMaterial.random(for: suite)
        return (try implementation.make(suite: suite, material: material, direction: .outbound), try implementation.make(suite: suite, material: material, direction: .inbound))
    }

    /// The header fields of a plain RTP packet.
    static func header(_ datagram: ByteBuffer) -> (marker: Bool, type: UInt8, sequence: UInt16, timestamp: UInt32, ssrc: UInt32) {
        let second = datagram.getInteger(at: datagram.readerIndex + 1, as: UInt8.self)!
        return (
            second & 0x80 != 0, second & 0x7F, datagram.getInteger(at: datagram.readerIndex + 2, as: UInt16.self)!,
            datagram.getInteger(at: datagram.readerIndex + 4, as: UInt32.self)!, datagram.getInteger(at: datagram.readerIndex + 8, as: UInt32.self)!
        )
    }

    @Test(arguments: SRTPImplementation.allCases)
    func packetsPassUnchangedButForTheirHeaderAndKeysAndTheDevicePlaysThem(implementation: SRTPImplementation) throws {
        // The caller's trunk leg with AEAD_AES_128_GCM, the device's with AES_CM_128_HMAC_SHA1_80: re-keyed on the way.
        let trunk = try Self.keyed(.aeadAES128GCM, implementation), phone = try Self.keyed(.aesCM128HMACSHA1_80, implementation)
        var caller = MediaPath(law: .muLaw, ssrc: 0x1111, inbound: nil, outbound: trunk.outbound)
        var callerLeg = MediaPath(law: .muLaw, ssrc: 0x2222, inbound: trunk.inbound, outbound: nil)
        var deviceLeg = MediaPath(law: .muLaw, ssrc: 0x3333, inbound: nil, outbound: phone.outbound)
        var device = MediaPath(law: .muLaw, ssrc: 0x4444, inbound: phone.inbound, outbound: nil)
        var datagram = ByteBuffer()
        var sequences: [UInt16] = [], timestamps: [UInt32] = [], markers: [Bool] = []
        // The device's leg sent three frames of its own first (an announcement): its stream goes on from there.
        var own: (sequence: UInt16, timestamp: UInt32) = (0, 0)
        for frame in 0..<3 {
            try deviceLeg.send(MediaPathTests.tone(frame)[...], into: &datagram, at: MediaPathTests.instant(Double(frame) * 20))
            #expect(device.receive(&datagram, at: MediaPathTests.instant(Double(frame) * 20 + 5)) == .buffered(.accepted))
            let header = Self.header(datagram)
            own = (header.sequence, header.timestamp)
        }
        var played: [Int16] = []
        for frame in 0..<50 {
            try caller.send(MediaPathTests.tone(frame)[...], into: &datagram)
            // Frame 20 is lost on the way in: the gap reaches the device as a gap.
            guard frame != 20 else { continue }
            var payloadSent: [UInt8] = []
            G711.encode(MediaPathTests.tone(frame)[...], law: .muLaw, into: &payloadSent)
            // Taken and relayed 100 ms after the device leg's first frame of its own, 60 ms after its last.
            let arrival = 100 + Double(frame) * 20
            #expect(callerLeg.receive(&datagram, at: MediaPathTests.instant(arrival), forwarding: true) == .forward)
            #expect(Self.header(datagram).ssrc == 0x1111, "left as the caller's plain RTP")
            #expect(try deviceLeg.relay(&datagram, event: false, at: MediaPathTests.instant(arrival)))
            #expect(device.receive(&datagram, at: MediaPathTests.instant(arrival + 5)) == .buffered(.accepted), "on time for the device's playout")
            let header = Self.header(datagram)
            #expect(header.ssrc == 0x3333 && header.type == 0)
            #expect(Array(datagram.readableBytesView.dropFirst(12)) == payloadSent, "the payload passes as it came")
            sequences.append(header.sequence)
            timestamps.append(header.timestamp)
            markers.append(header.marker)
            while let due = device.nextPlayout, due <= MediaPathTests.instant(arrival + 5) {
                device.playout(now: due)
                played += device.audio
            }
        }
        #expect(sequences.first == own.sequence &+ 1, "our sequence runs on without a jump")
        #expect(timestamps.first == own.timestamp &+ 480, "our media clock ran on through the 60 ms since our last frame")
        #expect(markers.first == true && markers.dropFirst().allSatisfy { !$0 }, "the new source is marked once")
        #expect(sequences[20] == sequences[19] &+ 2 && timestamps[20] == timestamps[19] &+ 320, "the lost frame stays a gap")
        #expect(callerLeg.jitter.statistics.received == 0, "nothing went through the caller leg's jitter buffer")
        #expect(callerLeg.statistics.received == 49 && deviceLeg.statistics.sent == 3 + 49 && device.statistics.unauthenticated == 0)
        #expect(played.count > 40 * 160 && played.contains { abs($0) > 3000 }, "the device plays the caller's tone")
    }

    @Test func digitsPassAsEventsOnTheDeviceLegsPayloadType() throws {
        var caller = try MediaPath(codec: .g711(.aLaw), ssrc: 1, inbound: nil, outbound: nil, events: 101)
        var callerLeg = try MediaPath(codec: .g711(.aLaw), ssrc: 2, inbound: nil, outbound: nil, events: 101)
        var deviceLeg = try MediaPath(codec: .g711(.aLaw), ssrc: 3, inbound: nil, outbound: nil, events: 96)
        var device = try MediaPath(codec: .g711(.aLaw), ssrc: 4, inbound: nil, outbound: nil, events: 96)
        var withoutEvents = try MediaPath(codec: .g711(.aLaw), ssrc: 5, inbound: nil, outbound: nil)
        var datagram = ByteBuffer()
        let packets = TelephoneEventSender.packets(digit: "7", startTimestamp: caller.nextTimestamp, duration: 800, packetInterval: 160)
        var types: Set<UInt8> = []
        for (index, packet) in packets.enumerated() {
            #expect(try caller.sendEvent(packet, into: &datagram))
            #expect(callerLeg.receive(&datagram, at: MediaPathTests.instant(Double(index) * 20), forwarding: true) == .event)
            var copy = datagram
            #expect(try withoutEvents.relay(&copy, event: true, at: MediaPathTests.instant(Double(index) * 20)) == false, "a leg without telephone-event sends none")
            #expect(try deviceLeg.relay(&datagram, event: true, at: MediaPathTests.instant(Double(index) * 20)))
            types.insert(Self.header(datagram).type)
            #expect(device.receive(&datagram, at: MediaPathTests.instant(Double(index) * 20 + 5)) == .event)
        }
        #expect(types == [96])
        #expect(callerLeg.takeKeyPresses().map(\.digit) == ["7"], "the bridge still knows the digit")
        #expect(device.takeKeyPresses().map(\.digit) == ["7"])
        #expect(withoutEvents.statistics.sent == 0)
    }

    @Test func aNewSourceIsMarkedAndCarriedOnFromOurLastPacket() throws {
        var deviceLeg = try MediaPath(codec: .opus(payloadType: 111), ssrc: 9, inbound: nil, outbound: nil)
        func packet(ssrc: UInt32, sequence: UInt16, timestamp: UInt32) -> ByteBuffer {
            var buffer = ByteBuffer()
            buffer.writeMultipleIntegers(UInt8(0x80), UInt8(96), sequence, timestamp, ssrc)
            buffer.writeBytes([0x78, 0x01, 0x02])
            return buffer
        }
        var first = packet(ssrc: 100, sequence: 40_000, timestamp: 7)
        #expect(try deviceLeg.relay(&first, event: false, at: MediaPathTests.instant(0)))
        let a = Self.header(first)
        #expect(a.marker && a.type == 111 && a.ssrc == 9)
        var second = packet(ssrc: 100, sequence: 40_001, timestamp: 967)
        #expect(try deviceLeg.relay(&second, event: false, at: MediaPathTests.instant(0)))
        let b = Self.header(second)
        #expect(!b.marker && b.sequence == a.sequence &+ 1 && b.timestamp == a.timestamp &+ 960)
        // A late packet of the same source would take a sequence number (an SRTP index) already passed: dropped.
        var late = packet(ssrc: 100, sequence: 39_999, timestamp: 0)
        #expect(try deviceLeg.relay(&late, event: false, at: MediaPathTests.instant(0)) == false)
        #expect(deviceLeg.statistics.relayedLate == 1 && deviceLeg.statistics.sent == 2)
        // The caller's side changed source (a re-INVITE, a transfer upstream) 100 ms later: marked, the sequence on
        // from our last, the timestamp 100 ms on (4,800 at 48 kHz).
        var other = packet(ssrc: 200, sequence: 5, timestamp: 123_456)
        #expect(try deviceLeg.relay(&other, event: false, at: MediaPathTests.instant(100)))
        let c = Self.header(other)
        #expect(c.marker && c.sequence == b.sequence &+ 1 && c.timestamp == b.timestamp &+ 4800)
        var short = ByteBuffer(bytes: [0x80, 96, 0, 1])
        #expect(try deviceLeg.relay(&short, event: false, at: MediaPathTests.instant(0)) == false, "too short to be RTP")
    }

    /// Whatever mixes into the stream — our own frames between relayed runs, a source that restarts its numbering —
    /// our sequence numbers only rise, one by one, so no SRTP index is ever used twice; each run starts marked.
    @Test func ourSequenceNumbersOnlyRiseAcrossOwnFramesAndRestarts() throws {
        var deviceLeg = MediaPath(law: .muLaw, ssrc: 7, inbound: nil, outbound: nil)
        var datagram = ByteBuffer()
        var sent: [(sequence: UInt16, timestamp: UInt32, marker: Bool)] = []
        func relayed(_ sequence: UInt16, _ timestamp: UInt32, at milliseconds: Double) throws {
            var buffer = ByteBuffer()
            buffer.writeMultipleIntegers(UInt8(0x80), UInt8(0), sequence, timestamp, UInt32(55))
            buffer.writeRepeatingByte(0xFF, count: 160)
            #expect(try deviceLeg.relay(&buffer, event: false, at: MediaPathTests.instant(milliseconds)))
            let header = Self.header(buffer)
            sent.append((header.sequence, header.timestamp, header.marker))
        }
        func own(at milliseconds: Double) throws {
            try deviceLeg.send(MediaPathTests.tone(0)[...], into: &datagram, at: MediaPathTests.instant(milliseconds))
            let header = Self.header(datagram)
            sent.append((header.sequence, header.timestamp, header.marker))
        }
        try relayed(1000, 8000, at: 0)
        try relayed(1001, 8160, at: 20)
        try own(at: 100)            // our own frame (say, silence while the peer went quiet): a new talkspurt, 80 ms on
        try relayed(1002, 8320, at: 120)  // the peer again: a new run after our frame
        try relayed(500, 4000, at: 140)   // the peer's numbering restarts 500 back: a new run, not 500 dropped packets
        try relayed(501, 4160, at: 160)
        let sequences = sent.map(\.sequence)
        #expect(zip(sequences, sequences.dropFirst()).allSatisfy { $1 == $0 &+ 1 }, "\(sequences)")
        #expect(sent.map(\.marker) == [true, false, true, true, true, false])
        #expect(sent[2].timestamp == sent[1].timestamp &+ 640, "our clock ran on 80 ms (640 at 8 kHz) to our own frame")
        #expect(sent[3].timestamp == sent[2].timestamp &+ 160 && sent[4].timestamp == sent[3].timestamp &+ 160)
        #expect(deviceLeg.statistics.relayedLate == 0)
    }

    @Test func onlyTheSameCodecRelays() {
        #expect(MediaPathCodec.g711(.muLaw).relays(to: .g711(.muLaw)))
        #expect(!MediaPathCodec.g711(.muLaw).relays(to: .g711(.aLaw)))
        #expect(MediaPathCodec.opus(payloadType: 111).relays(to: .opus(payloadType: 96)), "the payload type is rewritten")
        #expect(!MediaPathCodec.opus(payloadType: 111).relays(to: .g711(.muLaw)))
        #expect(!MediaPathCodec.g711(.aLaw).relays(to: .opus(payloadType: 111)))
    }
}
