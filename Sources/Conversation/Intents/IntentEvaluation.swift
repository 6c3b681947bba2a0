/// How a model does on a labelled set: accuracy, per-class and macro F1 (every class weighs the same, so a rare
/// wanted class counts as much as sales), and the expected calibration error of the top class's probability
/// (10 equal-width bins; ECE = Σ bin share × |accuracy − mean confidence|).
public struct IntentEvaluation: Codable, Sendable, Equatable {
    public var examples: Int
    public var accuracy: Double
    public var macroF1: Double
    public var expectedCalibrationError: Double
    /// Share of examples whose top probability is below the classifier's threshold (answered `unknown`).
    public var belowThreshold: Double
    public var threshold: Double
    public var f1: [String: Double]
    /// confusion[true][predicted] = count, only the non-zero cells.
    public var confusion: [String: [String: Int]]

    enum CodingKeys: String, CodingKey {
        case examples, accuracy
        case macroF1 = "macro_f1"
        case expectedCalibrationError = "expected_calibration_error"
        case belowThreshold = "below_threshold"
        case threshold, f1, confusion
    }

    public static let calibrationBins = 10

    /// Scores `predictions` (the true class and the model's probabilities, in `classes` order).
    public init(classes: [Intent], predictions: [(truth: Intent, probabilities: [Double])], threshold: Double) {
        var confusion: [Intent: [Intent: Int]] = [:]
        var correct = 0
        var below = 0
        var binCount = [Int](repeating: 0, count: Self.calibrationBins)
        var binCorrect = [Int](repeating: 0, count: Self.calibrationBins)
        var binConfidence = [Double](repeating: 0, count: Self.calibrationBins)
        for (truth, probabilities) in predictions {
            let best = probabilities.indices.max { probabilities[$0] < probabilities[$1] } ?? 0
            let predicted = classes[best]
            let confidence = probabilities[best]
            confusion[truth, default: [:]][predicted, default: 0] += 1
            if predicted == truth { correct += 1 }
            if confidence < threshold { below += 1 }
            let bin = min(Self.calibrationBins - 1, Int(confidence * Double(Self.calibrationBins)))
            binCount[bin] += 1
            binConfidence[bin] += confidence
            if predicted == truth { binCorrect[bin] += 1 }
        }
        let total = max(1, predictions.count)
        var f1: [String: Double] = [:]
        for intent in classes {
            let truePositives = Double(confusion[intent]?[intent] ?? 0)
            let predictedCount = Double(classes.reduce(0) { $0 + (confusion[$1]?[intent] ?? 0) })
            let actualCount = Double(confusion[intent]?.values.reduce(0, +) ?? 0)
            guard actualCount > 0 || predictedCount > 0 else { continue }
            let precision = predictedCount > 0 ? truePositives / predictedCount : 0
            let recall = actualCount > 0 ? truePositives / actualCount : 0
            f1[intent.rawValue] = precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0
        }
        var ece = 0.0
        for bin in 0..<Self.calibrationBins where binCount[bin] > 0 {
            let share = Double(binCount[bin]) / Double(total)
            ece += share * abs(Double(binCorrect[bin]) / Double(binCount[bin]) - binConfidence[bin] / Double(binCount[bin]))
        }
        self.examples = predictions.count
        self.accuracy = Double(correct) / Double(total)
        // Summed in class order, not the dictionary's (which changes from process to process), so that the
        // figure is the same to the last bit on every run and the model file is byte-identical.
        let scores = classes.compactMap { f1[$0.rawValue] }
        self.macroF1 = scores.isEmpty ? 0 : scores.reduce(0, +) / Double(scores.count)
        self.expectedCalibrationError = ece
        self.belowThreshold = Double(below) / Double(total)
        self.threshold = threshold
        self.f1 = f1
        self.confusion = Dictionary(uniqueKeysWithValues: confusion.map { truth, row in
            (truth.rawValue, Dictionary(uniqueKeysWithValues: row.map { ($0.key.rawValue, $0.value) }))
        })
    }
}
