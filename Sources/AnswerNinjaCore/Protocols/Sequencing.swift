/// Numbers outbound frames and keeps the ones the peer has not acknowledged, so that a resumed connection can
/// retransmit exactly what was lost (docs/protocols/README.md, "Sequence numbers and resume").
///
/// A state machine without I/O: the owner sends what `send` returns and what `resend(after:)` returns on resume.
public struct OutboundSequencer<Message: ProtocolMessage>: Sendable {
    /// Frames kept for retransmission at most; a peer this far behind cannot be resumed.
    public let capacity: Int
    public private(set) var nextSeq: UInt64 = 1
    /// Unacknowledged frames, oldest first.
    private var unacknowledged: [ProtocolFrame<Message>] = []

    public init(capacity: Int = 1024) {
        precondition(capacity > 0, "capacity must be positive")
        self.capacity = capacity
    }

    public var pendingCount: Int { unacknowledged.count }

    /// Numbers `message`, keeps it until acknowledged, and returns the frame to send. When more than `capacity`
    /// frames are unacknowledged the oldest is forgotten: a later resume from before it fails with an error
    /// instead of silently skipping frames.
    public mutating func send(_ message: Message, ack: UInt64? = nil) -> ProtocolFrame<Message> {
        let frame = ProtocolFrame(seq: nextSeq, ack: ack, message: message)
        nextSeq += 1
        unacknowledged.append(frame)
        if unacknowledged.count > capacity {
            unacknowledged.removeFirst(unacknowledged.count - capacity)
        }
        return frame
    }

    /// The peer received every frame up to `seq`.
    public mutating func acknowledge(upTo seq: UInt64) {
        guard let keep = unacknowledged.firstIndex(where: { $0.seq > seq }) else {
            unacknowledged.removeAll(keepingCapacity: true)
            return
        }
        unacknowledged.removeFirst(keep)
    }

    /// The frames to retransmit to a peer that last received `lastSeq`; acknowledges everything up to it.
    public mutating func resend(after lastSeq: UInt64) throws(CoreError) -> [ProtocolFrame<Message>] {
        guard lastSeq < nextSeq else {
            throw .protocolViolation("\(Message.protocolName): peer claims seq \(lastSeq) but only \(nextSeq - 1) were sent")
        }
        acknowledge(upTo: lastSeq)
        if let first = unacknowledged.first, first.seq != lastSeq + 1 {
            throw .protocolViolation("\(Message.protocolName): cannot resume after seq \(lastSeq): frames up to \(first.seq - 1) are no longer kept")
        }
        if unacknowledged.isEmpty && lastSeq + 1 != nextSeq {
            throw .protocolViolation("\(Message.protocolName): cannot resume after seq \(lastSeq): frames up to \(nextSeq - 1) are no longer kept")
        }
        return unacknowledged
    }
}

/// Checks the `seq` of inbound frames: in order is accepted, a repeat (a retransmission after resume) is dropped,
/// and a gap means frames were lost, so the connection must be resumed from `lastSeq`.
public struct InboundSequencer: Sendable, Equatable {
    public enum Verdict: Sendable, Equatable {
        case accept
        case duplicate
        case gap(expected: UInt64, received: UInt64)
    }

    /// The highest `seq` accepted in order; what a `resume` or `ack` reports.
    public private(set) var lastSeq: UInt64

    public init(lastSeq: UInt64 = 0) { self.lastSeq = lastSeq }

    public mutating func receive(seq: UInt64) -> Verdict {
        if seq == lastSeq + 1 {
            lastSeq = seq
            return .accept
        }
        if seq <= lastSeq { return .duplicate }
        return .gap(expected: lastSeq + 1, received: seq)
    }
}
