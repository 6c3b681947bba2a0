import NIOCore

/// A point on a monotonic clock, in nanoseconds since an arbitrary origin (the transport's reading of
/// `CLOCK_MONOTONIC`, or a test's manual clock). Wire code never reads a clock: it is handed instants.
public struct MediaInstant: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    public var nanoseconds: UInt64

    public init(nanoseconds: UInt64) { self.nanoseconds = nanoseconds }

    public static func < (lhs: MediaInstant, rhs: MediaInstant) -> Bool { lhs.nanoseconds < rhs.nanoseconds }

    /// `self + duration`, saturating at the ends of the range.
    public func advanced(by duration: Duration) -> MediaInstant {
        let delta = duration.nanosecondsClamped
        if delta >= 0 {
            let (sum, overflow) = nanoseconds.addingReportingOverflow(UInt64(delta))
            return MediaInstant(nanoseconds: overflow ? .max : sum)
        }
        let magnitude = delta.magnitude
        return MediaInstant(nanoseconds: nanoseconds > magnitude ? nanoseconds - magnitude : 0)
    }

    /// The signed duration from `self` to `other` (`other - self`).
    public func duration(to other: MediaInstant) -> Duration {
        if other.nanoseconds >= nanoseconds {
            return .nanoseconds(Int64(clamping: other.nanoseconds - nanoseconds))
        }
        return .nanoseconds(-Int64(clamping: nanoseconds - other.nanoseconds))
    }

    public var description: String { "\(nanoseconds)ns" }
}

extension Duration {
    /// The duration in whole nanoseconds, clamped to `Int64`.
    public var nanosecondsClamped: Int64 {
        let (seconds, attoseconds) = components
        let (scaled, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return seconds < 0 ? .min : .max }
        let (sum, overflow2) = scaled.addingReportingOverflow(attoseconds / 1_000_000_000)
        if overflow2 { return seconds < 0 ? .min : .max }
        return sum
    }

    /// The duration in milliseconds as a floating-point number, for logs and records.
    public var milliseconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) * 1000 + Double(attoseconds) / 1e15
    }
}

extension MediaInstant {
    /// The same instant as a SwiftNIO deadline (both count nanoseconds of the monotonic clock): transports hand the
    /// wire layer `MediaInstant(.now())`.
    public init(_ deadline: NIODeadline) {
        self.init(nanoseconds: deadline.uptimeNanoseconds)
    }
}

