import AnswerNinjaCore
import Conversation
import Testing

/// Every scripted caller in Fixtures/conversations against the bundled model and the default policy: each spam
/// class ends with its intent and a polite hangup within policy; wanted callers are never hung up on and their
/// message is captured.
@Suite struct ConversationScriptTests {
    static let scripts = (try? RepositoryFiles.list("Fixtures/conversations", suffix: ".txt")) ?? []

    @Test func thereIsAScriptForEverySpamClassAndTheWantedOnes() {
        let names = Set(Self.scripts.map { String($0.split(separator: "/").last!.dropLast(4)) })
        for intent in Intent.allCases where intent != .unknown {
            #expect(names.contains(intent.rawValue), "no script for \(intent.rawValue)")
        }
    }

    @Test(arguments: scripts)
    func scriptMeetsItsExpectations(path: String) throws {
        let script = try ConversationScript(parsing: try RepositoryFiles.read(path))
        #expect(script.expectation != ConversationScript.Expectation(), "\(path) states no expectation")
        let transcript = ConversationTranscript(running: script, classifier: try IntentClassifier.bundled())
        let unmet = transcript.unmet(script.expectation)
        #expect(unmet.isEmpty, "\(path): \(unmet)\n\(transcript.entries.map { "\($0.caller ?? "") -> \($0.reply?.text ?? "")" }.joined(separator: "\n"))")
        let hangups = transcript.entries.compactMap(\.reply).filter { $0.action == .hangup }
        #expect(hangups.count <= 1)
        if let hangup = hangups.first {
            #expect(hangup == transcript.entries.compactMap(\.reply).last, "nothing is said after the hangup")
            if script.expectation.intent?.isSpam == true, !script.settings.timeWaster {
                #expect(!hangup.text.isEmpty, "a polite final line before hanging up on spam")
                #expect(transcript.durationMs <= 180_000)
                #expect(transcript.turns <= TerminationPolicy().maximumTurns)
            }
        }
        if script.expectation.intent?.isWanted == true {
            #expect(transcript.endReason == nil || transcript.endReason == .maximumDuration, "\(path): a wanted caller was hung up on")
        }
    }

    @Test(arguments: [
        ("", "no steps"),
        ("> ", "with nothing said"),
        ("dtmf 12", "one of 0-9"),
        ("wait soon", "takes seconds"),
        ("@persona pirate\n> hi", "unknown persona pirate"),
        ("@expect intent=spamspam\n> hi", "unknown intent"),
        ("@expect end=maybe\n> hi", "end=hangup or end=none"),
        ("hello there", "expected `>`"),
    ])
    func refusesABadScriptNamingTheProblem(text: String, message: String) {
        #expect {
            _ = try ConversationScript(parsing: text)
        } throws: { error in
            (error as? ConversationError)?.message.contains(message) == true
        }
    }

    @Test func parsesStepsSettingsAndExpectations() throws {
        let script = try ConversationScript(parsing: """
            @persona humorous
            @user Sam
            @challenge on
            @expect intent=scam end=hangup message=no transfer=no
            > hi
            dtmf #
            wait 2.5s
            """)
        #expect(script.settings.persona == .humorous)
        #expect(script.settings.userName == "Sam")
        #expect(script.settings.challenge)
        #expect(script.expectation == .init(intent: .scam, end: "hangup", message: false, transfer: false))
        #expect(script.steps == [.say("hi"), .dtmf("#"), .wait(.milliseconds(2500))])
    }
}
