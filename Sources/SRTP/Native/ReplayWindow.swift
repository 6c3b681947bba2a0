/// The SRTP replay list (RFC 3711 §3.3.2) as a sliding bitmap of the last `size` packet indexes below the highest
/// one authenticated. A state machine without I/O: `check` before authentication's result is trusted, `accept`
/// after it.
public struct ReplayWindow: Sendable, Equatable {
    /// RFC 3711 §3.3.2 requires at least 64; we keep 128.
    public static let size: UInt64 = 128

    public enum Verdict: Sendable, Equatable { case new, replayed, tooOld }

    public private(set) var highest: UInt64?
    /// Bit i set: index `highest - i` was accepted.
    private var bits: (UInt64, UInt64) = (0, 0)

    public init() {}

    public func check(_ index: UInt64) -> Verdict {
        guard let highest else { return .new }
        if index > highest { return .new }
        let behind = highest - index
        guard behind < Self.size else { return .tooOld }
        let seen = behind < 64 ? bits.0 & (1 << behind) != 0 : bits.1 & (1 << (behind - 64)) != 0
        return seen ? .replayed : .new
    }

    public mutating func accept(_ index: UInt64) {
        guard let current = highest else {
            highest = index
            bits = (1, 0)
            return
        }
        if index > current {
            let shift = index - current
            if shift >= 128 {
                bits = (0, 0)
            } else if shift >= 64 {
                bits = (0, bits.0 << (shift - 64))
            } else {
                bits = (bits.0 << shift, (bits.1 << shift) | (bits.0 >> (64 - shift)))
            }
            bits.0 |= 1
            highest = index
        } else {
            let behind = current - index
            if behind < 64 { bits.0 |= 1 << behind } else if behind < 128 { bits.1 |= 1 << (behind - 64) }
        }
    }

    public static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.highest == rhs.highest && lhs.bits.0 == rhs.bits.0 && lhs.bits.1 == rhs.bits.1
    }
}
