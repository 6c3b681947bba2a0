import AnswerNinjaCore
import Conversation
import Foundation
import Codecs
import MediaDSP
import Speech

/// `answer-ninja bench conversation`: the conversation and speech targets of the speech issue, timed in this
/// process (docs/benchmarks.md): the classifier per utterance and a dialog turn, each against the baseline of
/// merely normalising the same text; TTS time to the first chunk and a phrase-cache hit; the recogniser's real-time
/// factor on one core and the calls one core can serve. Build in release.
public struct ConversationBench: Sendable {
    public typealias Check = MediaBench.Check
    public typealias Measurement = MediaBench.Measurement

    public struct Report: Codable, Sendable, CommandOutput {
        public var build: String
        public var measurements: [Measurement]
        /// Figures without a target (ratios, calls per core).
        public var reported: [String: Double]
        public var checks: [Check]
        public var ok: Bool { checks.allSatisfy(\.met) }

        public var humanReadable: String {
            var lines = ["conversation and speech, \(build) build" + (build == "debug" ? " (figures are not representative: build with -c release)" : "")]
            lines += measurements.map { String(format: "%14.0f ns  %@", $0.nanoseconds, $0.name) }
            lines += reported.sorted { $0.key < $1.key }.map { String(format: "%14.3f     %@", $0.value, $0.key) }
            lines += checks.map { String(format: "%@ %@: %.3f (%@)", $0.met ? "met " : "MISS", $0.target, $0.value, $0.limit) }
            return lines.joined(separator: "\n")
        }
    }

    /// Caller utterances of the kinds the classifier sees, 8 to 25 words.
    static let utterances = [
        "hi this is mike from pacific auto protection calling about the extended warranty on your vehicle",
        "your verification code is four eight two nine one six",
        "hello this is main street pharmacy calling to let you know your prescription is ready for pickup",
        "this is officer james from the internal revenue service there is a warrant for your arrest",
        "congratulations you have been selected to receive a free cruise to the bahamas",
        "hey it's your sister I'm calling about mom's birthday dinner on saturday",
        "we are conducting a short survey about customer satisfaction in your area",
        "I'm a volunteer with the campaign can we count on your vote in november",
    ]

    public var rounds: Int
    public var iterations: Int

    public init(rounds: Int = 5, iterations: Int = 2000) {
        self.rounds = max(1, rounds)
        self.iterations = max(10, iterations)
    }

    public func run() async throws -> Report {
        var measurements: [Measurement] = []
        var checks: [Check] = []
        var reported: [String: Double] = [:]
        let classifier = try IntentClassifier.bundled()
        let texts = Self.utterances

        let normalise = measure("baseline: normalise an utterance (lower case, digits spelled)", iterations) { count in
            let clock = ContinuousClock()
            return clock.measure {
                for i in 0..<count { blackHole(IntentFeatures.normalise(texts[i % texts.count])) }
            }
        }
        let classify = measure("classify an utterance (features + 17 classes + softmax)", iterations) { count in
            let clock = ContinuousClock()
            return clock.measure {
                for i in 0..<count { blackHole(classifier.classify(texts[i % texts.count])) }
            }
        }
        let turn = measure("dialog turn without LLM (classify + policy + persona line)", iterations) { count in
            var engine = ConversationEngine(classifier: classifier, settings: DialogSettings())
            _ = engine.open()
            var turns = 0
            let clock = ContinuousClock()
            return clock.measure {
                for i in 0..<count {
                    // A fresh call every 6 turns, as calls are short.
                    if turns == 6 {
                        engine = ConversationEngine(classifier: classifier, settings: DialogSettings())
                        _ = engine.open()
                        turns = 0
                    }
                    blackHole(engine.caller(said: texts[i % texts.count], at: .seconds(10 * turns)))
                    turns += 1
                }
            }
        }
        measurements += [normalise, classify, turn]
        checks.append(Check(target: "classifier per utterance, µs", value: classify.nanoseconds / 1000, limit: "≤ 50", met: classify.nanoseconds <= 50_000))
        reported["classifier ÷ normalising the same text"] = classify.nanoseconds / normalise.nanoseconds
        checks.append(Check(target: "dialog turn without LLM, ms", value: turn.nanoseconds / 1e6, limit: "≤ 1", met: turn.nanoseconds <= 1_000_000))

        // Speech: espeak-ng on its thread; the first chunk of a 10-word reply, and a phrase-cache hit.
        let synthesizer = try await EspeakSynthesizer.shared()
        let reply = "Thank you, but the person you called is not interested."
        var firstChunk = Duration.seconds(3600)
        var whole = Duration.seconds(3600)
        for _ in 0..<rounds {
            let start = ContinuousClock.now
            var first: Duration?
            for try await chunk in synthesizer.synthesize(reply, rate: .narrowband, priority: .reply) where first == nil && !chunk.samples.isEmpty {
                first = ContinuousClock.now - start
            }
            firstChunk = min(firstChunk, first ?? .seconds(3600))
            whole = min(whole, ContinuousClock.now - start)
        }
        measurements.append(Measurement(name: "TTS first chunk, 10-word reply at 8 kHz (espeak-ng)", nanoseconds: Double(firstChunk.nanosecondsClamped)))
        measurements.append(Measurement(name: "TTS whole 10-word reply at 8 kHz (baseline for the first chunk)", nanoseconds: Double(whole.nanosecondsClamped)))
        checks.append(Check(target: "TTS first chunk ÷ whole reply", value: Double(firstChunk.nanosecondsClamped) / Double(whole.nanosecondsClamped), limit: "< 1 (streams)", met: firstChunk < whole))
        let cache = PhraseCache(synthesizer: synthesizer)
        try await cache.warm([reply], codecs: [.pcmu])
        let hit = measure("phrase-cache hit (ready PCMU frames)", iterations) { count in
            let clock = ContinuousClock()
            return clock.measure {
                for _ in 0..<count { blackHole(cache.frames(for: reply, codec: .pcmu)) }
            }
        }
        measurements.append(hit)
        checks.append(Check(target: "TTS phrase-cache hit, ms", value: hit.nanoseconds / 1e6, limit: "≤ 1", met: hit.nanoseconds <= 1_000_000))

        // Recognition: a real recording (pocketsphinx-testdata) through the telephone channel, on one decoder.
        if let audio = Self.telephoneRecording() {
            let recognizer = try await PocketSphinxRecognizer.make(decoders: 1)
            var best = Duration.seconds(3600)
            for _ in 0..<rounds {
                let stream = try await recognizer.makeStream(rate: .narrowband)
                let start = ContinuousClock.now
                var offset = 0
                while offset < audio.count {
                    _ = try await stream.feed(Array(audio[offset..<min(offset + 160, audio.count)]))
                    offset += 160
                }
                blackHole(try await stream.finish())
                best = min(best, ContinuousClock.now - start)
                await stream.close()
            }
            try await recognizer.shutdown()
            let audioSeconds = Double(audio.count) / 8000
            let rtf = Double(best.nanosecondsClamped) / 1e9 / audioSeconds
            measurements.append(Measurement(name: "STT one utterance of \(String(format: "%.1f", audioSeconds)) s (gathered, then decoded whole)", nanoseconds: Double(best.nanosecondsClamped)))
            checks.append(Check(target: "STT real-time factor on one core", value: rtf, limit: "< 1 (faster than real time)", met: rtf < 1))
            // A caller speaks about 40 % of an AI call; one core serves this many calls at once.
            reported["STT calls one core serves (caller speaking 40 % of the time)"] = 1 / (rtf * 0.4)
        }
        let build = MediaBench.buildKind
        return Report(build: build, measurements: measurements, reported: reported, checks: checks)
    }

    /// goforward.raw from pocketsphinx-testdata through a G.711 channel at 8 kHz, or nil when not installed.
    static func telephoneRecording() -> [Int16]? {
        guard let data = FileManager.default.contents(atPath: "/usr/share/pocketsphinx/test/data/goforward.raw") else { return nil }
        let wide = data.withUnsafeBytes { Array($0.bindMemory(to: Int16.self)) }
        var narrow: [Int16] = []
        guard (try? MediaDSP.Resampler(from: .wideband, to: .narrowband).process(wide, into: &narrow)) != nil else { return nil }
        return narrow.map { G711.muLawDecode(G711.muLawEncode($0)) }
    }

    private func measure(_ name: String, _ count: Int, _ body: (Int) throws -> Duration) rethrows -> Measurement {
        _ = try body(min(count, 100))
        var best = Duration.seconds(3600)
        for _ in 0..<rounds { best = min(best, try body(count)) }
        return Measurement(name: name, nanoseconds: Double(best.nanosecondsClamped) / Double(count))
    }
}
