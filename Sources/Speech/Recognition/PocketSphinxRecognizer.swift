import AnswerNinjaCore
import CPocketSphinx
import Foundation
import MediaDSP
import NIOPosix

/// The embedded recogniser: pocketsphinx with Debian's en-us acoustic model made fit for the telephone
/// (docs/stt-experiment.md): a telephone `-cmninit` in the model's feat.params and a channel transform loaded as
/// MLLR, 8 kHz audio resampled to the model's 16 kHz, and each utterance decoded whole for the final result.
///
/// Loading a decoder costs hundreds of milliseconds, so decoders are made (and warmed with one decode) at start-up
/// and pooled. A call's stream only gathers its utterance; a decoder is taken for the utterance's decode and given
/// back right after, so any number of calls share the pool (a decode waits its turn when every decoder is busy;
/// none is refused). Every pocketsphinx call runs on this recogniser's own threads (one per decoder), never on an
/// event loop or Swift's cooperative pool.
public final class PocketSphinxRecognizer: SpeechRecognizer, @unchecked Sendable {
    // @unchecked: `idle` and `waiting` are guarded by `lock`; each decoder is used by one decode at a time.

    /// Where the model files are. `standard()` is the shipped configuration.
    public struct Model: Sendable, Equatable {
        /// Debian's pocketsphinx-en-us acoustic model.
        public var acousticModel: String
        /// The telephone additions (feat.params, chanmap_mllr) or nil for the stock model.
        public var telephoneDirectory: String?
        public var languageModel: String
        public var dictionary: String
        /// pocketsphinx's second, flat-lexicon search over the whole utterance at its end (`-fwdflat`). Off, the end
        /// of an utterance leaves only the best path through the first pass's lattice (3-17 ms instead of 49-86 ms,
        /// as accurate on the test set: `bench stt`), but pocketsphinx 5prealpha then aborts (an assertion in
        /// ngram_search_fwdtree.c) once utterances are in progress on two decoders at once, even on one thread: for
        /// measurements on one decoder only, never in the product.
        public var flatPass = true

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
    /// Streams feed a decoder as the caller speaks (a first pass that keeps up with speech, live CMN), so that the
    /// end point leaves only the utterance's final search; else each utterance is decoded whole at its end.
    public let streaming: Bool
    let pool: NIOThreadPool
    private let lock = NSLock()
    private var idle: [Decoder]
    /// Decodes waiting for a decoder, first come first served.
    private var waiting: [(ticket: UInt64, continuation: CheckedContinuation<Decoder?, Never>)] = []
    private let modelDirectory: URL

    /// Loads `decoders` decoders on new threads, one after the other: `ps_init` touches sphinxbase's process-wide
    /// state (its log file among others), so two must not run at once. Each decodes a second of quiet noise before
    /// it is used: the first decode of a fresh decoder pages in the models and took seconds on a loaded machine,
    /// which a caller must not wait for.
    public static func make(model: Model = .standard(), decoders: Int, streaming: Bool = false) async throws -> PocketSphinxRecognizer {
        precondition(decoders > 0, "at least one decoder")
        let directory = try Self.assembleModelDirectory(model)
        let pool = NIOThreadPool(numberOfThreads: decoders)
        pool.start()
        do {
            var loaded: [Decoder] = []
            for _ in 0..<decoders {
                loaded.append(try await pool.runIfActive {
                    let decoder = try Self.load(model, directory: directory)
                    _ = Self.decode(Self.warmUpAudio, on: decoder)
                    return decoder
                })
            }
            return PocketSphinxRecognizer(model: model, pool: pool, decoders: loaded, directory: directory, streaming: streaming)
        } catch {
            try? await pool.shutdownGracefully()
            try? FileManager.default.removeItem(at: directory)
            throw error
        }
    }

    private init(model: Model, pool: NIOThreadPool, decoders: [Decoder], directory: URL, streaming: Bool) {
        self.streaming = streaming
        self.model = model
        self.pool = pool
        self.idle = decoders
        self.decoderCount = decoders.count
        self.modelDirectory = directory
    }

    /// Decoders not in use.
    public var idleDecoders: Int { lock.withLock { idle.count } }

    /// Decodes waiting for a decoder now.
    public var waitingDecodes: Int { lock.withLock { waiting.count } }

    public func makeStream(rate: AudioSampleRate) async throws -> any RecognitionStream {
        streaming ? try PocketSphinxLiveStream(recognizer: self, rate: rate) : try PocketSphinxStream(recognizer: self, rate: rate)
    }

    /// Decodes `audio` (at `rate`, brought to the model's) whole on the next free decoder, on the recogniser's threads.
    /// A decode cancelled while it waits for a decoder leaves the queue at once (a superseded speculation).
    func decode(_ audio: [Int16], rate: AudioSampleRate) async throws -> RecognitionResult {
        guard let decoder = await take() else { throw CancellationError() }
        defer { giveBack(decoder) }
        try Task.checkCancellation()
        return try await pool.runIfActive {
            var converted: [Int16] = []
            if rate == PocketSphinxStream.modelRate {
                converted = audio
            } else {
                try Resampler(from: rate, to: PocketSphinxStream.modelRate).process(audio, into: &converted)
            }
            return Self.decode(converted, on: decoder)
        }
    }

    /// Starts an utterance on `decoder` (streaming), on the recogniser's threads.
    func begin(on decoder: Decoder) async throws {
        try await pool.runIfActive {
            Self.begin(on: decoder)
        }
    }

    /// Feeds audio at the model's rate to the utterance on `decoder` (the first pass, as it arrives).
    func process(_ audio: [Int16], on decoder: Decoder) async throws {
        try await pool.runIfActive {
            audio.withUnsafeBufferPointer { _ = ps_process_raw(decoder.pointer, $0.baseAddress, $0.count, 0, 0) }
        }
    }

    /// The first pass's best hypothesis so far on `decoder` (the utterance goes on).
    func hypothesis(on decoder: Decoder) async throws -> String {
        try await pool.runIfActive { ps_get_hyp(decoder.pointer, nil).map { String(cString: $0) } ?? "" }
    }

    /// Ends the utterance on `decoder`: its final result.
    func end(on decoder: Decoder) async throws -> RecognitionResult {
        try await pool.runIfActive { Self.end(on: decoder) }
    }

    /// The next free decoder, or nil when the task is cancelled while it waits.
    func take() async -> Decoder? {
        let ticket = UInt64.random(in: 0 ... .max)
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Decoder?, Never>) in
                let decoder: Decoder? = lock.withLock {
                    if let decoder = idle.popLast() { return decoder }
                    waiting.append((ticket, continuation))
                    return nil
                }
                if let decoder { continuation.resume(returning: decoder) }
            }
        } onCancel: {
            let waiter: CheckedContinuation<Decoder?, Never>? = lock.withLock {
                guard let index = waiting.firstIndex(where: { $0.ticket == ticket }) else { return nil }
                return waiting.remove(at: index).continuation
            }
            waiter?.resume(returning: nil)
        }
    }

    func giveBack(_ decoder: Decoder) {
        let next: CheckedContinuation<Decoder?, Never>? = lock.withLock {
            if waiting.isEmpty {
                idle.append(decoder)
                return nil
            }
            return waiting.removeFirst().continuation
        }
        next?.resume(returning: decoder)
    }

    /// A second of quiet noise at 16 kHz (a fixed pseudo-random sequence).
    static let warmUpAudio: [Int16] = {
        var state: UInt32 = 12_345
        return (0..<16_000).map { _ in
            state = state &* 1_664_525 &+ 1_013_904_223
            return Int16(truncatingIfNeeded: Int32(state >> 16) % 200 - 100)
        }
    }()

    /// The final result of one utterance: the whole of it in one call (batch CMN), which the experiment found
    /// clearly better than a streaming pass (docs/stt-experiment.md). Runs on a pool thread.
    static func decode(_ audio: [Int16], on decoder: Decoder) -> RecognitionResult {
        begin(on: decoder)
        audio.withUnsafeBufferPointer { _ = ps_process_raw(decoder.pointer, $0.baseAddress, $0.count, 0, 1) }
        return end(on: decoder)
    }

    /// Starts an utterance, its live CMN from the model's -cmninit again (every utterance normalised alike).
    static func begin(on decoder: Decoder) {
        decoder.initialMean.withUnsafeBufferPointer { cshim_ps_cmn_set(decoder.pointer, $0.baseAddress) }
        ps_start_utt(decoder.pointer)
    }

    /// Ends the utterance: the final search, and its result with word timings.
    static func end(on decoder: Decoder) -> RecognitionResult {
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
                let perSecond = PocketSphinxStream.framesPerSecond
                words.append(.init(word: spoken, startMs: Int(start) * 1000 / perSecond, endMs: Int(end + 1) * 1000 / perSecond))
            }
            segment = ps_seg_next(current)
        }
        return RecognitionResult(text: text, isFinal: true, confidence: confidence, words: words)
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
        if !model.flatPass { arguments += ["-fwdflat", "no"] }
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

/// One call's recognition: the utterance is gathered as it arrives (8 kHz audio is brought to the model's 16 kHz
/// at the decode) and decoded whole at `finish` on a pooled decoder. `speculate` starts that decode early, while
/// the endpointer is still waiting to be sure the caller has finished; `finish` then uses it.
actor PocketSphinxStream: RecognitionStream {
    /// The acoustic model's rate.
    static let modelRate = AudioSampleRate.wideband
    /// pocketsphinx's frame rate (-frate 100).
    static let framesPerSecond = 100

    private let recognizer: PocketSphinxRecognizer
    private let rate: AudioSampleRate
    /// The utterance so far, at `rate`.
    private var utterance: [Int16] = []
    /// A decode started by `speculate`, of the utterance's first `count` samples.
    private var speculation: (count: Int, task: Task<RecognitionResult, any Error>)?
    private var closed = false

    init(recognizer: PocketSphinxRecognizer, rate: AudioSampleRate) throws {
        self.recognizer = recognizer
        self.rate = rate
        _ = try Resampler(from: rate, to: Self.modelRate)  // a rate the resampler refuses fails here, not at the first decode
    }

    func feed(_ samples: [Int16]) async throws -> RecognitionResult? {
        guard !closed else { throw SpeechError(code: .init("stt_closed"), message: "the recognition stream is closed") }
        utterance += samples
        return nil
    }

    func speculate() async {
        guard !closed, !utterance.isEmpty, speculation?.count != utterance.count else { return }
        speculation?.task.cancel()
        speculation = (utterance.count, decodeTask(utterance))
    }

    func finish() async throws -> RecognitionResult {
        guard !closed else { throw SpeechError(code: .init("stt_closed"), message: "the recognition stream is closed") }
        let audio = utterance
        let early = speculation
        utterance = []
        speculation = nil
        guard !audio.isEmpty else { return RecognitionResult(text: "", isFinal: true, confidence: 0) }
        // What came after the speculation's snapshot is the silence the endpointer waited through.
        if let early { return try await early.task.value }
        return try await decodeTask(audio).value
    }

    private func decodeTask(_ audio: [Int16]) -> Task<RecognitionResult, any Error> {
        let recognizer = recognizer, rate = rate
        return Task { try await recognizer.decode(audio, rate: rate) }
    }

    func close() async {
        closed = true
        utterance = []
        speculation?.task.cancel()
        speculation = nil
    }
}


/// One call's recognition in the streaming mode (`speech.stt_mode` streaming): from the utterance's first audio a
/// decoder is held and fed as the audio arrives (resampled to the model's rate chunk by chunk, a pump task feeding it
/// on the recogniser's threads while the call goes on), so that `finish` leaves only the final search. The decoder
/// goes back at `finish` or `close`. A call waits for a free decoder at the start of its utterance, its audio kept
/// meanwhile.
///
/// `speculate` runs that final search early, on what was heard up to then, while the endpointer waits to be sure:
/// `finish` then has its result at once, what came after being the trailing silence. If the caller goes on
/// (`speechResumed`, or a later `speculate`), the early result is dropped and the decoder starts the utterance again
/// from its first sample (the whole utterance is kept at the model's rate for that); the first pass catches up
/// faster than real time while the caller speaks, and decoding from the start gives the same result as if it had
/// never stopped (the live CMN starts from -cmninit at each utterance).
actor PocketSphinxLiveStream: RecognitionStream {
    /// Where the early final search of the utterance stands.
    private enum Early {
        case none
        /// Asked for, on the utterance's first `count` samples.
        case wanted(count: Int)
        case done(count: Int, result: Result<RecognitionResult, any Error>)
    }

    private let recognizer: PocketSphinxRecognizer
    private let resampler: Resampler?
    /// The utterance so far at the model's rate, all of it (a restart after a speculation feeds it again).
    private var heard: [Int16] = []
    /// How much of `heard` the decoder's open utterance has had.
    private var fed = 0
    private var decoder: PocketSphinxRecognizer.Decoder?
    /// The decoder has an utterance open (begun and not yet ended).
    private var open = false
    private var early = Early.none
    /// The one task that uses the decoder for feeding and ending (`work`); hypothesis reads wait for it.
    private var pump: Task<Void, Never>?
    /// A read of the hypothesis in progress: it uses the decoder too, so nothing else may until it is done.
    private var reading: Task<String?, Never>?
    /// A failure of the decoder's calls, thrown at `finish`.
    private var failure: (any Error)?
    private var closed = false

    init(recognizer: PocketSphinxRecognizer, rate: AudioSampleRate) throws {
        self.recognizer = recognizer
        resampler = rate == PocketSphinxStream.modelRate ? nil : try Resampler(from: rate, to: PocketSphinxStream.modelRate)
    }

    func feed(_ samples: [Int16]) async throws -> RecognitionResult? {
        guard !closed else { throw SpeechError(code: .init("stt_closed"), message: "the recognition stream is closed") }
        if let resampler {
            try resampler.process(samples, into: &heard)
        } else {
            heard += samples
        }
        kick()
        return nil
    }

    func speculate() async {
        guard !closed, !heard.isEmpty else { return }
        switch early {
        case .wanted(let count), .done(let count, _):
            if count == heard.count { return }
        case .none:
            break
        }
        early = .wanted(count: heard.count)
        kick()
    }

    func speechResumed() async {
        guard !closed else { return }
        if case .none = early { return }
        early = .none
        kick()
    }

    private func kick() {
        if pump == nil { pump = Task { await self.work() } }
    }

    /// Takes a decoder for the utterance if it has none, then does what is asked of it until nothing is: feed what
    /// it has not had, and end the utterance early at a speculation's point (beginning it again first when a
    /// speculation before it ended it).
    private func work() async {
        while let read = reading { _ = await read.value }
        do {
            while !closed, failure == nil {
                if decoder == nil {
                    guard let taken = await recognizer.take() else { throw CancellationError() }
                    guard !closed else {
                        recognizer.giveBack(taken)
                        throw CancellationError()
                    }
                    decoder = taken
                }
                guard let decoder else { break }
                let target: Int
                switch early {
                case .done:
                    target = -1
                case .wanted(let count):
                    target = min(count, heard.count)
                case .none:
                    target = heard.count
                }
                guard target >= 0 else { break }  // ended early: the rest is silence unless the caller resumes
                if !open {
                    try await recognizer.begin(on: decoder)
                    open = true
                    fed = 0
                    continue  // what is asked may have changed meanwhile (a close, a resumption)
                }
                if fed < target {
                    let chunk = Array(heard[fed..<target])
                    fed = target
                    try await recognizer.process(chunk, on: decoder)
                    continue
                }
                guard case .wanted(let count) = early else { break }
                let result = await ending(decoder)
                open = false
                // The caller may have resumed (or a later speculation come) meanwhile: then this result is not it.
                if case .wanted(count) = early { early = .done(count: count, result: result) }
            }
        } catch {
            failure = failure ?? error
        }
        pump = nil
    }

    /// The final search of the decoder's open utterance, its failure kept as a value. It runs even when the calling
    /// task is cancelled (a call hung up while its utterance ended): the pool skips the work of a cancelled task, and
    /// a decoder given back with its utterance still open would carry this caller's audio into the next call's.
    private func ending(_ decoder: PocketSphinxRecognizer.Decoder) async -> Result<RecognitionResult, any Error> {
        let recognizer = recognizer
        do {
            return .success(try await Task { try await recognizer.end(on: decoder) }.value)
        } catch {
            return .failure(error)
        }
    }

    /// Until neither the pump nor a hypothesis read uses the decoder (each may start while the other is awaited).
    private func idle() async {
        while pump != nil || reading != nil {
            if let running = pump { await running.value }
            if let read = reading { _ = await read.value }
        }
    }

    /// The hypothesis once everything fed so far is in the decoder (the early final's text after a speculation);
    /// nil before the decoder has started or after a failure.
    func hypothesis() async -> String? {
        guard !closed else { return nil }
        await idle()
        guard !closed, failure == nil else { return nil }
        if case .done(_, let result) = early { return try? result.get().text }
        guard let decoder, open else { return nil }
        let recognizer = recognizer
        let read = Task { try? await recognizer.hypothesis(on: decoder) }
        reading = read
        let text = await read.value
        reading = nil
        return text
    }

    func finish() async throws -> RecognitionResult {
        guard !closed else { throw SpeechError(code: .init("stt_closed"), message: "the recognition stream is closed") }
        // The pump may be restarted by audio that arrived while it ran: wait until all is in (or the early final done).
        await idle()
        let speculated = early
        defer {
            resampler?.reset()
            heard = []
            fed = 0
            early = .none
        }
        guard let decoder else {
            if let failure { throw failure }
            return RecognitionResult(text: "", isFinal: true, confidence: 0)
        }
        self.decoder = nil
        var result: Result<RecognitionResult, any Error> = .success(RecognitionResult(text: "", isFinal: true, confidence: 0))
        if case .done(_, let early) = speculated, !open {
            result = early
        } else if open {
            result = await ending(decoder)
            open = false
        }
        recognizer.giveBack(decoder)
        if let failure {
            self.failure = nil
            throw failure
        }
        return try result.get()
    }

    func close() async {
        closed = true
        // A pump still waiting for a decoder gives up at once (take() returns nil when cancelled).
        pump?.cancel()
        await idle()
        heard = []
        guard let decoder else { return }
        self.decoder = nil
        if open { _ = await ending(decoder) }
        open = false
        recognizer.giveBack(decoder)
    }
}
