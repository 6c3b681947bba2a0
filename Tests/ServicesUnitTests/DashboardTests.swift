@testable import AnswerNinjaServices
import Store
import Testing

@Suite struct DashboardTests {
    @Test func formBodiesDecodePlusAndPercentAndTheLastOfARepeatedNameWins() {
        let form = FormBody.parse("email=a%40example.com&password=two+words%2B&empty=&flag&csrf=1&csrf=2")
        #expect(form == ["email": "a@example.com", "password": "two words+", "empty": "", "flag": "", "csrf": "2"])
        #expect(FormBody.parse("").isEmpty)
        // And back: a number's `+` and a phrase's spaces survive the round trip (a bare `+` would read as a space).
        let fields = [("number", "+1415 555"), ("q", "thank you & more=")]
        let encoded = FormBody.encode(fields)
        #expect(encoded == "number=%2B1415%20555&q=thank%20you%20%26%20more%3D")
        #expect(FormBody.parse(encoded) == ["number": "+1415 555", "q": "thank you & more="])
    }

    @Test func tokensCompareWholeAndNeverEmpty() {
        #expect(DashboardSecurity.same("abc", "abc"))
        #expect(!DashboardSecurity.same("abd", "abc") && !DashboardSecurity.same("ab", "abc") && !DashboardSecurity.same(nil, "abc"))
        #expect(!DashboardSecurity.same("", ""), "an empty expected token matches nothing")
    }

    @Test func historyDaysAreUTCAndImpossibleDatesAreRefused() {
        #expect(DashboardRoutes.day("1970-01-02") == 86_400_000)
        #expect(DashboardRoutes.day("2026-02-30") == nil && DashboardRoutes.day("2026-13-01") == nil && DashboardRoutes.day("yesterday") == nil)
        #expect(DashboardRoutes.time(86_400_000) == "1970-01-02 00:00:00 UTC")
        #expect(DashboardRoutes.pathComponent("a84b@127.0.0.1/x y") == "a84b@127.0.0.1%2Fx%20y")
    }

    /// One row per turn with stage times, a bar per stage on one scale, the figures in words; nothing without them.
    @Test func theWaterfallDrawsEachTurnsStagesAndEscapesNothingItDidNotWrite() throws {
        #expect(LatencyWaterfall.svg([CallTurn(turn: 1, at: 0, callerText: "hi", replyText: "hello")]) == nil)
        let turns = [
            CallTurn(turn: 1, at: 0, callerText: "a", replyText: "b", latencies: ["stt_final": 40, "reply": 2, "tts_first": 5, "rtp_first": 9]),
            CallTurn(turn: 2, at: 0, callerText: "c", replyText: "d", latencies: ["stt_final": 180, "reply": 1]),
        ]
        let svg = try #require(LatencyWaterfall.svg(turns))
        #expect(svg.components(separatedBy: "<rect").count - 1 == 6 + 4, "six bars and four legend swatches")
        #expect(svg.contains("turn 1") && svg.contains("turn 2") && svg.contains(">56 ms<") && svg.contains(">181 ms<"))
        #expect(svg.contains("Turn 1: stt_final 40 ms, reply 2 ms, tts_first 5 ms, rtp_first 9 ms; Turn 2: stt_final 180 ms, reply 1 ms"))
    }

    /// 25 hourly slots from the hour `since` falls in; a bar only where there were calls, the tallest full height.
    @Test func theHourChartHasABarPerHourWithCalls() {
        let since: Int64 = 1_000 * 3_600_000 + 1_234
        let svg = DashboardRoutes.hourChart([(hour: 1_000 * 3_600_000, calls: 2), (hour: 1_003 * 3_600_000, calls: 4)], since: since)
        #expect(svg.components(separatedBy: "<rect").count - 1 == 2)
        #expect(svg.contains(#"x="0" y="55.0" width="16" height="50.0""#) && svg.contains(#"x="60" y="5.0" width="16" height="100.0""#))
        #expect(svg.contains("<title>4</title>") && svg.contains(": 2; "))
    }
}
