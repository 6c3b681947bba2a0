import NIOCore
import SIPDialogs
import SIPMessages
import SIPTransactions
import Testing

/// RFC 4028 session timers and RFC 3262 retransmission, as pure state: negotiation, the headers of our responses,
/// and a simulated clock that runs calls for 15 and 30 minutes.
@Suite struct SIPSessionTimerTests {
    static func invite(_ extra: String) -> SIPRequest {
        var request = SIPDialogTests.invite
        for line in extra.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 1)
            request.headers.add(String(parts[0]), String(parts[1]).trimmingCharacters(in: .whitespaces))
        }
        return request
    }

    @Test func aTimerAskedForIsAcceptedWithTheRefresherTheCallerNamed() {
        let asked = Self.invite("Supported: timer\nSession-Expires: 1800;refresher=uac")
        guard case .accepted(let timer) = SIPSessionTimer.negotiate(asked, minimum: 90) else { Issue.record("not accepted"); return }
        #expect(timer.interval == 1800 && !timer.weRefresh && timer.peerSupportsTimer)
        #expect(timer.responseHeaders.map(\.value) == ["1800;refresher=uac", "timer"], "Session-Expires and Require: timer")
        #expect(timer.deadline == .expire(after: .seconds(1800 - 32)), "the BYE comes min(32 s, interval/3) before the end (§10)")

        guard case .accepted(let ours) = SIPSessionTimer.negotiate(Self.invite("Supported: timer\nx: 600;refresher=uas"), minimum: 90) else { Issue.record("compact form"); return }
        #expect(ours.weRefresh && ours.deadline == .refresh(after: .seconds(300)))
    }

    @Test func aCallerWithoutTheExtensionCannotRefreshSoWeDo() {
        guard case .accepted(let timer) = SIPSessionTimer.negotiate(Self.invite("Session-Expires: 1800"), minimum: 90) else { Issue.record("not accepted"); return }
        #expect(timer.weRefresh && !timer.peerSupportsTimer)
        #expect(timer.responseHeaders.map(\.name) == ["Session-Expires"], "no Require: timer for a caller that does not support it")
        #expect(SIPSessionTimer.negotiate(SIPDialogTests.invite, minimum: 90) == SIPSessionTimer.Negotiation.none)
    }

    @Test func anIntervalBelowOurMinimumGets422OrIsRaised() {
        #expect(SIPSessionTimer.negotiate(Self.invite("Supported: timer\nSession-Expires: 60"), minimum: 90) == .tooSmall(minimum: 90))
        #expect(SIPSessionTimer.negotiate(Self.invite("Supported: timer\nSession-Expires: 60\nMin-SE: 120"), minimum: 90) == .tooSmall(minimum: 120))
        // Erratum 1687: a caller that cannot take a 422 has its interval raised to our minimum.
        guard case .accepted(let raised) = SIPSessionTimer.negotiate(Self.invite("Session-Expires: 60"), minimum: 90) else { Issue.record("not raised"); return }
        #expect(raised.interval == 90 && raised.weRefresh)
    }

    @Test func theAnswerToOurRefreshSetsTheTimerAnew() throws {
        let timer = SIPSessionTimer(interval: 1800, weRefresh: true, peerSupportsTimer: true)
        #expect(timer.refreshRequestHeaders.map(\.value) == ["1800;refresher=uac", "timer"])
        var ok = SIPDialogTests.ok()
        ok.headers.add("Session-Expires", "900;refresher=uas")
        #expect(timer.afterRefresh(ok) == SIPSessionTimer(interval: 900, weRefresh: false, peerSupportsTimer: true), "the far end took the refreshing over")
        #expect(timer.afterRefresh(SIPDialogTests.ok()) == nil, "no Session-Expires in the 2xx: the session no longer expires (§7.2)")
    }

    /// Calls of 15 and 30 minutes on a simulated clock, with the far end refreshing every interval/2 (or us), must
    /// never reach the expiry; a far end that stops refreshing is cut at the deadline.
    @Test(arguments: [(90, 15), (1800, 30), (900, 30), (90, 30)])
    func callsSurviveFifteenAndThirtyMinutesOfRefreshes(interval: Int, minutes: Int) {
        for weRefresh in [false, true] {
            let timer = SIPSessionTimer(interval: interval, weRefresh: weRefresh, peerSupportsTimer: true)
            var now = Duration.zero, lastRefresh = Duration.zero, refreshes = 0
            let end = Duration.seconds(minutes * 60)
            while now < end {
                switch timer.deadline {
                case .refresh(let after):
                    now = lastRefresh + after
                case .expire(let after):
                    let peerRefresh = lastRefresh + .seconds(interval) / 2
                    #expect(peerRefresh < lastRefresh + after, "the far end's refresh comes before our expiry")
                    now = peerRefresh
                }
                lastRefresh = now
                refreshes += 1
            }
            #expect(refreshes >= minutes * 60 / interval * 2, "refreshed every half interval")
        }
        // A far end that stops refreshing: the expiry comes before the session interval is over.
        if case .expire(let after) = SIPSessionTimer(interval: interval, weRefresh: false, peerSupportsTimer: true).deadline {
            #expect(after < .seconds(interval) && after >= .seconds(interval) * 2 / 3)
        }
    }

    /// RFC 3262 §3: a reliable provisional response is resent at T1 doubling without the T2 cap, for 64·T1.
    @Test func aReliableProvisionalIsResentWithoutTheT2Cap() {
        var ringing = SIPDialogTests.ok()
        ringing.statusCode = 180
        var retransmission = SIPResponseRetransmission(response: ringing, cappedAtT2: false)
        _ = retransmission.start(reliable: false)
        var intervals: [Duration] = []
        while true {
            let actions = retransmission.timerFired(reliable: false)
            if actions == [.ackTimedOut] { break }
            if case .startTimer(let next) = actions.last { intervals.append(next) }
            #expect(intervals.count < 12)
        }
        #expect(intervals.prefix(4) == [.seconds(1), .seconds(2), .seconds(4), .seconds(8)], "doubling past T2 (4 s)")
        #expect(intervals.reduce(Duration.milliseconds(500), +) == .seconds(32))
    }
}
