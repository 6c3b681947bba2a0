import AnswerNinjaCore
import Codecs
import Foundation
import Speech
import Testing

/// espeak-ng on its one thread: real synthesis, chunked, resampled, prioritised, and the phrase cache.
@Suite(.serialized) struct SynthesisTests {
    static func synthesizer() async throws -> EspeakSynthesizer { try await EspeakSynthesizer.shared() }

    static func rms(_ samples: [Int16]) -> Double {
        guard !samples.isEmpty else { return 0 }
        return (samples.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(samples.count)).squareRoot()
    }

    @Test func speaksInChunksAtTheCallsRate() async throws {
        let synthesizer = try await Self.synthesizer()
        var chunks: [SpeechChunk] = []
        for try await chunk in synthesizer.synthesize("Hello, you've reached Sam's AI assistant. May I ask who is calling?", rate: .narrowband) {
            chunks.append(chunk)
        }
        #expect(chunks.count > 3, "audio arrives in pieces, not at the end")
        #expect(chunks.last?.isLast == true)
        #expect(chunks.dropLast().allSatisfy { !$0.isLast && $0.rate == .narrowband })
        let samples = chunks.flatMap(\.samples)
        let seconds = Double(samples.count) / 8000
        #expect(seconds > 2 && seconds < 8, "\(seconds) s for 13 words")
        #expect(Self.rms(samples) > 500, "speech, not silence")
        #expect(!chunks[0].samples.isEmpty)
    }

    /// Loudness per 10 ms at 8 kHz.
    static func envelope(_ samples: [Int16]) -> [Double] {
        stride(from: 0, to: samples.count, by: 80).map { rms(Array(samples[$0..<min($0 + 80, samples.count)])) }
    }

    /// The best normalised correlation of two envelopes within ±5 frames (50 ms) of lag.
    static func similarity(_ a: [Int16], _ b: [Int16]) -> Double {
        let x = envelope(a), y = envelope(b)
        func correlation(_ lag: Int) -> Double {
            var pairs: [(Double, Double)] = []
            for i in 0..<x.count where i + lag >= 0 && i + lag < y.count { pairs.append((x[i], y[i + lag])) }
            guard pairs.count > 10 else { return 0 }
            let mx = pairs.map(\.0).reduce(0, +) / Double(pairs.count), my = pairs.map(\.1).reduce(0, +) / Double(pairs.count)
            let cov = pairs.reduce(0) { $0 + ($1.0 - mx) * ($1.1 - my) }
            let vx = pairs.reduce(0) { $0 + ($1.0 - mx) * ($1.0 - mx) }, vy = pairs.reduce(0) { $0 + ($1.1 - my) * ($1.1 - my) }
            return vx > 0 && vy > 0 ? cov / (vx * vy).squareRoot() : 0
        }
        return (-5...5).map(correlation).max() ?? 0
    }

    /// espeak-ng is not bit-exact within one process: its prosody depends on what it said before (a line after a long
    /// text measured 3.5 % longer than the same line before it). So "the same audio" is the same duration within 3 %
    /// and the same loudness envelope; a mixed-up or corrupted stream fails both.
    static func sameSpeech(_ a: [Int16], _ b: [Int16]) -> Bool {
        abs(a.count - b.count) <= max(a.count, b.count) * 3 / 100 && similarity(a, b) > 0.97
    }

    @Test func theSameTextGivesTheSameAudioWhetherSerialOrTwentyAtOnce() async throws {
        let synthesizer = try await Self.synthesizer()
        let lines = [
            "Please remove this number from your list.", "The person you called is not available.", "Thank you, goodbye.",
            "May I ask who is calling and what it is about?", "I'll pass your message on today.",
        ]
        let texts = (0..<20).map { lines[$0 % lines.count] }
        var serial: [[Int16]] = []
        for text in texts { serial.append(try await synthesizer.synthesizeAll(text, rate: .narrowband)) }
        let concurrent = try await withThrowingTaskGroup(of: (Int, [Int16]).self) { group in
            for (index, text) in texts.enumerated() {
                group.addTask { (index, try await synthesizer.synthesizeAll(text, rate: .narrowband)) }
            }
            var results = [[Int16]](repeating: [], count: texts.count)
            for try await (index, samples) in group { results[index] = samples }
            return results
        }
        for index in texts.indices {
            #expect(Self.sameSpeech(concurrent[index], serial[index]), "line \(index): \(Self.similarity(concurrent[index], serial[index]))")
            // Each concurrent result is its own text, not another's.
            let other = (index + 1) % texts.count
            #expect(!Self.sameSpeech(concurrent[index], serial[other]), "line \(index) looks like line \(other)")
        }
        #expect(Self.sameSpeech(serial[0], serial[5]), "the same text twice")
    }

    @Test func repliesGoBeforeBackgroundWorkThenFirstComeFirstServed() {
        var queue = SynthesisQueue<String>()
        queue.push("warm 1", priority: .background)
        queue.push("warm 2", priority: .background)
        queue.push("reply 1", priority: .reply)
        queue.push("warm 3", priority: .background)
        queue.push("reply 2", priority: .reply)
        var order: [String] = []
        while let next = queue.pop() { order.append(next) }
        #expect(order == ["reply 1", "reply 2", "warm 1", "warm 2", "warm 3"])
        #expect(queue.isEmpty)
    }

    @Test func aCancelledSynthesisStopsAndTheNextOneRuns() async throws {
        let synthesizer = try await Self.synthesizer()
        let abortedBefore = synthesizer.abortedSyntheses
        for try await chunk in synthesizer.synthesize(String(repeating: "This reply is interrupted by the caller. ", count: 20), rate: .narrowband) {
            #expect(!chunk.samples.isEmpty)
            break
        }
        let next = try await synthesizer.synthesizeAll("Sorry, go ahead.", rate: .fullband)
        #expect(synthesizer.abortedSyntheses == abortedBefore + 1, "the interrupted reply was stopped, not synthesized to its end")
        #expect(synthesizer.pendingJobs == 0)
        #expect(Double(next.count) / 48000 > 0.5)
        #expect(Self.rms(next) > 500)
    }

    @Test func thePhraseCacheHoldsReadyFramesPerCodec() async throws {
        let cache = PhraseCache(synthesizer: try await Self.synthesizer())
        let line = "Thank you for calling. Goodbye."
        #expect(cache.frames(for: line, codec: .pcmu) == nil)
        try await cache.warm([line, line])
        let pcmu = try #require(cache.frames(for: line, codec: .pcmu))
        let pcma = try #require(cache.frames(for: line, codec: .pcma))
        let l16 = try #require(cache.frames(for: line, codec: .l16))
        let opus = try #require(cache.frames(for: line, codec: .opus))
        #expect(pcmu.allSatisfy { $0.count == 160 })
        #expect(opus.count == pcmu.count)
        #expect(opus.allSatisfy { !$0.isEmpty && $0.count < 160 }, "Opus at 24 kb/s: about 60 bytes a frame")
        #expect(pcma.count == pcmu.count)
        #expect(l16.allSatisfy { $0.count == 640 })
        // The frames are the synthesized audio, encoded.
        let direct = try await Self.synthesizer().synthesizeAll(line, rate: .narrowband)
        var decoded: [Int16] = []
        G711.decode(pcmu.joined(), law: .muLaw, into: &decoded)
        #expect(Self.rms(decoded) > 500)
        #expect(Self.sameSpeech(Array(decoded.prefix(direct.count)), direct))
        // The Opus frames decode to the same speech (after the codec's look-ahead).
        let decoder = try OpusDecoderSession(sampleRate: .narrowband)
        var opusDecoded: [Int16] = []
        for packet in opus { try decoder.decode(packet, into: &opusDecoded) }
        let lookahead = try OpusEncoderSession(sampleRate: .narrowband).lookahead
        #expect(Self.sameSpeech(Array(opusDecoded.dropFirst(lookahead).prefix(direct.count)), direct))
        // Encoding is exact: the frames of a given audio are that audio, µ-law coded, 160 samples each.
        let encoded = try PhraseCache.encode(direct, codec: .pcmu)
        #expect(encoded.count == (direct.count + 159) / 160)
        var expected: [UInt8] = []
        G711.encode(direct, law: .muLaw, into: &expected)
        #expect(Array(encoded.joined().prefix(direct.count)) == expected)
        #expect(cache.statistics.entries == 4)
        #expect(cache.statistics.hits == 4)
    }
}

