import AnswerNinjaCore

/// The SRTP replay list (RFC 3711 §3.3.2) as a sliding bitmap of the last `size` packet indexes below the highest
/// one authenticated. A state machine without I/O: `check` before authentication's result is trusted, `accept`
/// after it.
public struct ReplayWindow: Sendable, Equatable {
    /// RFC 3711 §3.3.2 requires at least 64; we keep 128.
    public static let size = UInt64(BitWindow128.size)

    public enum Verdict: Sendable, Equatable { case new, replayed, tooOld }

    public private(set) var highest: UInt64?
    /// Bit i set: index `highest - i` was accepted.
    private var bits = BitWindow128()

    public init() {}

    public func check(_ index: UInt64) -> Verdict {
        guard let highest else { return .new }
        if index > highest { return .new }
        let behind = highest - index
        guard behind < Self.size else { return .tooOld }
        return bits.contains(behind: Int(behind)) ? .replayed : .new
    }

    public mutating func accept(_ index: UInt64) {
        guard let current = highest else {
            highest = index
            bits = .newestOnly
            return
        }
        if index > current {
            bits.advance(by: Int(min(index - current, Self.size)))
            highest = index
        } else {
            bits.insert(behind: Int(min(current - index, Self.size)))
        }
    }
}
