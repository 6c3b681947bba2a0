import AnswerNinjaCore
import Codecs
import Foundation
import MediaDSP
import Speech
import Testing

/// pocketsphinx on REAL speech from pocketsphinx-testdata, through a G.711 telephone channel (never espeak
/// recognised by pocketsphinx: that loop flatters; docs/stt-experiment.md).
@Suite(.serialized) struct RecognitionTests {
    static let recording = "/usr/share/pocketsphinx/test/data/goforward.raw"

    /// goforward.raw (16 kHz) → 8 kHz → µ-law → 8 kHz PCM: what a PSTN call carries.
    static func telephoneAudio() throws -> [Int16] {
        guard let data = FileManager.default.contents(atPath: recording) else {
            throw SpeechError(code: .init("test_data"), message: "\(recording) is missing: install pocketsphinx-testdata (tools/setup)")
        }
        let wide = data.withUnsafeBytes { Array($0.bindMemory(to: Int16.self)) }
        var narrow: [Int16] = []
        try Resampler(from: .wideband, to: .narrowband).process(wide, into: &narrow)
        var codes: [UInt8] = []
        G711.encode(narrow, law: .muLaw, into: &codes)
        var decoded: [Int16] = []
        G711.decode(codes, law: .muLaw, into: &decoded)
        return decoded
    }

    @Test(.timeLimit(.minutes(2)))
    func recognisesAHumanRecordingAfterATelephoneChannelWithPartialsAndTimings() async throws {
        let recognizer = try await PocketSphinxRecognizer.make(model: .standard(domain: false), decoders: 1)
        let audio = try Self.telephoneAudio()
        let stream = try await recognizer.makeStream(rate: .narrowband)
        #expect(recognizer.idleDecoders == 0)
        var partials: [RecognitionResult] = []
        var offset = 0
        while offset < audio.count {
            let end = min(offset + 160, audio.count)
            if let partial = try await stream.feed(Array(audio[offset..<end])) { partials.append(partial) }
            offset = end
        }
        let final = try await stream.finish()
        #expect(!partials.isEmpty && partials.allSatisfy { !$0.isFinal })
        #expect(final.isFinal)
        #expect(final.text.contains("forward"), "heard \"\(final.text)\"")
        #expect((0...1).contains(final.confidence))
        #expect(!final.words.isEmpty)
        #expect(zip(final.words, final.words.dropFirst()).allSatisfy { $0.endMs <= $1.startMs + 10 })
        #expect((final.words.last?.endMs ?? 0) <= audio.count / 8 + 100)

        // The stream takes the next utterance; an empty one is an empty result.
        #expect(try await stream.finish().text == "")
        await stream.close()
        #expect(recognizer.idleDecoders == 1)
        try await recognizer.shutdown()
    }

    @Test(.timeLimit(.minutes(2)))
    func aBusyPoolSaysSoAndEveryStreamGetsItsOwnDecoder() async throws {
        let recognizer = try await PocketSphinxRecognizer.make(model: .standard(), decoders: 2)
        let first = try await recognizer.makeStream(rate: .narrowband)
        let second = try await recognizer.makeStream(rate: .narrowband)
        await #expect(throws: SpeechError.self) { _ = try await recognizer.makeStream(rate: .narrowband) }
        // Two calls at once give the same result as one alone: decoders do not share state.
        let audio = try Self.telephoneAudio()
        async let a = Self.recognise(audio, on: first)
        async let b = Self.recognise(audio, on: second)
        let (resultA, resultB) = try await (a, b)
        #expect(resultA == resultB)
        await first.close()
        await second.close()
        #expect(recognizer.idleDecoders == 2)
        try await recognizer.shutdown()
    }

    static func recognise(_ audio: [Int16], on stream: any RecognitionStream) async throws -> String {
        var offset = 0
        while offset < audio.count {
            _ = try await stream.feed(Array(audio[offset..<min(offset + 1600, audio.count)]))
            offset += 1600
        }
        return try await stream.finish().text
    }

    @Test func theShippedTelephoneModelIsBundled() throws {
        let directory = try #require(PocketSphinxRecognizer.Model.bundledTelephoneDirectory)
        let params = try String(contentsOfFile: directory + "/feat.params", encoding: .utf8)
        #expect(params.contains("-cmninit"))
        #expect(FileManager.default.fileExists(atPath: directory + "/chanmap_mllr"))
        #expect(PocketSphinxRecognizer.Model.standard().languageModel.hasSuffix("domain.lm.bin"))
    }
}
