import AnswerNinjaCore
import ArgumentParser
import Conversation
import Crypto
import Foundation

/// The corpus files and their hash, shared by `train-intents` and its check.
struct IntentCorpusFiles {
    var corpusPath: String
    var asrPath: String

    /// SHA-256 over the corpus, a zero byte, and the recogniser-noise file (empty when absent): the model records
    /// it, and `train-intents --check` fails when the files changed without a retrain.
    func sha256() throws -> String {
        guard let corpus = FileManager.default.contents(atPath: corpusPath) else {
            throw ValidationError("cannot read the corpus \(corpusPath)")
        }
        var hasher = SHA256()
        hasher.update(data: corpus)
        hasher.update(data: Data([0]))
        hasher.update(data: FileManager.default.contents(atPath: asrPath) ?? Data())
        return hasher.finalize().hexString
    }

    /// Recogniser output for corpus sentences: `intent TAB template_key TAB reference TAB hypothesis`.
    func asrExamples() throws -> [IntentCorpus.Example] {
        guard let data = FileManager.default.contents(atPath: asrPath) else { return [] }
        var examples: [IntentCorpus.Example] = []
        for (number, line) in String(decoding: data, as: UTF8.self).split(separator: "\n").enumerated() {
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            if number == 0 && fields.first == "intent" { continue }
            guard fields.count == 4, let intent = Intent(rawValue: fields[0]), IntentCorpus.Split(templateKey: fields[1]) != nil else {
                throw ValidationError("\(asrPath) line \(number + 1): expected intent, template_key, reference, hypothesis")
            }
            guard !fields[3].isEmpty else { continue }
            examples.append(IntentCorpus.Example(intent: intent, templateKey: fields[1], text: fields[3]))
        }
        return examples
    }
}

/// `answer-ninja train-intents`: trains the intent model from Fixtures/intents, deterministically.
struct TrainIntentsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train-intents",
        abstract: "Train the intent classifier from the corpus (deterministic) and write the model with its held-out evaluation.",
        discussion: "Templates are split by index (train 0-2, calibration 3, test 4 of every 5), never by sentence. --check only compares the corpus hash recorded in the model with the files (CI runs it)."
    )

    @Option(help: "The hand-written corpus.") var corpus = "Fixtures/intents/corpus.txt"
    @Option(help: "Recogniser output for corpus sentences (tools/stt/make-asr-noise).") var asr = "Fixtures/intents/asr.tsv"
    @Option(help: "Where to write the model.") var model = "Sources/Conversation/Resources/intent-model.json"
    @Option(help: "Sentences generated per template.") var expansions = 8
    @Option(help: "Training epochs.") var epochs = IntentTrainer.Options().epochs
    @Option(help: "L2 regularisation per update.") var l2 = IntentTrainer.Options().l2
    @Option(help: "AdaGrad learning rate.") var learningRate = IntentTrainer.Options().learningRate
    @Option(help: "Keep features seen in at least this many training sentences.") var minDf = IntentTrainer.Options().minimumDocumentFrequency
    @Flag(help: "Do not train: exit 1 unless the model's corpus hash matches the files.") var check = false
    @OptionGroup var output: OutputOptions

    struct Output: CommandOutput {
        var model: String
        var corpusSha256: String
        var upToDate: Bool?
        var training: IntentModel.TrainingSummary?
        var temperature: Double?
        var evaluation: [String: IntentEvaluation]?
        var humanReadable: String {
            var lines = ["model \(model)", "corpus sha256 \(corpusSha256)"]
            if let upToDate { lines.append(upToDate ? "up to date" : "STALE: the corpus changed; run answer-ninja train-intents") }
            if let training { lines.append("trained on \(training.examples) sentences, \(training.features) features, \(training.epochs) epochs") }
            if let temperature { lines.append("temperature \(temperature)") }
            for (name, result) in (evaluation ?? [:]).sorted(by: { $0.key < $1.key }) {
                lines.append(String(format: "%@: %d sentences, accuracy %.3f, macro-F1 %.3f, ECE %.3f, below threshold %.3f", name, result.examples, result.accuracy, result.macroF1, result.expectedCalibrationError, result.belowThreshold))
            }
            return lines.joined(separator: "\n")
        }
    }

    func run() async throws {
        let files = IntentCorpusFiles(corpusPath: corpus, asrPath: asr)
        let hash = try files.sha256()
        if check {
            guard let data = FileManager.default.contents(atPath: model) else {
                throw ExitCode(try output.fail(code: "no_model", message: "cannot read \(model)").rawValue)
            }
            let recorded = try IntentModel(json: data).file.corpusSHA256
            try output.emit(Output(model: model, corpusSha256: hash, upToDate: recorded == hash))
            if recorded != hash { throw ExitCode(1) }
            return
        }
        let parsed: IntentCorpus
        do {
            parsed = try IntentCorpus(parsing: String(decoding: FileManager.default.contents(atPath: corpus) ?? Data(), as: UTF8.self))
        } catch let error as ConversationError {
            throw ExitCode(try output.fail(code: error.code.rawValue, message: error.message).rawValue)
        }
        let asrExamples = try files.asrExamples()
        func examples(_ split: IntentCorpus.Split) -> [IntentCorpus.Example] {
            parsed.expand(count: expansions) { IntentCorpus.Split(templateIndex: $0.index) == split }
        }
        func noisy(_ split: IntentCorpus.Split) -> [IntentCorpus.Example] {
            asrExamples.filter { IntentCorpus.Split(templateKey: $0.templateKey) == split }
        }
        var options = IntentTrainer.Options()
        options.epochs = epochs
        options.l2 = l2
        options.learningRate = learningRate
        options.minimumDocumentFrequency = minDf
        options.expansionsPerTemplate = expansions
        let trained = try IntentTrainer(options: options).train(
            training: examples(.train) + noisy(.train),
            calibration: examples(.calibration) + noisy(.calibration),
            evaluate: ["test_text": examples(.test), "test_asr": noisy(.test)].filter { !$0.value.isEmpty },
            corpusSHA256: hash
        )
        try trained.jsonData().write(to: URL(fileURLWithPath: model))
        try output.emit(Output(model: model, corpusSha256: hash, training: trained.file.training, temperature: trained.temperature, evaluation: trained.file.evaluation))
    }
}

/// Loads the classifier a tool uses: a model file, or the one bundled with the binary.
func loadIntentClassifier(model: String?, threshold: Double) throws -> IntentClassifier {
    guard let model else { return try IntentClassifier.bundled(threshold: threshold) }
    guard let data = FileManager.default.contents(atPath: model) else { throw ValidationError("cannot read the model \(model)") }
    return IntentClassifier(model: try IntentModel(json: data), threshold: threshold)
}

/// `answer-ninja classify TEXT`: the intent of one utterance.
struct ClassifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "classify",
        abstract: "Classify what a caller said: intent, calibrated confidence and the next alternatives.",
        discussion: "The answer is unknown when the best class's probability is below the threshold."
    )

    @Argument(help: "What the caller said.") var text: String
    @Option(help: "A model file instead of the bundled one.") var model: String?
    @Option(help: "Below this probability the intent is unknown.") var threshold = IntentClassifier.defaultThreshold
    @OptionGroup var output: OutputOptions

    struct Output: CommandOutput {
        var intent: Intent
        var confidence: Double
        var alternatives: [IntentClassification.Alternative]
        var humanReadable: String {
            ([String(format: "%@ %.3f", intent.rawValue, confidence)] + alternatives.map { String(format: "  %@ %.3f", $0.intent.rawValue, $0.confidence) }).joined(separator: "\n")
        }
    }

    func run() async throws {
        guard !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw ExitCode(try output.fail(code: "empty_text", message: "nothing to classify").rawValue)
        }
        guard (0...1).contains(threshold) else {
            throw ExitCode(try output.fail(code: "bad_threshold", message: "the threshold is a probability in 0...1").rawValue)
        }
        let classifier: IntentClassifier
        do {
            classifier = try loadIntentClassifier(model: model, threshold: threshold)
        } catch let error as ConversationError {
            throw ExitCode(try output.fail(code: error.code.rawValue, message: error.message).rawValue)
        }
        let result = classifier.classify(text)
        try output.emit(Output(intent: result.intent, confidence: result.confidence, alternatives: result.alternatives))
    }
}

/// `answer-ninja converse --script FILE`: a scripted caller against the conversation engine.
struct ConverseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "converse",
        abstract: "Run a scripted caller (text turns) against the conversation engine: every AI turn, the intent and the final action.",
        discussion: "Script lines: `> what the caller says`, `dtmf 1`, `wait 30s`, `@persona NAME`, `@user NAME`, `@challenge on`, `@time_waster on`, `@recording off`, `@expect intent=... end=hangup|none message=yes|no transfer=yes|no`. With @expect, exits 1 when the run differs."
    )

    @Option(help: "The script file, or - for stdin.") var script: String
    @Option(help: "Override the script's persona.") var persona: String?
    @Option(help: "A model file instead of the bundled one.") var model: String?
    @OptionGroup var output: OutputOptions

    struct Output: CommandOutput {
        var transcript: ConversationTranscript
        var expectationsMet: Bool?
        var failures: [String]
        var humanReadable: String {
            var lines: [String] = []
            for entry in transcript.entries {
                if let caller = entry.caller {
                    lines.append(String(format: "%6.1fs caller: %@", Double(entry.atMs) / 1000, caller) + (entry.callerIntent.map { "  [\($0.rawValue) \(entry.callerConfidence ?? 0)]" } ?? ""))
                }
                if let reply = entry.reply {
                    lines.append(String(format: "%6.1fs ai (%@, %@): %@", Double(entry.atMs) / 1000, reply.action.rawValue, reply.stage.rawValue, reply.text.isEmpty ? "(silence)" : reply.text))
                }
            }
            lines.append("intent \(transcript.intent?.rawValue ?? "none") \(transcript.confidence ?? 0), final action \(transcript.finalAction)\(transcript.endReason.map { " (\($0.rawValue))" } ?? ""), \(transcript.turns) caller turns")
            lines.append(String(format: "persistence %.2f, frustration %.2f, effectiveness %.2f", transcript.persistence, transcript.frustration, transcript.effectiveness))
            if let message = transcript.message { lines.append("message: \(message)") }
            lines += failures.map { "EXPECTATION FAILED: \($0)" }
            return lines.joined(separator: "\n")
        }
    }

    func run() async throws {
        let data = script == "-" ? FileHandle.standardInput.readDataToEndOfFile() : FileManager.default.contents(atPath: script)
        guard let data else { throw ExitCode(try output.fail(code: "unreadable_script", message: "cannot read \(script)").rawValue) }
        var parsed: ConversationScript
        let classifier: IntentClassifier
        do {
            parsed = try ConversationScript(parsing: String(decoding: data, as: UTF8.self))
            classifier = try loadIntentClassifier(model: model, threshold: IntentClassifier.defaultThreshold)
        } catch let error as ConversationError {
            _ = try output.fail(code: error.code.rawValue, message: error.message)
            throw ExitCode(2)  // invalid input (docs/cli.md)
        }
        if let persona {
            guard let chosen = Persona(rawValue: persona) else {
                throw ExitCode(try output.fail(code: "unknown_persona", message: "personas: \(Persona.allCases.map(\.rawValue).joined(separator: ", "))").rawValue)
            }
            parsed.settings.persona = chosen
        }
        let transcript = ConversationTranscript(running: parsed, classifier: classifier)
        let failures = transcript.unmet(parsed.expectation)
        let hasExpectations = parsed.expectation != ConversationScript.Expectation()
        try output.emit(Output(transcript: transcript, expectationsMet: hasExpectations ? failures.isEmpty : nil, failures: failures))
        if !failures.isEmpty { throw ExitCode(1) }
    }
}
