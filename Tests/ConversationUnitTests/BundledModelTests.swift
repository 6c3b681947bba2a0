import AnswerNinjaCore
import Conversation
import Crypto
import Foundation
import Testing

/// The model shipped in the binary: trained from this repository's corpus (CI fails when the corpus changed
/// without a retrain) and meeting the targets on held-out templates, re-measured here, not read back.
@Suite struct BundledModelTests {
    static let classifier = Result { try IntentClassifier.bundled() }

    @Test func recordsTheHashOfTheCorpusItWasTrainedOn() throws {
        var hasher = SHA256()
        hasher.update(data: RepositoryFiles.data("Fixtures/intents/corpus.txt"))
        hasher.update(data: Data([0]))
        hasher.update(data: RepositoryFiles.data("Fixtures/intents/asr.tsv"))
        let hash = hasher.finalize().map { String(format: "%02x", $0) }.joined()
        let model = try Self.classifier.get().model
        #expect(model.file.corpusSHA256 == hash, "the corpus changed: run answer-ninja train-intents")
    }

    @Test func meetsMacroF1AndCalibrationTargetsOnHeldOutTemplates() throws {
        let classifier = try Self.classifier.get()
        let corpus = try IntentCorpus(parsing: try RepositoryFiles.read("Fixtures/intents/corpus.txt"))
        let expansions = classifier.model.file.training.expansionsPerTemplate
        let test = corpus.expand(count: expansions) { IntentCorpus.Split(templateIndex: $0.index) == .test }
        let evaluation = IntentEvaluation(
            classes: classifier.model.classes,
            predictions: test.map { ($0.intent, classifier.model.probabilities(of: $0.text)) },
            threshold: classifier.threshold
        )
        #expect(evaluation.examples >= 200)
        #expect(evaluation.macroF1 >= 0.90, "macro-F1 \(evaluation.macroF1): \(evaluation.f1.sorted { $0.value < $1.value }.prefix(4))")
        #expect(evaluation.expectedCalibrationError <= 0.05, "ECE \(evaluation.expectedCalibrationError)")
        let recorded = try #require(classifier.model.file.evaluation["test_text"])
        #expect(abs(evaluation.macroF1 - recorded.macroF1) < 1e-12, "the recorded evaluation is what the model does")
        #expect(abs(evaluation.expectedCalibrationError - recorded.expectedCalibrationError) < 1e-12)
        #expect(evaluation.examples == recorded.examples && evaluation.accuracy == recorded.accuracy)
        #expect(evaluation.confusion == recorded.confusion)
    }

    @Test func answersUnknownBelowTheThresholdAndGivesAlternatives() throws {
        let model = try Self.classifier.get().model
        let strict = IntentClassifier(model: model, threshold: 0.999_999)
        let answer = strict.classify("hello")
        #expect(answer.intent == .unknown)
        #expect(answer.confidence < 0.999_999)
        let normal = IntentClassifier(model: model)
        let code = normal.classify("your verification code is four eight two nine one six")
        #expect(code.intent == .verificationCode)
        #expect(code.confidence >= 0.5)
        #expect(code.alternatives.count == 3)
        #expect(!code.alternatives.contains { $0.intent == .verificationCode })
        #expect(code.alternatives.map(\.confidence) == code.alternatives.map(\.confidence).sorted(by: >))
    }
}
