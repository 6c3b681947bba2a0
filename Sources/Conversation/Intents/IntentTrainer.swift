import AnswerNinjaCore
import Foundation

/// Trains an `IntentModel` deterministically: the same corpus and options give the same bytes on every run.
///
/// Multinomial logistic regression, fitted by stochastic gradient descent with AdaGrad step sizes and L2 on the
/// weights a step touches, in an order fixed by a seeded generator; features seen in fewer than
/// `minimumDocumentFrequency` training sentences are dropped. The weights are then quantised (int8 per class,
/// which is what ships), a temperature is fitted on the calibration templates by minimising their negative
/// log-likelihood (golden-section search on log T), and every evaluation set is scored with the shipped weights.
public struct IntentTrainer: Sendable {
    public struct Options: Sendable, Equatable {
        public var epochs = 30
        public var learningRate = 0.4
        public var l2 = 1e-4
        public var minimumDocumentFrequency = 2
        public var seed: UInt64 = 0x4E49_4E4A_4100_0001
        /// The threshold the evaluation reports coverage for (the classifier's default).
        public var threshold = IntentClassifier.defaultThreshold
        public var expansionsPerTemplate = 0
        public init() {}
    }

    public var options: Options

    public init(options: Options = Options()) {
        self.options = options
    }

    /// Trains on `training`, calibrates on `calibration`, scores every set in `evaluate`.
    public func train(
        training: [IntentCorpus.Example],
        calibration: [IntentCorpus.Example],
        evaluate: [String: [IntentCorpus.Example]],
        corpusSHA256: String
    ) throws -> IntentModel {
        let classes = Intent.allCases
        let classIndex = Dictionary(uniqueKeysWithValues: classes.enumerated().map { ($1, $0) })
        guard Set(training.map(\.intent)).count == classes.count else {
            let missing = Set(classes).subtracting(training.map(\.intent)).map(\.rawValue).sorted()
            throw ConversationError.invalidCorpus("no training examples for \(missing.joined(separator: ", "))")
        }
        let trainingHashes = training.map { IntentFeatures.hashes(of: $0.text) }

        // Vocabulary: features in at least minimumDocumentFrequency sentences, in hash order (deterministic).
        var documentFrequency: [UInt64: Int] = [:]
        for hashes in trainingHashes {
            for hash in hashes { documentFrequency[hash, default: 0] += 1 }
        }
        let vocabulary = documentFrequency.filter { $0.value >= options.minimumDocumentFrequency }.keys.sorted()
        let rows = Dictionary(uniqueKeysWithValues: vocabulary.enumerated().map { ($1, Int32($0)) })
        let classCount = classes.count
        let samples: [(rows: [Int], label: Int)] = zip(trainingHashes, training).map { hashes, example in
            (hashes.compactMap { rows[$0].map(Int.init) }, classIndex[example.intent]!)
        }

        var weights = [Double](repeating: 0, count: vocabulary.count * classCount)
        var squaredGradients = [Double](repeating: 0, count: vocabulary.count * classCount)
        var bias = [Double](repeating: 0, count: classCount)
        var biasSquaredGradients = [Double](repeating: 0, count: classCount)
        var order = Array(samples.indices)
        var generator = SplitMix64(state: options.seed)
        let epsilon = 1e-8
        var scores = [Double](repeating: 0, count: classCount)
        for _ in 0..<options.epochs {
            generator.shuffle(&order)
            for sampleIndex in order {
                let sample = samples[sampleIndex]
                guard !sample.rows.isEmpty else { continue }
                let x = 1 / Double(sample.rows.count).squareRoot()
                for c in 0..<classCount { scores[c] = bias[c] }
                for row in sample.rows {
                    let base = row * classCount
                    for c in 0..<classCount { scores[c] += weights[base + c] * x }
                }
                let top = scores.max()!
                var total = 0.0
                for c in 0..<classCount {
                    scores[c] = Foundation.exp(scores[c] - top)
                    total += scores[c]
                }
                for c in 0..<classCount {
                    let gradient = scores[c] / total - (c == sample.label ? 1 : 0)
                    scores[c] = gradient
                    biasSquaredGradients[c] += gradient * gradient
                    bias[c] -= options.learningRate * gradient / (biasSquaredGradients[c].squareRoot() + epsilon)
                }
                for row in sample.rows {
                    let base = row * classCount
                    for c in 0..<classCount {
                        let g = scores[c] * x + options.l2 * weights[base + c]
                        squaredGradients[base + c] += g * g
                        weights[base + c] -= options.learningRate * g / (squaredGradients[base + c].squareRoot() + epsilon)
                    }
                }
            }
        }

        // Quantise: int8 per class, scale = largest magnitude / 127.
        var scales = [Float](repeating: 0, count: classCount)
        for c in 0..<classCount {
            var largest = 0.0
            for row in 0..<vocabulary.count { largest = max(largest, abs(weights[row * classCount + c])) }
            scales[c] = largest > 0 ? Float(largest / 127) : 1
        }
        var quantisedBytes = [UInt8](repeating: 0, count: weights.count)
        for i in 0..<weights.count {
            let q = (weights[i] / Double(scales[i % classCount])).rounded()
            quantisedBytes[i] = UInt8(bitPattern: Int8(max(-127, min(127, q))))
        }
        let quantised = Data(quantisedBytes)
        var featureBytes = Data(capacity: vocabulary.count * 8)
        for hash in vocabulary {
            withUnsafeBytes(of: hash.littleEndian) { featureBytes.append(contentsOf: $0) }
        }
        let summary = IntentModel.TrainingSummary(
            examples: training.count,
            calibrationExamples: calibration.count,
            features: vocabulary.count,
            epochs: options.epochs,
            learningRate: options.learningRate,
            l2: options.l2,
            minimumDocumentFrequency: options.minimumDocumentFrequency,
            expansionsPerTemplate: options.expansionsPerTemplate
        )
        var file = IntentModel.File(
            format: IntentModel.format,
            corpusSHA256: corpusSHA256,
            classes: classes,
            temperature: 1,
            features: featureBytes.base64EncodedString(),
            scales: scales,
            bias: bias.map { Float($0) },
            weights: quantised.base64EncodedString(),
            training: summary,
            evaluation: [:]
        )
        var model = try IntentModel(file: file)

        // Temperature on the calibration templates.
        let calibrationLogits = calibration.map { (classIndex[$0.intent]!, model.logits(of: $0.text)) }
        if !calibrationLogits.isEmpty {
            file.temperature = Self.fitTemperature(calibrationLogits)
        }
        model = try IntentModel(file: file)
        for (name, examples) in evaluate {
            let predictions = examples.map { (truth: $0.intent, probabilities: model.probabilities(of: $0.text)) }
            file.evaluation[name] = IntentEvaluation(classes: classes, predictions: predictions, threshold: options.threshold)
        }
        return try IntentModel(file: file)
    }

    /// The temperature in [0.05, 20] minimising the negative log-likelihood, rounded to 4 decimals.
    static func fitTemperature(_ logits: [(label: Int, scores: [Float])]) -> Double {
        func loss(_ logTemperature: Double) -> Double {
            let t = Foundation.exp(logTemperature)
            var total = 0.0
            for (label, scores) in logits {
                total -= Foundation.log(max(1e-12, softmax(scores, temperature: t)[label]))
            }
            return total
        }
        var low = Foundation.log(0.05)
        var high = Foundation.log(20.0)
        let ratio = (5.0.squareRoot() - 1) / 2
        for _ in 0..<60 {
            let a = high - ratio * (high - low)
            let b = low + ratio * (high - low)
            if loss(a) < loss(b) { high = b } else { low = a }
        }
        return (Foundation.exp((low + high) / 2) * 10_000).rounded() / 10_000
    }
}
