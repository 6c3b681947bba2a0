import Foundation

/// What the classifier says about one utterance.
public struct IntentClassification: Codable, Sendable, Equatable {
    public struct Alternative: Codable, Sendable, Equatable {
        public var intent: Intent
        public var confidence: Double
        public init(intent: Intent, confidence: Double) {
            self.intent = intent
            self.confidence = confidence
        }
    }

    /// The answer: the most probable class, or `unknown` when its probability is below the threshold.
    public var intent: Intent
    /// The calibrated probability of the most probable class (also when the answer is `unknown` by threshold).
    public var confidence: Double
    /// The next classes by probability (at most three), for the record and the dashboard.
    public var alternatives: [Alternative]

    public init(intent: Intent, confidence: Double, alternatives: [Alternative] = []) {
        self.intent = intent
        self.confidence = confidence
        self.alternatives = alternatives
    }
}

/// The intent model with its decision threshold. Thread-safe (immutable); a classification costs one feature
/// extraction and one sparse dot product per class (benchmarked in Benchmarks/, target 50 µs).
public struct IntentClassifier: Sendable {
    /// Below this calibrated probability the answer is `unknown`. With a calibrated model, 0.5 means "more likely
    /// right than wrong"; the original used 0.7 on uncalibrated scores.
    public static let defaultThreshold = 0.5

    public let model: IntentModel
    public let threshold: Double

    public init(model: IntentModel, threshold: Double = Self.defaultThreshold) {
        self.model = model
        self.threshold = threshold
    }

    /// The model that ships in this module's resources (trained by `answer-ninja train-intents`).
    public static func bundled(threshold: Double = Self.defaultThreshold) throws -> IntentClassifier {
        guard let url = Bundle.module.url(forResource: "intent-model", withExtension: "json") else {
            throw ConversationError.invalidModel("the bundled intent-model.json is missing from the Conversation resources")
        }
        return IntentClassifier(model: try IntentModel(json: try Data(contentsOf: url)), threshold: threshold)
    }

    public func classify(_ text: String) -> IntentClassification {
        let probabilities = model.probabilities(of: text)
        let ranked = probabilities.indices.sorted { probabilities[$0] > probabilities[$1] || (probabilities[$0] == probabilities[$1] && $0 < $1) }
        let best = ranked[0]
        let intent = probabilities[best] >= threshold ? model.classes[best] : .unknown
        return IntentClassification(
            intent: intent,
            confidence: probabilities[best],
            alternatives: ranked.dropFirst().prefix(3).map { .init(intent: model.classes[$0], confidence: probabilities[$0]) }
        )
    }
}
