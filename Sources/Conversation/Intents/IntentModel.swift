import Foundation

/// A trained intent model: multinomial logistic regression over `IntentFeatures`, calibrated by a temperature.
///
/// The file (`Sources/Conversation/Resources/intent-model.json`, written by `answer-ninja train-intents`) keeps
/// the feature hashes and the weights as base64 (int8 per class with a per-class scale: 17 bytes per feature),
/// the SHA-256 of the corpus it was trained from, and the held-out evaluation of exactly these weights.
public struct IntentModel: Sendable {
    public static let format = "answer-ninja-intent-model/1"

    public var classes: [Intent]
    /// Feature hash → row of `weights`.
    var rows: [UInt64: Int32]
    /// Row-major: `weights[row * classes.count + class]`.
    var weights: [Float]
    var bias: [Float]
    public var temperature: Double
    public var file: File

    /// The JSON form.
    public struct File: Codable, Sendable, Equatable {
        public var format: String
        public var corpusSHA256: String
        public var classes: [Intent]
        public var temperature: Double
        /// Little-endian UInt64 feature hashes, base64.
        public var features: String
        /// Per class: weight = int8 × scale.
        public var scales: [Float]
        public var bias: [Float]
        /// int8, row-major (feature, class), base64.
        public var weights: String
        public var training: TrainingSummary
        public var evaluation: [String: IntentEvaluation]

        enum CodingKeys: String, CodingKey {
            case format
            case corpusSHA256 = "corpus_sha256"
            case classes, temperature, features, scales, bias, weights, training, evaluation
        }
    }

    public struct TrainingSummary: Codable, Sendable, Equatable {
        public var examples: Int
        public var calibrationExamples: Int
        public var features: Int
        public var epochs: Int
        public var learningRate: Double
        public var l2: Double
        public var minimumDocumentFrequency: Int
        public var expansionsPerTemplate: Int

        enum CodingKeys: String, CodingKey {
            case examples
            case calibrationExamples = "calibration_examples"
            case features, epochs
            case learningRate = "learning_rate"
            case l2
            case minimumDocumentFrequency = "minimum_document_frequency"
            case expansionsPerTemplate = "expansions_per_template"
        }
    }

    /// Loads a model file; a wrong format, a length that does not match or an unknown class is an error.
    public init(file: File) throws {
        guard file.format == Self.format else {
            throw ConversationError.invalidModel("model format \(file.format), expected \(Self.format)")
        }
        guard let featureBytes = Data(base64Encoded: file.features), let weightBytes = Data(base64Encoded: file.weights) else {
            throw ConversationError.invalidModel("features or weights are not base64")
        }
        let classCount = file.classes.count
        guard classCount > 1, featureBytes.count % 8 == 0, file.scales.count == classCount, file.bias.count == classCount,
            weightBytes.count == featureBytes.count / 8 * classCount, file.temperature > 0
        else {
            throw ConversationError.invalidModel("sizes do not match: \(classCount) classes, \(featureBytes.count / 8) features, \(weightBytes.count) weights")
        }
        var rows: [UInt64: Int32] = [:]
        rows.reserveCapacity(featureBytes.count / 8)
        featureBytes.withUnsafeBytes { raw in
            for row in 0..<(raw.count / 8) {
                rows[UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: row * 8, as: UInt64.self))] = Int32(row)
            }
        }
        var weights = [Float](repeating: 0, count: weightBytes.count)
        weightBytes.withUnsafeBytes { raw in
            for i in 0..<raw.count {
                weights[i] = Float(Int8(bitPattern: raw[i])) * file.scales[i % classCount]
            }
        }
        self.classes = file.classes
        self.rows = rows
        self.weights = weights
        self.bias = file.bias
        self.temperature = file.temperature
        self.file = file
    }

    public init(json: Data) throws {
        let file: File
        do {
            file = try JSONDecoder().decode(File.self, from: json)
        } catch {
            throw ConversationError.invalidModel("not an intent model file: \(error)")
        }
        try self.init(file: file)
    }

    public func jsonData() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try encoder.encode(file)
    }

    /// Class scores before the softmax (logits at temperature 1).
    func logits(of text: String) -> [Float] {
        logits(hashes: IntentFeatures.hashes(of: text))
    }

    func logits(hashes: [UInt64]) -> [Float] {
        var scores = bias
        var present = 0
        for hash in hashes where rows[hash] != nil { present += 1 }
        guard present > 0 else { return scores }
        let x = 1 / Float(present).squareRoot()
        let classCount = classes.count
        weights.withUnsafeBufferPointer { w in
            scores.withUnsafeMutableBufferPointer { s in
                for hash in hashes {
                    guard let row = rows[hash] else { continue }
                    let base = Int(row) * classCount
                    for c in 0..<classCount {
                        s[c] += w[base + c] * x
                    }
                }
            }
        }
        return scores
    }

    /// Calibrated class probabilities, in `classes` order.
    public func probabilities(of text: String) -> [Double] {
        softmax(logits(of: text), temperature: temperature)
    }

    func probabilities(hashes: [UInt64]) -> [Double] {
        softmax(logits(hashes: hashes), temperature: temperature)
    }
}

func softmax(_ scores: [Float], temperature: Double) -> [Double] {
    let scaled = scores.map { Double($0) / temperature }
    let top = scaled.max() ?? 0
    let exponentials = scaled.map { Foundation.exp($0 - top) }
    let total = exponentials.reduce(0, +)
    return exponentials.map { $0 / total }
}
