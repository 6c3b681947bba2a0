import NIOCore

/// An RFC 4733 telephone-event payload (§2.3): event code, end bit, volume and duration.
public struct TelephoneEvent: Sendable, Equatable {
    /// RFC 4733 §2.3: the payload is 4 bytes.
    public static let size = 4

    /// 0-9, 10 `*`, 11 `#`, 12-15 `A`-`D` for DTMF (RFC 4733 §3.2).
    public var event: UInt8
    public var end: Bool
    /// Power level in -dBm0, 0...63.
    public var volume: UInt8
    /// In RTP timestamp units since the event's timestamp.
    public var duration: UInt16

    public init(event: UInt8, end: Bool, volume: UInt8, duration: UInt16) {
        self.event = event
        self.end = end
        self.volume = volume & 0x3F
        self.duration = duration
    }

    /// Parses a payload; extra bytes (a second, redundant event block) are ignored.
    public init(parsing payload: ByteBuffer) throws(RTPError) {
        guard let event = payload.getInteger(at: payload.readerIndex, as: UInt8.self),
            let flags = payload.getInteger(at: payload.readerIndex + 1, as: UInt8.self),
            let duration = payload.getInteger(at: payload.readerIndex + 2, as: UInt16.self)
        else { throw .truncated("telephone-event payload", need: Self.size, have: payload.readableBytes) }
        self.init(event: event, end: flags & 0x80 != 0, volume: flags & 0x3F, duration: duration)
    }

    public func write(to buffer: inout ByteBuffer) {
        buffer.writeMultipleIntegers(event, (end ? 0x80 : 0) | volume, duration)
    }

    /// The DTMF key of `event`, or nil for non-DTMF events (RFC 4733 §3.2).
    public static func digit(for event: UInt8) -> Character? {
        event < digits.count ? digits[Int(event)] : nil
    }

    /// The event code of a DTMF key.
    public static func event(for digit: Character) -> UInt8? {
        digits.firstIndex(of: Character(digit.uppercased())).map(UInt8.init)
    }

    static let digits: [Character] = Array("0123456789*#ABCD")
}

/// Turns the RTP packets of an RFC 4733 stream into key presses, one per event whatever the retransmissions.
///
/// Events are keyed on the RTP timestamp (RFC 4733 §2.5.2.1): updates of the same event share it, and so do its
/// three end packets, which may even repeat the sequence number. A new timestamp with no end seen for the previous
/// event ends that one (its end packets were lost). A long event is sent in segments (§2.5.1.3): a segment that
/// ends at the maximum duration without the end bit, followed by the same event at the next timestamp, continues it.
public struct TelephoneEventReceiver: Sendable, Equatable {
    public struct KeyPress: Sendable, Equatable {
        public var digit: Character
        /// RTP timestamp of the event's start.
        public var timestamp: UInt32
        /// Total duration in RTP timestamp units.
        public var duration: UInt32
        public var volume: UInt8
        public init(digit: Character, timestamp: UInt32, duration: UInt32, volume: UInt8) {
            self.digit = digit
            self.timestamp = timestamp
            self.duration = duration
            self.volume = volume
        }
    }

    private struct Current: Sendable, Equatable {
        var event: UInt8
        var timestamp: UInt32
        var startTimestamp: UInt32
        /// Duration of segments before this one.
        var previousSegments: UInt32
        var duration: UInt16
        var volume: UInt8
    }

    private var current: Current?
    /// Timestamps of events already reported, so late end retransmissions do not report them again.
    private var reported: [UInt32] = []

    public init() {}

    /// Feeds one telephone-event packet; returns the key presses it completes (at most two: a previous event
    /// whose end was lost, and this one).
    public mutating func receive(_ event: TelephoneEvent, timestamp: UInt32) -> [KeyPress] {
        var pressed: [KeyPress] = []
        if reported.contains(timestamp) { return [] }  // an end retransmission of a reported event
        if var active = current, active.timestamp != timestamp {
            let continuesLongEvent = active.event == event.event && active.duration == UInt16.max
                && timestamp == active.timestamp &+ UInt32(UInt16.max)
            if continuesLongEvent {
                active.previousSegments += UInt32(active.duration)
                active.timestamp = timestamp
                active.duration = event.duration
                current = active
            } else {
                pressed += finish(active)
                current = nil
            }
        }
        if current == nil {
            current = Current(event: event.event, timestamp: timestamp, startTimestamp: timestamp, previousSegments: 0, duration: event.duration, volume: event.volume)
        } else {
            current!.duration = max(current!.duration, event.duration)
        }
        if event.end, let active = current {
            pressed += finish(active)
            current = nil
        }
        return pressed
    }

    /// Ends an event whose end packets never came (called when the stream stops or times out).
    public mutating func flush() -> [KeyPress] {
        guard let active = current else { return [] }
        current = nil
        return finish(active)
    }

    private mutating func finish(_ active: Current) -> [KeyPress] {
        reported.append(active.timestamp)
        if reported.count > 8 { reported.removeFirst() }
        guard let digit = TelephoneEvent.digit(for: active.event) else { return [] }
        return [KeyPress(digit: digit, timestamp: active.startTimestamp, duration: active.previousSegments + UInt32(active.duration), volume: active.volume)]
    }
}

/// Produces the payloads of one key press as RFC 4733 §2.5.1 describes: the first packet (marker set), an update
/// every `packetInterval`, and the end packet sent three times. Durations longer than 0xFFFF units (1.36 s at
/// 48 kHz) are split into segments with new timestamps (§2.5.1.3).
public struct TelephoneEventSender: Sendable {
    public struct Packet: Sendable, Equatable {
        public var marker: Bool
        public var timestamp: UInt32
        public var event: TelephoneEvent
    }

    public static func packets(digit: Character, startTimestamp: UInt32, duration: UInt32, packetInterval: UInt32, volume: UInt8 = 10) -> [Packet] {
        guard let code = TelephoneEvent.event(for: digit), packetInterval > 0 else { return [] }
        var packets: [Packet] = []
        var remaining = duration
        var segmentStart = startTimestamp
        var first = true
        repeat {
            let segment = min(remaining, UInt32(UInt16.max))
            let last = remaining == segment
            var elapsed: UInt32 = 0
            while elapsed + packetInterval < segment {
                elapsed += packetInterval
                packets.append(.init(marker: first, timestamp: segmentStart, event: .init(event: code, end: false, volume: volume, duration: UInt16(elapsed))))
                first = false
            }
            if last {
                for _ in 0..<3 {
                    packets.append(.init(marker: first, timestamp: segmentStart, event: .init(event: code, end: true, volume: volume, duration: UInt16(segment))))
                    first = false
                }
            } else {
                packets.append(.init(marker: false, timestamp: segmentStart, event: .init(event: code, end: false, volume: volume, duration: UInt16.max)))
            }
            remaining -= segment
            segmentStart &+= segment
        } while remaining > 0
        return packets
    }
}
