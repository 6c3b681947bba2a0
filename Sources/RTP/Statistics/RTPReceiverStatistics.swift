import AnswerNinjaCore

/// Receiver statistics of one RTP source (RFC 3550 §6.4.1 and appendix A.1, A.3, A.8), without I/O: feed each
/// packet's sequence number, RTP timestamp and arrival time (in RTP clock units), read the report block.
///
/// Unlike the appendix, a duplicate (a sequence number seen within the last `duplicateWindow` packets) is not
/// counted as received, so duplicates never make the loss negative.
public struct RTPReceiverStatistics: Sendable, Equatable {
    /// RFC 3550 A.1: packets in sequence before a source is valid.
    public static let minimumSequential = 2
    /// RFC 3550 A.1: a jump larger than this is a restart (not loss).
    public static let maximumDropout: UInt16 = 3000
    /// RFC 3550 A.1: older than this, behind the highest, is a misordered (late) packet from before a restart.
    public static let maximumMisorder: UInt16 = 100
    /// Sequence numbers remembered to recognise duplicates.
    public static let duplicateWindow = BitWindow128.size

    public enum Verdict: Sendable, Equatable {
        /// Counted (possibly reordered).
        case accepted
        /// Seen before: not counted.
        case duplicate
        /// The source is not yet valid (probation) or a jump is being confirmed.
        case probation
        /// Far out of order or a jump not (yet) confirmed: not counted.
        case invalid
    }

    public private(set) var baseSequence: UInt32 = 0
    public private(set) var highestSequence: UInt16 = 0
    public private(set) var cycles: UInt32 = 0
    public private(set) var received: UInt32 = 0
    private var badSequence: UInt32 = UInt32(UInt16.max) + 2  // RTP_SEQ_MOD + 1: no jump pending
    private var probation: Int
    private var expectedPrior: UInt32 = 0
    private var receivedPrior: UInt32 = 0
    private var lastTransit: Int64?
    /// Interarrival jitter estimate, in timestamp units, scaled by 16 (RFC 3550 A.8).
    private var jitterScaled: Int64 = 0
    /// Which of the last `duplicateWindow` extended sequence numbers were seen (bit i: highest - i).
    private var seen = BitWindow128()
    private var started = false

    public init() {
        probation = Self.minimumSequential
    }

    /// The extended highest sequence number received (cycles + highest).
    public var extendedHighestSequence: UInt32 { cycles &+ UInt32(highestSequence) }

    /// Packets expected since the first (RFC 3550 A.3).
    public var expected: UInt32 { started ? extendedHighestSequence &- baseSequence &+ 1 : 0 }

    /// Cumulative number lost, clamped to the 24-bit signed field; never negative here (duplicates are dropped).
    public var cumulativeLost: Int32 {
        Int32(clamping: max(0, min(Int64(expected) - Int64(received), 0x7F_FFFF)))
    }

    /// Interarrival jitter in timestamp units.
    public var jitter: UInt32 { UInt32(jitterScaled >> 4) }

    /// A packet of the source that counts for the sequence (received, lost, extended highest) but not for the
    /// interarrival jitter: an RFC 4733 telephone-event packet, whose timestamp is its event's start, not its send time.
    public mutating func recordSequence(_ sequence: UInt16) {
        _ = record(sequence: sequence, timestamp: 0, arrival: 0, timing: false)
    }

    /// Records one packet.
    public mutating func record(sequence: UInt16, timestamp: UInt32, arrival: UInt32) -> Verdict {
        record(sequence: sequence, timestamp: timestamp, arrival: arrival, timing: true)
    }

    private mutating func record(sequence: UInt16, timestamp: UInt32, arrival: UInt32, timing: Bool) -> Verdict {
        guard started else {
            start(at: sequence)
            probation -= 1
            if timing { updateJitter(timestamp: timestamp, arrival: arrival) }
            return .probation
        }
        let delta = sequence &- highestSequence
        if probation > 0 {
            // Probation: the source becomes valid after `minimumSequential` packets in sequence.
            if sequence == highestSequence &+ 1 {
                probation -= 1
                seen.advance(by: 1)
                highestSequence = sequence
                if timing { updateJitter(timestamp: timestamp, arrival: arrival) }
                if probation == 0 {
                    // Valid: the packets of the probation, all in sequence from the base, count as received.
                    received = UInt32(Self.minimumSequential)
                    return .accepted
                }
            } else {
                probation = Self.minimumSequential - 1
                start(at: sequence)
            }
            return .probation
        } else if delta < Self.maximumDropout {
            if delta == 0 { return .duplicate }
            // In order, with a permissible gap.
            if sequence < highestSequence { cycles &+= 1 << 16 }
            seen.advance(by: Int(delta))
            highestSequence = sequence
        } else if delta <= UInt16.max - Self.maximumMisorder {
            // A very large jump: a restart if the next packet follows it.
            if UInt32(sequence) == badSequence {
                start(at: sequence)
                received += 1
                if timing { updateJitter(timestamp: timestamp, arrival: arrival) }
                return .accepted
            }
            badSequence = (UInt32(sequence) + 1) & 0xFFFF
            return .invalid
        } else {
            // Duplicate or reordered packet behind the highest.
            let behind = Int(highestSequence &- sequence)
            guard behind < Self.duplicateWindow else { return .invalid }
            if seen.contains(behind: behind) { return .duplicate }
            seen.insert(behind: behind)
            received += 1
            if timing { updateJitter(timestamp: timestamp, arrival: arrival) }
            return .accepted
        }
        received += 1
        if timing { updateJitter(timestamp: timestamp, arrival: arrival) }
        return .accepted
    }

    /// The report block for this source, and the new baseline of the fraction lost (RFC 3550 A.3).
    public mutating func reportBlock(ssrc: UInt32, lastSenderReport: UInt32 = 0, delaySinceLastSenderReport: UInt32 = 0) -> RTCPReportBlock {
        let expectedInterval = expected &- expectedPrior
        let receivedInterval = received &- receivedPrior
        expectedPrior = expected
        receivedPrior = received
        let lostInterval = Int64(expectedInterval) - Int64(receivedInterval)
        let fraction: UInt8 = expectedInterval == 0 || lostInterval <= 0 ? 0 : UInt8(min(255, (lostInterval << 8) / Int64(expectedInterval)))
        return RTCPReportBlock(
            ssrc: ssrc, fractionLost: fraction, cumulativeLost: cumulativeLost, extendedHighestSequence: extendedHighestSequence,
            jitter: jitter, lastSenderReport: lastSenderReport, delaySinceLastSenderReport: delaySinceLastSenderReport
        )
    }

    /// Round-trip time from a report block about our stream (RFC 3550 §6.4.1): `arrival - LSR - DLSR`, where
    /// `arrival` is the compact NTP time (middle 32 bits) when the report arrived. In 1/65536 s; nil when the
    /// block carries no LSR or the result would be negative (clock steps).
    public static func roundTrip(arrivalCompactNTP: UInt32, block: RTCPReportBlock) -> UInt32? {
        guard block.lastSenderReport != 0 else { return nil }
        let rtt = Int64(arrivalCompactNTP &- block.lastSenderReport) - Int64(block.delaySinceLastSenderReport)
        return rtt >= 0 ? UInt32(rtt) : nil
    }

    // MARK: Private

    private mutating func start(at sequence: UInt16) {
        started = true
        baseSequence = UInt32(sequence)
        highestSequence = sequence
        badSequence = UInt32(UInt16.max) + 2
        cycles = 0
        received = 0
        expectedPrior = 0
        receivedPrior = 0
        seen = .newestOnly  // the packet at `sequence` itself
    }

    /// RFC 3550 A.8: D = (Rj - Ri) - (Sj - Si); J += (|D| - J) / 16, in timestamp units.
    private mutating func updateJitter(timestamp: UInt32, arrival: UInt32) {
        let transit = Int64(Int32(bitPattern: arrival &- timestamp))
        if let lastTransit {
            let d = abs(transit - lastTransit)
            jitterScaled += d - ((jitterScaled + 8) >> 4)
        }
        lastTransit = transit
    }
}
