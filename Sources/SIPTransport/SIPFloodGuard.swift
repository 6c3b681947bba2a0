import AnswerNinjaCore
import NIOCore
import SIPMessages

/// Protects the SIP listener from floods and scanners without answering them (a 503 would amplify a flood, and a
/// scanner learns from any reply):
/// - a token bucket per source IP address: `rate` messages a second with bursts of `burst`; a source that runs
///   dry is dropped silently for `blockFor`; trusted sources (the trunk's edge, which sends every call) are exempt;
/// - requests from known scanners (sipvicious' "friendly-scanner", sipcli, sip-scan, ...) are dropped silently.
///
/// A state machine: time is given. The number of sources tracked is bounded (idle ones are forgotten first).
public struct SIPFloodGuard: Sendable {
    public struct Configuration: Sendable {
        public var rate: Double
        public var burst: Double
        public var blockFor: Duration
        public var trusted: IPAddressSet
        public var maximumSources: Int

        public init(rate: Double = 50, burst: Double = 100, blockFor: Duration = .seconds(30), trusted: IPAddressSet = IPAddressSet(), maximumSources: Int = 10_000) {
            self.rate = rate
            self.burst = burst
            self.blockFor = blockFor
            self.trusted = trusted
            self.maximumSources = maximumSources
        }
    }

    public enum Verdict: Sendable, Equatable {
        case accept
        case drop
        /// Dropped, and this source has just been blocked: worth one log line.
        case blocked
    }

    private struct Bucket {
        var tokens: Double
        var updated: MediaInstant
        var blockedUntil: MediaInstant?
    }

    public let configuration: Configuration
    private var buckets: [String: Bucket] = [:]
    public private(set) var dropped = 0
    /// Sources being tracked (at most `maximumSources`).
    public var trackedSources: Int { buckets.count }

    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
    }

    /// Whether `address` is blocked at `now` (a new TCP connection from it is refused).
    public func isBlocked(_ address: String, now: MediaInstant) -> Bool {
        guard let until = buckets[address]?.blockedUntil else { return false }
        return now < until
    }

    /// Whether a message from `address` (an IP address) may be processed.
    public mutating func admit(_ address: String, now: MediaInstant) -> Verdict {
        guard !configuration.trusted.contains(address) else { return .accept }
        var bucket = buckets[address] ?? Bucket(tokens: configuration.burst, updated: now, blockedUntil: nil)
        if let until = bucket.blockedUntil {
            if now < until {
                dropped += 1
                buckets[address] = bucket
                return .drop
            }
            bucket.blockedUntil = nil
            bucket.tokens = configuration.burst
            bucket.updated = now
        }
        let elapsed = Double(bucket.updated.duration(to: now).nanosecondsClamped) / 1e9
        bucket.tokens = min(configuration.burst, bucket.tokens + max(0, elapsed) * configuration.rate)
        bucket.updated = now
        let verdict: Verdict
        if bucket.tokens >= 1 {
            bucket.tokens -= 1
            verdict = .accept
        } else {
            bucket.blockedUntil = now.advanced(by: configuration.blockFor)
            dropped += 1
            verdict = .blocked
        }
        buckets[address] = bucket
        if buckets.count > configuration.maximumSources { forgetIdle(now: now) }
        return verdict
    }

    /// Known SIP scanners, by User-Agent (or the From display name some of them use instead).
    static let scannerSignatures = ["friendly-scanner", "sipvicious", "sipcli", "sip-scan", "sundayddr", "iwar", "smap", "vaxsipuseragent", "sipsak"]

    public static func isScanner(_ request: SIPRequest) -> Bool {
        let agent = (request.headers.first("User-Agent") ?? "").lowercased()
        let from = (request.headers.first("From") ?? "").lowercased()
        return scannerSignatures.contains { agent.contains($0) || from.contains("\"\($0)\"") }
    }

    private mutating func forgetIdle(now: MediaInstant) {
        let idle = buckets.filter { $0.value.blockedUntil == nil && $0.value.updated.duration(to: now) > .seconds(60) }.map(\.key)
        for key in idle { buckets[key] = nil }
        if buckets.count > configuration.maximumSources {
            // Still too many: forget the longest idle, blocked or not.
            let oldest = buckets.sorted { $0.value.updated < $1.value.updated }.prefix(buckets.count - configuration.maximumSources).map(\.key)
            for key in oldest { buckets[key] = nil }
        }
    }
}
