import AnswerNinjaCore
import Capture
import Conversation
import Foundation
import MediaDSP
import NIOCore
import Speech

/// `answer-ninja bench stt`: word error rate and time-to-final of the embedded recogniser as the product drives it.
/// Each listed recording (8 kHz telephone audio) is fed in 20 ms frames to a `PocketSphinxRecognizer` stream,
/// paced in real time as a call's audio arrives, then finished; per mode (streaming or utterance) and language model
/// (the shipped domain LM or the generic one). The time from the last frame to the final result is what the caller
/// waits for after the end point. The same run also says, per streaming utterance, how `TurnCompletion` judges the
/// hypothesis at the end (a finished sentence must read as finished).
public struct RecognitionBench: Sendable {
    public struct Item: Sendable {
        public var id: String
        public var samples: [Int16]
        public var reference: String
    }

    public struct Row: Codable, Sendable {
        public var mode: String
        public var languageModel: String
        public var utterances: Int
        public var words: Int
        public var errors: Int
        public var wordErrorRate: Double
        /// From the last frame fed to the final result, milliseconds.
        public var finalP50Ms: Double
        public var finalMaxMs: Double
        /// Streaming only: utterances whose hypothesis at the end `TurnCompletion` judged finished.
        public var judgedFinished: Int?
        /// Streaming only: turns ended before the recording's last speech (each recording is one turn), by the
        /// product's VAD and endpointer alone (`silence`) and with the words judged when the short wait runs out
        /// on speech that did not fade (`words`): the cut-offs each way of endpointing makes.
        public var cutOffsSilence: Int?
        public var cutOffsWords: Int?
        /// Streaming only: the mean wait from the last speech of a recording to the end of its turn, silence
        /// only and with the words judged (each recording is followed by a second of silence).
        public var endWaitSilenceMs: Double?
        public var endWaitWordsMs: Double?
        public var hypotheses: [String: String]
    }

    public struct Report: Codable, Sendable, CommandOutput {
        public var rows: [Row]
        public var paced: Bool

        public var humanReadable: String {
            var lines = [
                "| mode | LM | utterances | words | WER | final after the last frame, p50 / max | hypothesis at the end judged finished | cut-offs: silence / words | end-of-turn wait, mean: silence / words |",
                "|---|---|---|---|---|---|---|---|---|",
            ]
            for row in rows {
                let judged = row.judgedFinished.map { "\($0) of \(row.utterances)" } ?? "—"
                let cutOffs = row.cutOffsSilence.map { "\($0) / \(row.cutOffsWords ?? 0)" } ?? "—"
                let waits = row.endWaitSilenceMs.map { "\(Int($0)) / \(Int(row.endWaitWordsMs ?? 0)) ms" } ?? "—"
                lines.append(
                    "| \(row.mode) | \(row.languageModel) | \(row.utterances) | \(row.words) | \(String(format: "%.1f %%", row.wordErrorRate * 100)) (\(row.errors)) | \(Int(row.finalP50Ms)) / \(Int(row.finalMaxMs)) ms | \(judged) | \(cutOffs) | \(waits) |"
                )
            }
            lines.append(paced ? "(fed in 20 ms frames in real time, one decoder)" : "(fed as fast as the decoder takes it, one decoder)")
            return lines.joined(separator: "\n")
        }
    }

    public var items: [Item]
    public var modes: [Mode]
    public var languageModels: [Bool]
    public var paced: Bool

    /// How the recogniser decodes.
    public enum Mode: String, Sendable, CaseIterable {
        /// Each utterance whole at its end.
        case utterance
        /// Fed as the audio arrives; at the end the flat second pass and the best path.
        case streaming
        /// Fed as the audio arrives; at the end the best path only (`-fwdflat no`).
        case streamingTree = "streaming-tree"
        var streams: Bool { self != .utterance }
    }

    /// - Parameters: `languageModels` true for the shipped domain LM.
    public init(items: [Item], modes: [Mode] = Mode.allCases, languageModels: [Bool] = [true, false], paced: Bool = true) {
        self.items = items
        self.modes = modes
        self.languageModels = languageModels
        self.paced = paced
    }

    /// Reads a list of `id<TAB>path<TAB>reference` lines; the path is 8 kHz 16-bit mono audio: a WAV file, or raw
    /// little-endian samples (`.raw`).
    public static func load(list path: String) throws -> [Item] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw CoreError.invalidValue("cannot read the list \(path)")
        }
        var items: [Item] = []
        for (number, line) in text.split(separator: "\n").enumerated() where !line.hasPrefix("#") && !line.isEmpty {
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            guard fields.count == 3 else {
                throw CoreError.invalidValue("\(path):\(number + 1): expected id, path and reference separated by tabs")
            }
            items.append(Item(id: fields[0], samples: try Self.audio(fields[1]), reference: fields[2]))
        }
        return items
    }

    static func audio(_ path: String) throws -> [Int16] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CoreError.invalidValue("cannot read \(path)")
        }
        if path.hasSuffix(".raw") { return data.withUnsafeBytes { Array($0.bindMemory(to: Int16.self)) } }
        let wav: WAVFile
        do {
            wav = try WAVFile(parsing: ByteBuffer(bytes: data))
        } catch {
            throw CoreError.invalidValue("\(path): \(error.message)")
        }
        guard wav.sampleRate == 8000, wav.channels == 1 else {
            throw CoreError.invalidValue("\(path): \(wav.sampleRate) Hz, \(wav.channels) channels; expected 8 kHz mono")
        }
        return wav.samples
    }

    public func run(progress: @Sendable (String) -> Void = { _ in }) async throws -> Report {
        var rows: [Row] = []
        for domain in languageModels {
            for mode in modes {
                let streaming = mode.streams
                var model = PocketSphinxRecognizer.Model.standard(domain: domain)
                model.flatPass = mode != .streamingTree
                let recognizer = try await PocketSphinxRecognizer.make(model: model, decoders: 1, streaming: streaming)
                var errors = 0, words = 0, finished = 0, cutOffsSilence = 0, cutOffsWords = 0
                var waitsSilence: [Double] = [], waitsWords: [Double] = []
                var finals: [Double] = []
                var hypotheses: [String: String] = [:]
                for item in items {
                    let stream = try await recognizer.makeStream(rate: .narrowband)
                    let clock = ContinuousClock()
                    var deadline = clock.now
                    // A second of silence after the speech, as a caller's pause for the answer.
                    let samples = item.samples + [Int16](repeating: 0, count: 8000)
                    var offset = 0
                    var lastEndSilence: Double?, lastEndWords: Double?
                    var bySilence = CallerListener(cancelEcho: false, gate: false), byWords = CallerListener(cancelEcho: false, gate: false)
                    var endsSilence = 0, endsWords = 0
                    while offset < samples.count {
                        let frame = Array(samples[offset..<min(offset + 160, samples.count)])
                        _ = try await stream.feed(frame)
                        offset += 160
                        if streaming, frame.count == 160 {
                            let silent = [Int16](repeating: 0, count: 160)
                            // Now, in 10 ms VAD frames (the endpointer's unit).
                            let now = offset / 80 - 1
                            let silenceEvents = bySilence.process(received: frame, sent: silent).events
                            endsSilence += Self.ends(silenceEvents)
                            lastEndSilence = Self.wait(silenceEvents, now: now) ?? lastEndSilence
                            let heard = byWords.process(received: frame, sent: silent)
                            // As the assistant does: the final search starts early in a pause, again if the caller goes on.
                            if heard.resumed { await stream.speechResumed() }
                            if heard.mayBeOver { await stream.speculate() }
                            var wordsEvents = heard.events
                            if heard.undecided, let hypothesis = await stream.hypothesis(), TurnCompletion.judge(hypothesis) == .finished {
                                wordsEvents += byWords.endUtterance()
                            }
                            endsWords += Self.ends(wordsEvents)
                            lastEndWords = Self.wait(wordsEvents, now: now) ?? lastEndWords
                        }
                        if paced {
                            deadline += .milliseconds(20)
                            try await Task.sleep(until: deadline, clock: clock)
                        }
                    }
                    if streaming {
                        // The recording's own end is not a cut-off: every end before it is.
                        cutOffsSilence += max(0, endsSilence + Self.ends(bySilence.endUtterance()) - 1)
                        cutOffsWords += max(0, endsWords + Self.ends(byWords.endUtterance()) - 1)
                        if let lastEndSilence { waitsSilence.append(lastEndSilence) }
                        if let lastEndWords { waitsWords.append(lastEndWords) }
                        if let hypothesis = await stream.hypothesis(), TurnCompletion.judge(hypothesis) == .finished { finished += 1 }
                    }
                    let end = clock.now
                    let result = try await stream.finish()
                    finals.append((clock.now - end).milliseconds)
                    await stream.close()
                    let reference = Self.words(item.reference)
                    words += reference.count
                    errors += Self.editDistance(reference, Self.words(result.text))
                    hypotheses[item.id] = result.text
                    progress("\(mode.rawValue) \(domain ? "domain" : "generic") \(item.id): \(result.text)\(streaming ? " (turn ends: silence \(endsSilence), words \(endsWords))" : "")")
                }
                try await recognizer.shutdown()
                finals.sort()
                rows.append(Row(
                    mode: mode.rawValue, languageModel: domain ? "domain" : "generic", utterances: items.count, words: words, errors: errors,
                    wordErrorRate: words == 0 ? 0 : Double(errors) / Double(words), finalP50Ms: finals.isEmpty ? 0 : finals[finals.count / 2], finalMaxMs: finals.last ?? 0,
                    judgedFinished: streaming ? finished : nil, cutOffsSilence: streaming ? cutOffsSilence : nil, cutOffsWords: streaming ? cutOffsWords : nil,
                    endWaitSilenceMs: Self.mean(waitsSilence), endWaitWordsMs: Self.mean(waitsWords),
                    hypotheses: hypotheses
                ))
            }
        }
        return Report(rows: rows, paced: paced)
    }

    /// Milliseconds from the last speech of the turn an event list ends to `now` (a 10 ms frame index).
    static func wait(_ events: [Endpointer.Event], now: Int) -> Double? {
        for case .utteranceEnded(let utterance) in events { return Double(now - utterance.endFrame) * 10 }
        return nil
    }

    static func mean(_ values: [Double]) -> Double? {
        values.isEmpty ? nil : values.reduce(0, +) / Double(values.count)
    }

    static func ends(_ events: [Endpointer.Event]) -> Int {
        events.count { if case .utteranceEnded = $0 { true } else { false } }
    }

    /// Lower-case words, punctuation other than apostrophes dropped (how the experiment's jiwer scoring normalises).
    static func words(_ text: String) -> [String] {
        text.lowercased().split(whereSeparator: \.isWhitespace).compactMap { token in
            guard !token.hasPrefix("<"), !token.hasPrefix("["), !token.hasPrefix("+") else { return nil }
            let word = (token.split(separator: "(").first.map(String.init) ?? String(token)).filter { $0.isLetter || $0.isNumber || $0 == "'" }
            return word.isEmpty ? nil : word
        }
    }

    /// Substitutions, deletions and insertions that turn `reference` into `hypothesis` (Levenshtein over words).
    static func editDistance(_ reference: [String], _ hypothesis: [String]) -> Int {
        guard !reference.isEmpty else { return hypothesis.count }
        var previous = Array(0...hypothesis.count)
        for (i, word) in reference.enumerated() {
            var current = [i + 1] + Array(repeating: 0, count: hypothesis.count)
            for (j, heard) in hypothesis.enumerated() {
                current[j + 1] = min(previous[j + 1] + 1, current[j] + 1, previous[j] + (word == heard ? 0 : 1))
            }
            previous = current
        }
        return previous[hypothesis.count]
    }
}
