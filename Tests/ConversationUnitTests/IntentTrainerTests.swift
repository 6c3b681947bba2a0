import AnswerNinjaCore
import Conversation
import Foundation
import Testing

@Suite struct IntentTrainerTests {
    /// A corpus where each intent has its own vocabulary (its name's words) in varied frames.
    static func syntheticCorpus() throws -> IntentCorpus {
        let frames = [
            "hello i am calling about {topic} today", "this is about {topic} for you", "we want to talk {topic} now",
            "quick question on {topic}", "i have news regarding {topic}", "are you interested in {topic}",
            "let me tell you about {topic} please", "{topic} is why i call", "calling again for {topic}", "one more thing {topic}",
        ]
        var text = "@slot filler = really | truly | honestly\n"
        for intent in Intent.allCases {
            let topic = intent.rawValue.replacingOccurrences(of: "_", with: " ") + " " + intent.rawValue.replacingOccurrences(of: "_", with: "")
            text += "[\(intent.rawValue)]\n"
            for frame in frames { text += "t: {filler} " + frame.replacingOccurrences(of: "{topic}", with: topic) + "\n" }
        }
        return try IntentCorpus(parsing: text)
    }

    static func train(_ corpus: IntentCorpus, options: IntentTrainer.Options) throws -> IntentModel {
        func split(_ s: IntentCorpus.Split) -> [IntentCorpus.Example] {
            corpus.expand(count: 3) { IntentCorpus.Split(templateIndex: $0.index) == s }
        }
        return try IntentTrainer(options: options).train(
            training: split(.train), calibration: split(.calibration), evaluate: ["test_text": split(.test)], corpusSHA256: "test"
        )
    }

    static var quickOptions: IntentTrainer.Options {
        var options = IntentTrainer.Options()
        options.epochs = 8
        options.expansionsPerTemplate = 3
        return options
    }

    @Test func trainingIsDeterministicAndLearnsHeldOutTemplates() throws {
        let corpus = try Self.syntheticCorpus()
        let first = try Self.train(corpus, options: Self.quickOptions)
        let second = try Self.train(corpus, options: Self.quickOptions)
        #expect(try first.jsonData() == second.jsonData(), "same corpus, same options: byte-identical model")
        let evaluation = try #require(first.file.evaluation["test_text"])
        #expect(evaluation.examples > 0)
        #expect(evaluation.macroF1 > 0.95, "\(evaluation.f1)")
        let classifier = IntentClassifier(model: first)
        #expect(classifier.classify("so about the loan offer loanoffer then").intent == .loanOffer)
    }

    @Test func aDifferentSeedGivesADifferentModel() throws {
        let corpus = try Self.syntheticCorpus()
        var options = Self.quickOptions
        let first = try Self.train(corpus, options: options)
        options.seed &+= 1
        #expect(try first.jsonData() != Self.train(corpus, options: options).jsonData())
    }

    @Test func refusesACorpusMissingAnIntent() throws {
        let corpus = try IntentCorpus(parsing: "[scam]\nt: pay with gift cards\nt: the irs will arrest you\n")
        #expect(throws: ConversationError.self) { try Self.train(corpus, options: Self.quickOptions) }
    }

    @Test func modelFileRoundTripsAndRefusesDamage() throws {
        let model = try Self.train(try Self.syntheticCorpus(), options: Self.quickOptions)
        let data = try model.jsonData()
        let reloaded = try IntentModel(json: data)
        #expect(try reloaded.jsonData() == data)
        let text = "we want to talk scam scam now"
        #expect(reloaded.probabilities(of: text) == model.probabilities(of: text))
        let probabilities = model.probabilities(of: text)
        #expect(abs(probabilities.reduce(0, +) - 1) < 1e-9)

        var object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        object["format"] = "something-else/9"
        #expect(throws: ConversationError.self) { try IntentModel(json: try JSONSerialization.data(withJSONObject: object)) }
        object["format"] = IntentModel.format
        object["bias"] = [0.0]
        #expect(throws: ConversationError.self) { try IntentModel(json: try JSONSerialization.data(withJSONObject: object)) }
        #expect(throws: ConversationError.self) { try IntentModel(json: Data("not json".utf8)) }
    }
}

@Suite struct IntentEvaluationTests {
    @Test func computesAccuracyMacroF1AndCalibrationByHand() {
        let classes: [Intent] = [.scam, .personal]
        // Two scams predicted scam (0.9, 0.6), one personal predicted scam (0.7), one personal predicted personal (0.8).
        let evaluation = IntentEvaluation(
            classes: classes,
            predictions: [
                (.scam, [0.9, 0.1]), (.scam, [0.6, 0.4]), (.personal, [0.7, 0.3]), (.personal, [0.2, 0.8]),
            ],
            threshold: 0.65
        )
        #expect(evaluation.accuracy == 0.75)
        // scam: precision 2/3, recall 1 → F1 0.8; personal: precision 1, recall 1/2 → F1 2/3.
        #expect(abs(evaluation.f1["scam"]! - 0.8) < 1e-12)
        #expect(abs(evaluation.f1["personal"]! - 2.0 / 3.0) < 1e-12)
        #expect(abs(evaluation.macroF1 - (0.8 + 2.0 / 3.0) / 2) < 1e-12)
        // Bins: 0.6 (acc 1), 0.7 (acc 0), 0.8 (acc 1), 0.9 (acc 1), one each:
        // ECE = ¼(|1−0.6| + |0−0.7| + |1−0.8| + |1−0.9|) = 0.35.
        #expect(abs(evaluation.expectedCalibrationError - 0.35) < 1e-12)
        #expect(evaluation.belowThreshold == 0.25)
        #expect(evaluation.confusion["personal"]?["scam"] == 1)
    }
}
