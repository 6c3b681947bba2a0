import Conversation
import Testing

@Suite struct TurnCompletionTests {
    @Test(arguments: [
        "hi this is john from the pharmacy",
        "I'm calling about your car's extended warranty",
        "who is this",
        "yes",
        "front right",
        "press one",
    ])
    func aTurnThatEndsOnAWordASentenceCanEndOnIsFinished(_ text: String) {
        #expect(TurnCompletion.judge(text) == .finished)
    }

    @Test(arguments: [
        "I'm calling about the",
        "we have a special offer and",
        "this is a reminder for your appointment on",
        "my name is um",
        "well I",
        "you could",
        "it's about your",
    ])
    func aTurnThatStopsOnAWordThatLeadsOnIsContinuing(_ text: String) {
        #expect(TurnCompletion.judge(text) == .continuing)
    }

    @Test func markersCaseAndAlternatePronunciationsDoNotCount() {
        // pocketsphinx writes silences and noises as markers, and alternate pronunciations with a suffix.
        #expect(TurnCompletion.judge("calling about the(2) <sil>") == .continuing)
        #expect(TurnCompletion.judge("THE PHARMACY [noise] ++breath++") == .finished)
        #expect(TurnCompletion.judge("AND") == .continuing)
        #expect(TurnCompletion.judge("your order, and") == .continuing)
        #expect(TurnCompletion.judge("your order.") == .finished)
    }

    @Test func noWordsIsNoVerdict() {
        #expect(TurnCompletion.judge("") == .unknown)
        #expect(TurnCompletion.judge("  <sil> [noise] ") == .unknown)
    }
}
