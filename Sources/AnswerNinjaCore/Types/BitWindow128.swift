/// The last 128 positions behind a moving "newest" mark, one bit each: what a replay list (RFC 3711 §3.3.2) and a
/// duplicate detector need. Bit `i` stands for `newest − i`.
public struct BitWindow128: Sendable, Equatable {
    public static let size = 128
    private var low: UInt64 = 0
    private var high: UInt64 = 0

    public init() {}

    /// Only the newest position, set.
    public static var newestOnly: BitWindow128 {
        var window = BitWindow128()
        window.low = 1
        return window
    }

    /// Moves the newest mark `count` positions forward (older bits fall off) and sets the new newest.
    public mutating func advance(by count: Int) {
        if count >= 128 {
            (low, high) = (0, 0)
        } else if count >= 64 {
            (low, high) = (0, low << UInt64(count - 64))
        } else if count > 0 {
            (low, high) = (low << UInt64(count), (high << UInt64(count)) | (low >> UInt64(64 - count)))
        }
        low |= 1
    }

    public func contains(behind: Int) -> Bool {
        guard behind >= 0 && behind < Self.size else { return false }
        return behind < 64 ? low & (1 << UInt64(behind)) != 0 : high & (1 << UInt64(behind - 64)) != 0
    }

    public mutating func insert(behind: Int) {
        guard behind >= 0 && behind < Self.size else { return }
        if behind < 64 { low |= 1 << UInt64(behind) } else { high |= 1 << UInt64(behind - 64) }
    }
}
