import AnswerNinjaCore
import Conversation
import Testing

/// The dialog policy with the classifier's answers given, so that each rule is tested apart from the model.
@Suite struct DialogStateMachineTests {
    static func said(_ intent: Intent, _ confidence: Double = 0.9) -> IntentClassification {
        IntentClassification(intent: intent, confidence: confidence)
    }

    /// Feeds `utterances` 10 s apart; returns every reply.
    static func run(_ dialog: inout DialogStateMachine, _ utterances: [(String, IntentClassification)], start: Int = 10) -> [DialogTurn] {
        var replies: [DialogTurn] = []
        for (index, (text, classification)) in utterances.enumerated() {
            if let reply = dialog.callerSaid(text, classification: classification, at: .seconds(start + 10 * index)) { replies.append(reply) }
        }
        return replies
    }

    @Test func openingSaysItIsAnAIAssistantAndThatTheCallIsRecorded() {
        var dialog = DialogStateMachine(settings: DialogSettings(userName: "Sam"))
        let opening = dialog.open()
        #expect(opening.text.contains("AI assistant"))
        #expect(opening.text.contains("Sam"))
        #expect(opening.text.contains("recorded"))
        #expect(opening.action == .continue)
        var quiet = DialogStateMachine(settings: DialogSettings(announceRecording: false))
        #expect(!quiet.open().text.contains("recorded"))
    }

    @Test func spamIsDeclinedEverFirmerThenEndedPolitelyWithinTheTurnLimit() {
        var dialog = DialogStateMachine(settings: DialogSettings())
        _ = dialog.open()
        let replies = Self.run(&dialog, Array(repeating: ("about your car warranty", Self.said(.salesCall)), count: 8))
        #expect(replies.first?.stage == .politeDecline)
        #expect(replies.first?.text.contains("do-not-call") == true)
        #expect(replies.dropFirst().first?.stage == .firmRejection)
        let last = try! #require(replies.last)
        #expect(last.action == .hangup)
        #expect(last.endReason != nil)
        #expect(!last.text.isEmpty, "always a polite final line")
        #expect(replies.count <= 8)
        #expect(replies.filter { $0.action == .hangup }.count == 1)
        #expect(dialog.callerSaid("hello?", classification: Self.said(.salesCall), at: .seconds(200)) == nil, "nothing after the end")
    }

    @Test func theTurnLimitIsConfigurable() {
        var settings = DialogSettings()
        settings.policy.maximumTurns = 2
        settings.policy.persistenceLimit = 1.1
        settings.policy.frustrationLimit = 1.1
        var dialog = DialogStateMachine(settings: settings)
        _ = dialog.open()
        let replies = Self.run(&dialog, [("buy solar", Self.said(.salesCall)), ("buy solar now", Self.said(.salesCall))])
        #expect(replies.map(\.action) == [.continue, .hangup])
        #expect(replies.last?.endReason == .maximumTurns)
    }

    @Test func aScamGetsOneLineThatGivesNothingAwayThenAHangup() {
        var dialog = DialogStateMachine(settings: DialogSettings(userName: "Sam"))
        _ = dialog.open()
        let replies = Self.run(&dialog, [("this is the irs, pay with gift cards", Self.said(.scam))])
        #expect(replies.count == 1)
        #expect(replies[0].action == .hangup)
        #expect(replies[0].endReason == .scam)
        #expect(!replies[0].text.contains("Sam"), "no data about the user")
    }

    @Test(arguments: [Intent.delivery, .appointmentOrPharmacy, .bankFraudAlert, .personal])
    func wantedCallersLeaveAMessageAreOfferedAConnectionAndAreNeverHungUpOn(intent: Intent) {
        var dialog = DialogStateMachine(settings: DialogSettings())
        _ = dialog.open()
        var utterances = [("message for you", Self.said(intent))]
        // Then a long, pushy, frustrated conversation: it still never ends early.
        utterances += Array(repeating: ("come on, this is ridiculous, just listen to me again", Self.said(.salesCall, 0.7)), count: 12)
        let replies = Self.run(&dialog, utterances, start: 5)
        #expect(replies.first?.stage == .takingMessage)
        #expect(replies.first?.text.lowercased().contains("connect") == true)
        #expect(!replies.contains { $0.action == .hangup }, "\(replies.map(\.text))")
        #expect(dialog.message.hasPrefix("message for you"))
        // Only the maximum duration ends it.
        let end = dialog.tick(at: .seconds(180))
        #expect(end?.action == .hangup)
        #expect(end?.endReason == .maximumDuration)
    }

    @Test func aWantedCallerWhoSaysYesIsConnected() {
        var dialog = DialogStateMachine(settings: DialogSettings())
        _ = dialog.open()
        let replies = Self.run(&dialog, [("it's your sister", Self.said(.personal)), ("yes please", Self.said(.unknown, 0.2))])
        #expect(replies.map(\.action) == [.continue, .transfer])
    }

    @Test(arguments: [
        ("yes please", true), ("sure", true), ("okay go on then", true), ("can you connect me to her", true),
        ("okay I'll leave it by the garage door then", false), ("please bring your insurance card", false), ("no thanks", false),
    ])
    func onlyAnAnswerThatMeansYesConnects(answer: String, connects: Bool) {
        var dialog = DialogStateMachine(settings: DialogSettings())
        _ = dialog.open()
        let replies = Self.run(&dialog, [("the driver here with your parcel", Self.said(.delivery)), (answer, Self.said(.unknown, 0.2))])
        #expect((replies.last?.action == .transfer) == connects, "\(answer)")
    }

    @Test(arguments: [Intent.verificationCode, .recordedRobocall])
    func recordedMessagesAreListenedToWithoutTalking(intent: Intent) {
        var dialog = DialogStateMachine(settings: DialogSettings())
        _ = dialog.open()
        let replies = Self.run(&dialog, [("your code is one two three", Self.said(intent)), ("again one two three", Self.said(intent))])
        #expect(replies.allSatisfy { $0.action == .listen && $0.text.isEmpty })
        #expect(dialog.message == "your code is one two three again one two three")
        let quiet = dialog.tick(at: .seconds(60))
        if intent == .verificationCode {
            #expect(quiet == nil, "a one-time code is never hung up on before the maximum duration")
            let end = dialog.tick(at: .seconds(180))
            #expect(end?.action == .hangup)
            #expect(end?.text == "", "and never answered: it ends without a word")
        } else {
            #expect(quiet?.action == .hangup)
            #expect(quiet?.endReason == .recordingEnded)
            #expect(quiet?.text.isEmpty == false)
        }
    }

    @Test func anUnknownCallerIsAskedWhoTheyAreAndNeverHungUpOnEarly() {
        var dialog = DialogStateMachine(settings: DialogSettings())
        _ = dialog.open()
        let replies = Self.run(&dialog, Array(repeating: ("hello", Self.said(.unknown, 0.3)), count: 10))
        #expect(replies.first?.stage == .identifying)
        #expect(!replies.contains { $0.action == .hangup })
        #expect(dialog.tick(at: .seconds(179)) == nil)
        #expect(dialog.tick(at: .seconds(180))?.endReason == .maximumDuration)
    }

    @Test func aConfidentlyWantedTurnProtectsTheCallFromLaterSpamTurns() {
        var dialog = DialogStateMachine(settings: DialogSettings())
        _ = dialog.open()
        let replies = Self.run(&dialog, [("the driver here with your package", Self.said(.delivery, 0.65))] + Array(repeating: ("special offer", Self.said(.telemarketing, 0.95)), count: 9))
        #expect(!replies.contains { $0.action == .hangup })
    }

    @Test func thePressOneChallengeIsOfferedAndPassed() {
        var dialog = DialogStateMachine(settings: DialogSettings(challenge: true))
        #expect(dialog.open().text.contains("press 1"))
        #expect(dialog.digit("5", at: .seconds(3)) == nil)
        let passed = dialog.digit("1", at: .seconds(4))
        #expect(passed?.action == .continue)
        #expect(dialog.challengePassed)
        #expect(dialog.digits == "51")
    }

    @Test func theTimeWasterStallsSpamUntilTheMaximumDuration() {
        var dialog = DialogStateMachine(settings: DialogSettings(timeWaster: true))
        _ = dialog.open()
        let replies = Self.run(&dialog, Array(repeating: ("so about the solar panels", Self.said(.salesCall)), count: 15), start: 5)
        #expect(!replies.contains { $0.action == .hangup })
        #expect(Set(replies.map(\.text)).count > 3, "it varies its lines")
        #expect(dialog.tick(at: .seconds(180))?.endReason == .maximumDuration)
    }

    @Test(arguments: Persona.allCases)
    func everyPersonaHasEveryLine(persona: Persona) {
        for line in Persona.Line.allCases {
            #expect(!persona.lines(line).isEmpty, "\(persona) \(line)")
        }
    }
}

/// The original's scores, with values worked out by hand.
@Suite struct DialogScoresTests {
    @Test func persistence() {
        // 6 turns, the last 5 classified all sales, 2 cues, still at a polite decline after 5 turns:
        // 0.3 × 0.6 + 0.3 × 1 + 0.2 × max(0.5, 0.5) + 0.2 × 0.8 = 0.18 + 0.3 + 0.1 + 0.16 = 0.74.
        let value = DialogScores.persistence(turns: 6, recentIntents: Array(repeating: .salesCall, count: 6), persistenceCues: 2, stage: .politeDecline)
        #expect(abs(value - 0.74) < 1e-12)
        #expect(DialogScores.persistence(turns: 0, recentIntents: [], persistenceCues: 0, stage: .opening) == 0)
        // Ten turns, four cues, full repetition, resistance 0.8 → 0.3 + 0.3 + 0.2 + 0.16 = 0.96.
        #expect(abs(DialogScores.persistence(turns: 10, recentIntents: [.scam, .scam], persistenceCues: 4, stage: .identifying) - 0.96) < 1e-12)
    }

    @Test func frustration() {
        #expect(DialogScores.frustration(tones: []) == 0)
        // Tones neutral (0.2), annoyed (0.6), aggressive (1.0): 0.5 × 0.6 + 0.3 × 1.0 + 0.2 × 0.8 = 0.76.
        #expect(abs(DialogScores.frustration(tones: [.neutral, .annoyed, .aggressive]) - 0.76) < 1e-12)
        #expect(CallerTone(utterance: "shut up and listen") == .aggressive)
        #expect(CallerTone(utterance: "this is ridiculous") == .frustrated)
        #expect(CallerTone(utterance: "thank you so much") == .polite)
        #expect(CallerTone(utterance: "I am calling about your account") == .neutral)
    }

    @Test func effectiveness() {
        // Firm rejection after 4 turns with confidence 0.5: 0.4 × 0.6 + 0.3 × 0.6 + 0.3 × 0.5 = 0.57.
        #expect(abs(DialogScores.effectiveness(stage: .firmRejection, turns: 4, replyConfidence: 0.5) - 0.57) < 1e-12)
        #expect(abs(DialogScores.effectiveness(stage: .opening, turns: 12, replyConfidence: 0) - 0.12) < 1e-12)
    }

    @Test func terminationPolicyDefaultsAreTheOriginals() {
        let policy = TerminationPolicy()
        #expect(policy.maximumTurns == 8)
        #expect(policy.maximumDuration == .seconds(180))
        #expect(policy.spamTermination(turns: 8, persistence: 0, frustration: 0, effectiveness: 1) == .maximumTurns)
        #expect(policy.spamTermination(turns: 2, persistence: 0.8, frustration: 0, effectiveness: 1) == .persistence)
        #expect(policy.spamTermination(turns: 2, persistence: 0.79, frustration: 0.9, effectiveness: 1) == .frustration)
        #expect(policy.spamTermination(turns: 4, persistence: 0, frustration: 0, effectiveness: 0.1) == nil, "effectiveness counts only after more than 4 turns")
        #expect(policy.spamTermination(turns: 5, persistence: 0, frustration: 0, effectiveness: 0.29) == .ineffective)
        #expect(policy.spamTermination(turns: 5, persistence: 0.5, frustration: 0.5, effectiveness: 0.3) == nil)
    }
}
