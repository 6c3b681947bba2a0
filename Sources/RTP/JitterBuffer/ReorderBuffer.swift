/// The fast read path for VAD and barge-in: packets in sequence order as soon as they can be, without the jitter
/// buffer's delay. It holds a packet only while an earlier one is missing, and for at most `depth` later packets;
/// then the gap is skipped (the buffered path conceals it; VAD does not need it). Duplicates and packets behind
/// the output are dropped. Holds sequence numbers only: the caller keeps the payloads it needs.
public struct ReorderBuffer: Sendable, Equatable {
    public let depth: Int
    private var next: UInt16?
    private var held: [UInt16] = []

    public init(depth: Int = 3) {
        precondition(depth > 0)
        self.depth = depth
    }

    /// Feeds one sequence number; returns those now released, in order.
    public mutating func insert(_ sequence: UInt16) -> [UInt16] {
        guard let expected = next else {
            next = sequence &+ 1
            return [sequence]
        }
        let offset = Int16(bitPattern: sequence &- expected)
        if offset < 0 || held.contains(sequence) { return [] }  // behind the output, or a duplicate
        if offset == 0 {
            var released = [sequence]
            next = sequence &+ 1
            released += drain()
            return released
        }
        held.append(sequence)
        held.sort { Int16(bitPattern: $0 &- expected) < Int16(bitPattern: $1 &- expected) }
        guard held.count > depth else { return [] }
        // Waited long enough: skip the gap up to the earliest held packet.
        next = held[0]
        return drain()
    }

    private mutating func drain() -> [UInt16] {
        var released: [UInt16] = []
        while let first = held.first, first == next {
            released.append(first)
            held.removeFirst()
            next = first &+ 1
        }
        return released
    }
}
