/// The timer values of RFC 3261 §17 and Table 4 (with RFC 6026's L and M).
public struct SIPTimerValues: Sendable, Equatable {
    /// Round-trip estimate: 500 ms.
    public var t1: Duration
    /// Maximum retransmission interval for non-INVITE requests and INVITE responses: 4 s.
    public var t2: Duration
    /// Maximum time a message stays in the network: 5 s.
    public var t4: Duration

    public static let rfc3261 = SIPTimerValues(t1: .milliseconds(500), t2: .seconds(4), t4: .seconds(5))

    public init(t1: Duration, t2: Duration, t4: Duration) {
        self.t1 = t1
        self.t2 = t2
        self.t4 = t4
    }

    /// 64·T1: timers B, F, H, J, L and M (32 s with the default T1).
    public var transactionTimeout: Duration { t1 * 64 }
}

/// The named timers of RFC 3261 §17 (A-K) and RFC 6026 (L, M).
public enum SIPTimer: String, Sendable, Hashable, CaseIterable {
    /// INVITE client: retransmit the request (unreliable transports), T1 doubling.
    case a = "A"
    /// INVITE client: give up waiting for any response (64·T1).
    case b = "B"
    /// INVITE client: absorb retransmitted final responses after the ACK (32 s unreliable, 0 reliable).
    case d = "D"
    /// Non-INVITE client: retransmit the request, T1 doubling up to T2.
    case e = "E"
    /// Non-INVITE client: give up (64·T1).
    case f = "F"
    /// INVITE server: retransmit the final non-2xx response, T1 doubling up to T2.
    case g = "G"
    /// INVITE server: give up waiting for the ACK (64·T1).
    case h = "H"
    /// INVITE server: absorb ACK retransmissions (T4 unreliable, 0 reliable).
    case i = "I"
    /// Non-INVITE server: absorb request retransmissions (64·T1 unreliable, 0 reliable).
    case j = "J"
    /// Non-INVITE client: absorb response retransmissions (T4 unreliable, 0 reliable).
    case k = "K"
    /// INVITE server, RFC 6026 Accepted: absorb INVITE retransmissions after a 2xx (64·T1).
    case l = "L"
    /// INVITE client, RFC 6026 Accepted: accept retransmitted 2xx responses (64·T1).
    case m = "M"
}
