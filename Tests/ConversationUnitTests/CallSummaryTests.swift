import Conversation
import Testing

/// The line a user hears before a wanted caller is put through.
@Suite struct CallSummaryTests {
    @Test func saysWhoWhatAboutAndTheStartOfWhatTheySaid() {
        let line = CallSummary.line(caller: "+14155550142", intent: .personal, said: "hey it's your sister calling about mom's birthday dinner")
        #expect(line == "A call from 1 4 1 5 5 5 5 0 1 4 2, a personal call. They said: hey it's your sister calling about mom's birthday dinner.")
        #expect(CallSummary.line(caller: "+14155550142", intent: .appointmentOrPharmacy, said: "").hasSuffix("about an appointment or a prescription."))
        #expect(CallSummary.line(caller: "+1", intent: .unknown, said: "hi") == "A call from an unknown number. They said: hi.")
        #expect(CallSummary.line(caller: nil, intent: .salesCall, said: "") == "A call from an unknown number, about sales call.")
    }

    @Test func longMessagesAreCutShort() {
        let said = (1...40).map { "word\($0)" }.joined(separator: " ")
        let line = CallSummary.line(caller: "anonymous", intent: nil, said: said, maxWords: 5)
        #expect(line == "A call from an unknown number. They said: word1 word2 word3 word4 word5 ....")
    }
}
