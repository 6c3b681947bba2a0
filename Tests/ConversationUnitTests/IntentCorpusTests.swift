import AnswerNinjaCore
import Conversation
import Testing

@Suite struct IntentCorpusTests {
    static let small = """
        # comment
        @slot who = Mike | Sarah
        @slot what = solar panels | windows

        [sales_call]
        t: hi this is {who} about {what}
        t: we install {what} in your area
        t: second template
        t: third template
        t: fourth template
        t: fifth template

        [personal]
        t: hey it's {who}
        """

    @Test func parsesSlotsSectionsAndTemplatesWithIndexKeys() throws {
        let corpus = try IntentCorpus(parsing: Self.small)
        #expect(corpus.slots["who"] == ["Mike", "Sarah"])
        #expect(corpus.templates.count == 7)
        #expect(corpus.templates[0].key == "sales_call/0")
        #expect(corpus.templates[6].key == "personal/0", "indices restart per intent")
    }

    @Test func splitsByTemplateIndexNeverBySentence() {
        #expect((0..<10).map { IntentCorpus.Split(templateIndex: $0) } == [.train, .train, .train, .calibration, .test, .train, .train, .train, .calibration, .test])
        #expect(IntentCorpus.Split(templateKey: "scam/9") == .test)
        #expect(IntentCorpus.Split(templateKey: "scam/x") == nil)
        #expect(IntentCorpus.Split(templateKey: "nonsense") == nil)
    }

    @Test func expansionIsDeterministicFillsEverySlotAndStaysInItsTemplate() throws {
        let corpus = try IntentCorpus(parsing: Self.small)
        let first = corpus.expand(count: 4)
        #expect(first == corpus.expand(count: 4))
        #expect(!first.contains { $0.text.contains("{") || $0.text.contains("}") })
        let fromFirstTemplate = first.filter { $0.templateKey == "sales_call/0" }.map(\.text)
        #expect((2...4).contains(fromFirstTemplate.count), "2 × 2 slot values give at most 4 distinct sentences")
        #expect(Set(fromFirstTemplate).count == fromFirstTemplate.count)
        // Adding a template elsewhere does not change this template's sentences.
        let grown = try IntentCorpus(parsing: Self.small + "\nt: another personal template\n")
        #expect(grown.expand(count: 4).filter { $0.templateKey == "sales_call/0" }.map(\.text) == fromFirstTemplate)
        // Templates without slots give one sentence however many are asked for.
        #expect(first.filter { $0.templateKey == "sales_call/2" }.map(\.text) == ["second template"])
    }

    @Test(arguments: [
        ("[sales_call]\nt: hi {nobody}", "undefined slot {nobody}"),
        ("t: before any section", "line 1: a template before any [intent]"),
        ("[no_such_intent]", "line 1: unknown intent [no_such_intent]"),
        ("@slot a = x | | y", "line 1: slot a has an empty value"),
        ("@slot a = x\n@slot a = y", "line 2: slot a is defined twice"),
        ("[scam]\n[scam]", "line 2: [scam] appears twice"),
        ("[scam]\nwhat is this", "line 2: expected"),
        ("[scam]\nt:   ", "line 2: an empty template"),
    ])
    func refusesABadCorpusNamingTheLine(text: String, message: String) {
        #expect {
            _ = try IntentCorpus(parsing: text)
        } throws: { error in
            guard let error = error as? ConversationError else { return false }
            return error.code == .invalidCorpus && error.message.contains(message)
        }
    }

    @Test func theProjectCorpusCoversEveryIntentWithHeldOutTemplates() throws {
        let corpus = try IntentCorpus(parsing: try RepositoryFiles.read("Fixtures/intents/corpus.txt"))
        for intent in Intent.allCases {
            let templates = corpus.templates.filter { $0.intent == intent }
            #expect(templates.count >= 20, "\(intent.rawValue) has \(templates.count) templates")
            #expect(templates.contains { IntentCorpus.Split(templateIndex: $0.index) == .test }, "\(intent.rawValue) has no test template")
        }
    }
}
