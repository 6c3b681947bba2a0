import NIOCore
import RTP
import Testing

@Suite struct TelephoneEventTests {
    @Test func payloadRoundTripsAndMapsDigits() throws {
        let event = TelephoneEvent(event: 11, end: true, volume: 10, duration: 1280)
        var out = ByteBuffer()
        event.write(to: &out)
        #expect(Array(out.readableBytesView) == [11, 0x8A, 0x05, 0x00])
        #expect(try TelephoneEvent(parsing: out) == event)
        #expect(TelephoneEvent.digit(for: 11) == "#" && TelephoneEvent.digit(for: 10) == "*" && TelephoneEvent.digit(for: 15) == "D")
        #expect(TelephoneEvent.digit(for: 16) == nil)
        #expect(TelephoneEvent.event(for: "a") == 12)
        #expect { try TelephoneEvent(parsing: ByteBuffer(bytes: [1, 2, 3])) } throws: { ($0 as? RTPError)?.code == .truncated }
    }

    @Test func threeEndPacketsGiveOneDigit() {
        var receiver = TelephoneEventReceiver()
        var pressed: [TelephoneEventReceiver.KeyPress] = []
        for packet in TelephoneEventSender.packets(digit: "5", startTimestamp: 8000, duration: 800, packetInterval: 160) {
            pressed += receiver.receive(packet.event, timestamp: packet.timestamp)
        }
        #expect(pressed == [.init(digit: "5", timestamp: 8000, duration: 800, volume: 10)])
        // A late end retransmission (same timestamp, even the same sequence number) is not a new digit.
        #expect(receiver.receive(.init(event: 5, end: true, volume: 10, duration: 800), timestamp: 8000).isEmpty)
    }

    @Test func aLostEndIsClosedByTheNextEvent() {
        var receiver = TelephoneEventReceiver()
        #expect(receiver.receive(.init(event: 1, end: false, volume: 10, duration: 160), timestamp: 100).isEmpty)
        #expect(receiver.receive(.init(event: 1, end: false, volume: 10, duration: 320), timestamp: 100).isEmpty)
        let pressed = receiver.receive(.init(event: 2, end: true, volume: 10, duration: 400), timestamp: 2000)
        #expect(pressed.map(\.digit) == ["1", "2"])
        #expect(pressed.first?.duration == 320)
        #expect(receiver.flush().isEmpty)
    }

    @Test func longEventsAreSegmentedAt48kHzAndReassembled() {
        // Two seconds at 48 kHz: 96,000 units, more than one 16-bit duration.
        let packets = TelephoneEventSender.packets(digit: "#", startTimestamp: 1_000_000, duration: 96_000, packetInterval: 960)
        #expect(Array(Set(packets.map(\.timestamp))).sorted() == [UInt32(1_000_000), UInt32(1_000_000 + 65_535)])
        #expect(packets.filter(\.marker).count == 1)
        #expect(packets.filter(\.event.end).count == 3)
        var receiver = TelephoneEventReceiver()
        let pressed = packets.flatMap { receiver.receive($0.event, timestamp: $0.timestamp) }
        #expect(pressed == [.init(digit: "#", timestamp: 1_000_000, duration: 96_000, volume: 10)])
    }

    @Test func nonDTMFEventsAreNotKeys() {
        var receiver = TelephoneEventReceiver()
        #expect(receiver.receive(.init(event: 32, end: true, volume: 0, duration: 160), timestamp: 1).isEmpty)  // 32: ANS tone
        #expect(TelephoneEventSender.packets(digit: "x", startTimestamp: 0, duration: 800, packetInterval: 160).isEmpty)
    }
}
