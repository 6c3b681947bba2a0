import Conversation
import Testing

@Suite struct IntentFeaturesTests {
    @Test func normalisesCaseDigitsAndPunctuation() {
        #expect(String(decoding: IntentFeatures.normalise("It's 4 PM, OK?"), as: UTF8.self) == "its four pm ok")
        #expect(String(decoding: IntentFeatures.normalise("  Hello,   WORLD!!  "), as: UTF8.self) == "hello world")
        #expect(String(decoding: IntentFeatures.normalise("call 911"), as: UTF8.self) == "call nine one one")
    }

    @Test func hashesAreSortedUniqueAndDeterministic() {
        let a = IntentFeatures.hashes(of: "your verification code is four eight two")
        #expect(a == IntentFeatures.hashes(of: "Your verification code is 4 8 2"))
        #expect(a == a.sorted())
        #expect(Set(a).count == a.count)
        #expect(!a.isEmpty)
        #expect(a != IntentFeatures.hashes(of: "your verification code is four eight three"))
        #expect(IntentFeatures.hashes(of: "").isEmpty)
    }

    @Test func wordOrderMattersThroughBigrams() {
        #expect(IntentFeatures.hashes(of: "dog bites man") != IntentFeatures.hashes(of: "man bites dog"))
    }
}
