import AnswerNinjaCore
import CPocketSphinx
import Foundation
import MediaDSP
import NIOPosix

/// The embedded recogniser: pocketsphinx with Debian's en-us acoustic model made fit for the telephone
/// (docs/stt-experiment.md): a telephone `-cmninit` in the model's feat.params and a channel transform loaded as
/// MLLR, 8 kHz audio resampled to the model's 16 kHz, and each utterance decoded whole for the final result.
///
/// Loading a decoder costs hundreds of milliseconds, so decoders are made at start-up and pooled: a call's stream
/// takes one and gives it back at `close`. Every pocketsphinx call runs on this recogniser's own threads (one per
/// decoder), never on an event loop or Swift's cooperative pool.
public final class PocketSphinxRecognizer: SpeechRecognizer, @unchecked Sendable {
    // @unchecked: `idle` is guarded by `lock`; each decoder is used by one stream at a time.

    /// Where the model files are. `standard()` is the shipped configuration.
    public struct Model: Sendable, Equatable {
        /// Debian's pocketsphinx-en-us acoustic model.
        public var acousticModel: String
        /// The telephone additions (feat.params, chanmap_mllr) or nil for the stock model.
        public var telephoneDirectory: String?
        public var languageModel: String
        public var dictionary: String

        public static let stockAcousticModel = "/usr/share/pocketsphinx/model/en-us/en-us"
        public static let genericLanguageModel = "/usr/share/pocketsphinx/model/en-us/en-us.lm.bin"
        public static let genericDictionary = "/usr/share/pocketsphinx/model/en-us/cmudict-en-us.dict"

        public init(acousticModel: String = Self.stockAcousticModel, telephoneDirectory: String?, languageModel: String, dictionary: String) {
            self.acousticModel = acousticModel
            self.telephoneDirectory = telephoneDirectory
            self.languageModel = languageModel
            self.dictionary = dictionary
        }

        /// The shipped telephone additions, bundled with the binary.
        public static var bundledTelephoneDirectory: String? {
            Bundle.module.url(forResource: "en-us-telephone", withExtension: nil)?.path
        }

        /// The telephone model with the project's domain language model (built from its own corpus by
        /// tools/stt/make-domain-lm), or with the generic one.
        public static func standard(domain: Bool = true) -> Model {
            let telephone = bundledTelephoneDirectory
            if domain, let telephone, FileManager.default.fileExists(atPath: telephone + "/domain.lm.bin") {
                return Model(telephoneDirectory: telephone, languageModel: telephone + "/domain.lm.bin", dictionary: telephone + "/domain.dict")
            }
            return Model(telephoneDirectory: telephone, languageModel: genericLanguageModel, dictionary: genericDictionary)
        }
    }

    final class Decoder: @unchecked Sendable {
        let pointer: OpaquePointer
        let config: OpaquePointer
        /// The live CMN mean right after ps_init: the model's -cmninit.
        let initialMean: [Float]

        init(pointer: OpaquePointer, config: OpaquePointer) {
            self.pointer = pointer
            self.config = config
            var mean = [Float](repeating: 0, count: Int(cshim_ps_cmn_length(pointer)))
            cshim_ps_cmn_get(pointer, &mean)
            self.initialMean = mean
        }

        deinit {
            ps_free(pointer)
            cmd_ln_free_r(config)
        }
    }

    public let model: Model
    public let decoderCount: Int
    let pool: NIOThreadPool
    private let lock = NSLock()
    private var idle: [Decoder]
    private let modelDirectory: URL

    /// Loads `decoders` decoders on new threads, one after the other: `ps_init` touches sphinxbase's process-wide
    /// state (its log file among others), so two must not run at once.
    public static func make(model: Model = .standard(), decoders: Int) async throws -> PocketSphinxRecognizer {
        precondition(decoders > 0, "at least one decoder")
        let directory = try Self.assembleModelDirectory(model)
        let pool = NIOThreadPool(numberOfThreads: decoders)
        pool.start()
        do {
            var loaded: [Decoder] = []
            for _ in 0..<decoders {
                loaded.append(try await pool.runIfActive { try Self.load(model, directory: directory) })
            }
            return PocketSphinxRecognizer(model: model, pool: pool, decoders: loaded, directory: directory)
        } catch {
            try? await pool.shutdownGracefully()
            try? FileManager.default.removeItem(at: directory)
            throw error
        }
    }

    private init(model: Model, pool: NIOThreadPool, decoders: [Decoder], directory: URL) {
        self.model = model
        self.pool = pool
        self.idle = decoders
        self.decoderCount = decoders.count
        self.modelDirectory = directory
    }

    /// Decoders not in use.
    public var idleDecoders: Int { lock.withLock { idle.count } }

    public func makeStream(rate: AudioSampleRate) async throws -> any RecognitionStream {
        guard let decoder = lock.withLock({ idle.popLast() }) else {
            throw SpeechError(code: .init("stt_busy"), message: "all \(decoderCount) pocketsphinx decoders are in use")
        }
        do {
            return try PocketSphinxStream(recognizer: self, decoder: decoder, rate: rate)
        } catch {
            giveBack(decoder)
            throw error
        }
    }

    func giveBack(_ decoder: Decoder) {
        lock.withLock { idle.append(decoder) }
    }

    /// Stops the threads; decoders are freed when the recogniser is released.
    public func shutdown() async throws {
        try await pool.shutdownGracefully()
        try? FileManager.default.removeItem(at: modelDirectory)
    }

    /// A model directory for pocketsphinx: the stock model's files linked, the telephone feat.params copied
    /// (pocketsphinx reads feat.params from the model directory and it overrides the same options given in code).
    static func assembleModelDirectory(_ model: Model) throws -> URL {
        let manager = FileManager.default
        let directory = manager.temporaryDirectory.appendingPathComponent("answer-ninja-am-\(getpid())-\(UUID().uuidString.prefix(8))")
        try manager.createDirectory(at: directory, withIntermediateDirectories: true)
        for file in ["mdef", "means", "variances", "sendump", "transition_matrices", "noisedict", "feat.params"] {
            let telephone = model.telephoneDirectory.map { $0 + "/" + file }
            let source = telephone.flatMap { manager.fileExists(atPath: $0) ? $0 : nil } ?? model.acousticModel + "/" + file
            guard manager.fileExists(atPath: source) else {
                throw SpeechError(code: .init("stt_unavailable"), message: "pocketsphinx model file \(source) is missing: install pocketsphinx-en-us")
            }
            try manager.createSymbolicLink(atPath: directory.appendingPathComponent(file).path, withDestinationPath: source)
        }
        return directory
    }

    /// Runs on a pool thread, one load at a time.
    static func load(_ model: Model, directory: URL) throws -> Decoder {
        cshim_ps_quiet()
        var arguments = [
            "-hmm", directory.path, "-lm", model.languageModel, "-dict", model.dictionary, "-samprate", "16000",
        ]
        if let telephone = model.telephoneDirectory, FileManager.default.fileExists(atPath: telephone + "/chanmap_mllr") {
            arguments += ["-mllr", telephone + "/chanmap_mllr"]
        }
        var cStrings = arguments.map { strdup($0) }
        defer { cStrings.forEach { free($0) } }
        guard let config = cStrings.withUnsafeMutableBufferPointer({ cshim_ps_config_from_argv(Int32($0.count), $0.baseAddress) }) else {
            throw SpeechError(code: .init("stt_unavailable"), message: "pocketsphinx refused its configuration: \(arguments.joined(separator: " "))")
        }
        guard let decoder = ps_init(config) else {
            cmd_ln_free_r(config)
            throw SpeechError(code: .init("stt_unavailable"), message: "pocketsphinx could not load \(model.acousticModel) with \(model.languageModel)")
        }
        return Decoder(pointer: decoder, config: config)
    }
}

/// One call's recognition on a pooled decoder. An actor whose operations are also serialized across their
/// suspension points (an actor alone would let a `finish` run while a `feed` waits for the decoder thread): each
/// takes the stream's turn, hops to the recogniser's threads for the pocketsphinx work, and gives the turn back.
actor PocketSphinxStream: RecognitionStream {
    /// The acoustic model's rate.
    static let modelRate = AudioSampleRate.wideband
    /// pocketsphinx's frame rate (-frate 100).
    static let framesPerSecond = 100

    private let recognizer: PocketSphinxRecognizer
    private var decoder: PocketSphinxRecognizer.Decoder?
    private let resampler: ResamplerBox?
    /// The utterance so far at 16 kHz, decoded whole at `finish`.
    private var utterance: [Int16] = []
    private var started = false
    private var lastPartial = ""
    private var busy = false
    private var waiting: [CheckedContinuation<Void, Never>] = []

    private func takeTurn() async {
        guard busy else {
            busy = true
            return
        }
        await withCheckedContinuation { waiting.append($0) }
    }

    private func giveTurn() {
        if waiting.isEmpty {
            busy = false
        } else {
            waiting.removeFirst().resume()
        }
    }

    /// Used only by the pool thread running the stream's current operation (one at a time: the stream's turn).
    final class ResamplerBox: @unchecked Sendable {
        let resampler: Resampler
        init(_ resampler: Resampler) { self.resampler = resampler }
    }

    init(recognizer: PocketSphinxRecognizer, decoder: PocketSphinxRecognizer.Decoder, rate: AudioSampleRate) throws {
        self.recognizer = recognizer
        self.decoder = decoder
        self.resampler = rate == Self.modelRate ? nil : ResamplerBox(try Resampler(from: rate, to: Self.modelRate))
    }

    func feed(_ samples: [Int16]) async throws -> RecognitionResult? {
        await takeTurn()
        defer { giveTurn() }
        guard let decoder else { throw SpeechError(code: .init("stt_closed"), message: "the recognition stream is closed") }
        let resampler = self.resampler
        let first = !started
        started = true
        let (converted, partial) = try await recognizer.pool.runIfActive { () throws -> ([Int16], String) in
            var converted: [Int16] = []
            if let resampler { try resampler.resampler.process(samples, into: &converted) } else { converted = samples }
            if first {
                decoder.initialMean.withUnsafeBufferPointer { cshim_ps_cmn_set(decoder.pointer, $0.baseAddress) }
                ps_start_utt(decoder.pointer)
            }
            converted.withUnsafeBufferPointer { _ = ps_process_raw(decoder.pointer, $0.baseAddress, $0.count, 0, 0) }
            return (converted, ps_get_hyp(decoder.pointer, nil).map { String(cString: $0) } ?? "")
        }
        utterance += converted
        guard partial != lastPartial else { return nil }
        lastPartial = partial
        return RecognitionResult(text: partial, isFinal: false, confidence: 0)
    }

    func finish() async throws -> RecognitionResult {
        await takeTurn()
        defer { giveTurn() }
        guard let decoder else { throw SpeechError(code: .init("stt_closed"), message: "the recognition stream is closed") }
        let audio = utterance
        let wasStarted = started
        utterance = []
        started = false
        lastPartial = ""
        resampler?.resampler.reset()
        guard !audio.isEmpty else { return RecognitionResult(text: "", isFinal: true, confidence: 0) }
        return try await recognizer.pool.runIfActive {
            if wasStarted { ps_end_utt(decoder.pointer) }
            // The final result: the whole utterance in one call (batch CMN), which the experiment found clearly
            // better than the streaming pass (docs/stt-experiment.md).
            decoder.initialMean.withUnsafeBufferPointer { cshim_ps_cmn_set(decoder.pointer, $0.baseAddress) }
            ps_start_utt(decoder.pointer)
            audio.withUnsafeBufferPointer { _ = ps_process_raw(decoder.pointer, $0.baseAddress, $0.count, 0, 1) }
            ps_end_utt(decoder.pointer)
            let text = ps_get_hyp(decoder.pointer, nil).map { String(cString: $0) } ?? ""
            let confidence = min(1, max(0, cshim_ps_probability(decoder.pointer, ps_get_prob(decoder.pointer))))
            var words: [RecognitionResult.Word] = []
            var segment = ps_seg_iter(decoder.pointer)
            while let current = segment {
                let word = String(cString: ps_seg_word(current))
                var start: Int32 = 0
                var end: Int32 = 0
                ps_seg_frames(current, &start, &end)
                if !word.hasPrefix("<"), !word.hasPrefix("["), word != "<sil>" {
                    let spoken = word.split(separator: "(").first.map(String.init) ?? word
                    words.append(.init(word: spoken, startMs: Int(start) * 1000 / Self.framesPerSecond, endMs: Int(end + 1) * 1000 / Self.framesPerSecond))
                }
                segment = ps_seg_next(current)
            }
            return RecognitionResult(text: text, isFinal: true, confidence: confidence, words: words)
        }
    }

    func close() async {
        await takeTurn()
        defer { giveTurn() }
        guard let decoder else { return }
        if started { _ = try? await recognizer.pool.runIfActive { ps_end_utt(decoder.pointer) } }
        self.decoder = nil
        recognizer.giveBack(decoder)
    }
}
