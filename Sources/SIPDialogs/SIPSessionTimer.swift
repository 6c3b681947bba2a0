import SIPMessages

/// A dialog's session timer (RFC 4028): how long the session lives without a refresh, and which side refreshes it.
/// The refresher sends a re-INVITE or UPDATE at half the interval; the other side ends the session with a BYE when
/// no refresh has come by `interval − min(32 s, interval/3)` (§10). No I/O: the user agent asks for the next
/// deadline and acts on it.
public struct SIPSessionTimer: Sendable, Equatable {
    /// The session interval, seconds.
    public let interval: Int
    /// We send the refreshes; otherwise we wait for them.
    public let weRefresh: Bool
    /// The far end said `Supported: timer`: a response to its refresh carries `Require: timer`.
    public let peerSupportsTimer: Bool

    public init(interval: Int, weRefresh: Bool, peerSupportsTimer: Bool) {
        self.interval = interval
        self.weRefresh = weRefresh
        self.peerSupportsTimer = peerSupportsTimer
    }

    public enum Negotiation: Sendable, Equatable {
        /// The request asks for no session timer.
        case none
        /// Below our minimum and the sender supports the extension: answer 422 with `Min-SE: minimum` (§9).
        case tooSmall(minimum: Int)
        case accepted(SIPSessionTimer)
    }

    /// What a UAS makes of a session-refresh request (the INVITE, or a re-INVITE or UPDATE) it is about to accept with
    /// a 2xx, `minimum` being our Min-SE (§9). A sender that does not support the extension cannot take a 422: its
    /// interval is raised to our minimum instead (RFC 4028 erratum 1687) and we refresh. When the request leaves the
    /// choice open, a sender that supports timers refreshes (it asked for the timer).
    public static func negotiate(_ request: SIPRequest, minimum: Int) -> Negotiation {
        guard let raw = request.headers.first("Session-Expires"), let asked = try? SIPSessionExpires(parsing: raw[...]) else { return .none }
        let supported = request.headers.list("Supported").contains { $0.lowercased() == "timer" }
            || request.headers.list("Require").contains { $0.lowercased() == "timer" }
        let theirMinimum = request.headers.first("Min-SE").flatMap { SIPDeltaSeconds.parse($0[...]) } ?? 0
        var interval = asked.seconds
        if interval < minimum {
            if supported { return .tooSmall(minimum: max(minimum, theirMinimum)) }
            interval = minimum
        }
        let weRefresh: Bool
        switch asked.refresher {
        case .uas?: weRefresh = true
        case .uac?: weRefresh = !supported  // a sender without the extension cannot refresh on our say
        case nil: weRefresh = !supported
        }
        return .accepted(SIPSessionTimer(interval: interval, weRefresh: weRefresh, peerSupportsTimer: supported))
    }

    /// The headers of our 2xx to the request negotiated: Session-Expires with the refresher (we are the UAS of that
    /// transaction), and Require: timer when the sender supports it (§9).
    public var responseHeaders: [SIPHeaders.Field] {
        var fields = [SIPHeaders.Field(name: "Session-Expires", value: SIPSessionExpires(seconds: interval, refresher: weRefresh ? .uas : .uac).serialized)]
        if peerSupportsTimer { fields.append(.init(name: "Require", value: "timer")) }
        return fields
    }

    /// The headers of a refresh we send (we are its UAC and stay the refresher), §7.4.
    public var refreshRequestHeaders: [SIPHeaders.Field] {
        [
            .init(name: "Session-Expires", value: SIPSessionExpires(seconds: interval, refresher: .uac).serialized),
            .init(name: "Supported", value: "timer"),
        ]
    }

    /// The session timer after the 2xx to a refresh we sent (§7.2): the response's Session-Expires with its refresher
    /// (`uac` is us), or nil when the response has none: the session no longer expires.
    public func afterRefresh(_ response: SIPResponse) -> SIPSessionTimer? {
        guard let raw = response.headers.first("Session-Expires"), let granted = try? SIPSessionExpires(parsing: raw[...]) else { return nil }
        return SIPSessionTimer(interval: granted.seconds, weRefresh: granted.refresher != .uas, peerSupportsTimer: true)
    }

    public enum Deadline: Sendable, Equatable {
        /// Send a refresh this long after the last one.
        case refresh(after: Duration)
        /// End the session with a BYE if no refresh has come by then.
        case expire(after: Duration)
    }

    /// What to do next, counted from the last refresh (or the 2xx that started the session).
    public var deadline: Deadline {
        if weRefresh { return .refresh(after: .seconds(interval) / 2) }
        return .expire(after: .seconds(interval - min(32, interval / 3)))
    }
}
