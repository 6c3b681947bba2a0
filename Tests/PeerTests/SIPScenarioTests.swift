import AnswerNinjaTestSupport
import Foundation
import Testing

/// SIPp (Debian's sip-tester) as a trunk running the call flows of RFC 3262, 4028, 3326 and 3261 §9 against
/// `serve`, one scenario file each in Tests/PeerTests/SIPp/. A scenario fails (non-zero exit) when a message is
/// missing, unexpected, or lacks a header it checks.
@Suite(.serialized) struct SIPScenarioTests {
    /// Runs `scenario` once against `gateway`; returns SIPp's output after checking it passed.
    static func run(_ scenario: String, against gateway: AnswerNinjaProcess, calls: Int = 1) async throws -> String {
        let sipPort = try #require(gateway.sipPort)
        let file = AnswerNinjaProcess.packageRootFromSource() + "/Tests/PeerTests/SIPp/\(scenario)"
        let result = try await PeerEnvironment.run(
            try PeerEnvironment.require("sipp", package: "sip-tester"),
            ["-sf", file, "-s", "demo", "127.0.0.1:\(sipPort)", "-i", "127.0.0.1", "-p", String(try PeerEnvironment.freePort()),
             "-m", String(calls), "-r", "1", "-nostdin", "-timeout", "30s", "-timeout_error"],
            timeout: .seconds(45)
        )
        #expect(result.status == 0, "SIPp \(scenario): \(result.output.suffix(2000))")
        return result.output
    }

    /// The log lines of `gateway` that contain `text`.
    static func lines(_ gateway: AnswerNinjaProcess, containing text: String) -> [Substring] {
        gateway.process.log().split(separator: "\n").filter { $0.contains(text) }
    }

    /// A trunk that requires 100rel and session timers: reliable 180, PRACK, then the 200 with Session-Expires and
    /// Require: timer; DTMF 4 and # in INFO; REFER declined 603; an UPDATE refresh answered with the timer; the
    /// caller's BYE with its Reason logged.
    @Test(.enabled(if: PeerEnvironment.available("sipp")), .timeLimit(.minutes(1)))
    func prackInfoReferAndUpdate() async throws {
        let gateway = try await AnswerNinjaProcess.start()
        try await withPeer(gateway) { gateway in
            _ = try await Self.run("prack-info-update.xml", against: gateway)
            try await gateway.process.waitUntilReady(timeout: .seconds(10)) { !Self.lines(gateway, containing: "call ended").isEmpty }
            let ended = try #require(Self.lines(gateway, containing: "call ended").first)
            #expect(ended.contains(#""dtmf":"4#""#), "both digits, * and # mapped from events 10/11: \(ended)")
            #expect(ended.contains(#""hangup_side":"remote""#) && ended.contains("Normal call clearing"), "the caller's Reason: \(ended)")
            let answered = try #require(Self.lines(gateway, containing: "call answered").first)
            #expect(answered.contains(#""session_expires":"1800s""#) && answered.contains(#""caller":"+15550199""#), "\(answered)")
        }
    }

    /// The gateway as refresher: with Min-SE lowered to 2 s, a 4 s session is refreshed every 2 s, by UPDATE when
    /// the caller allows it, else by re-INVITE (ACKed).
    @Test(.enabled(if: PeerEnvironment.available("sipp")), .timeLimit(.minutes(1)), arguments: [("session-refresh.xml", "UPDATE"), ("session-refresh-reinvite.xml", "INVITE")])
    func theGatewayRefreshesTheSession(scenario: String, method: String) async throws {
        let gateway = try await AnswerNinjaProcess.start(environment: ["ANSWER_NINJA_SIP_MIN_SESSION_EXPIRES": "2s"])
        try await withPeer(gateway) { gateway in
            _ = try await Self.run(scenario, against: gateway)
            try await gateway.process.waitUntilReady(timeout: .seconds(10)) { !Self.lines(gateway, containing: "call ended").isEmpty }
            #expect(Self.lines(gateway, containing: "session refreshed").count == 2, "two refreshes answered 200")
            #expect(Self.lines(gateway, containing: "session refresh sent").allSatisfy { $0.contains(#""method":"\#(method)""#) })
        }
    }

    /// A 422 with Min-SE for a too-short interval, then a caller that never refreshes: the gateway ends the call
    /// itself, with a BYE whose Reason says the session timer expired.
    @Test(.enabled(if: PeerEnvironment.available("sipp")), .timeLimit(.minutes(1)))
    func a422ThenTheSessionExpires() async throws {
        let gateway = try await AnswerNinjaProcess.start(environment: ["ANSWER_NINJA_SIP_MIN_SESSION_EXPIRES": "2s"])
        try await withPeer(gateway) { gateway in
            _ = try await Self.run("session-expiry.xml", against: gateway)
            try await gateway.process.waitUntilReady(timeout: .seconds(10)) { !Self.lines(gateway, containing: "call ended").isEmpty }
            let ended = try #require(Self.lines(gateway, containing: "call ended").first)
            #expect(ended.contains(#""hangup_side":"local""#) && ended.contains("Session timer expired"), "\(ended)")
        }
    }

    /// CANCEL on both sides of the answer: before it (the 200 held for a PRACK), 200 + 487 and the call released;
    /// after it, 200 and no effect, the call ends by BYE; a CANCEL for no INVITE, 481.
    @Test(.enabled(if: PeerEnvironment.available("sipp")), .timeLimit(.minutes(1)))
    func cancelRacesOnBothSidesOfTheAnswer() async throws {
        let gateway = try await AnswerNinjaProcess.start()
        try await withPeer(gateway) { gateway in
            _ = try await Self.run("cancel-before-answer.xml", against: gateway, calls: 2)
            #expect(Self.lines(gateway, containing: "call cancelled").count == 2)
            #expect(Self.lines(gateway, containing: "call answered").isEmpty, "a cancelled call is never answered")
            _ = try await Self.run("cancel-after-answer.xml", against: gateway, calls: 2)
            try await gateway.process.waitUntilReady(timeout: .seconds(10)) { Self.lines(gateway, containing: "call ended").count == 2 }
            #expect(Self.lines(gateway, containing: "call ended").allSatisfy { $0.contains(#""hangup_side":"remote""#) })
        }
    }
}
