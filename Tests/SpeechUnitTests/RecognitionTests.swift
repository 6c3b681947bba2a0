import AnswerNinjaCore
import Codecs
import Foundation
import MediaDSP
import Speech
import Testing

/// pocketsphinx on REAL speech from pocketsphinx-testdata, through a G.711 telephone channel (never espeak
/// recognised by pocketsphinx: that loop flatters; docs/stt-experiment.md).
@Suite(.serialized) struct RecognitionTests {
    static let testData = "/usr/share/pocketsphinx/test/data/"

    /// A pocketsphinx-testdata recording (16 kHz raw, or WAV) → 8 kHz → µ-law → 8 kHz PCM: what a PSTN call carries.
    static func telephoneAudio(_ name: String = "goforward.raw") throws -> [Int16] {
        guard let data = FileManager.default.contents(atPath: testData + name) else {
            throw SpeechError(code: .init("test_data"), message: "\(testData + name) is missing: install pocketsphinx-testdata (tools/setup)")
        }
        let body = name.hasSuffix(".wav") ? data.dropFirst(44) : data[...]
        let wide: [Int16] = body.withUnsafeBytes { Array($0.bindMemory(to: Int16.self)) }.map { Int16(littleEndian: $0) }
        var narrow: [Int16] = []
        try Resampler(from: .wideband, to: .narrowband).process(wide, into: &narrow)
        var codes: [UInt8] = []
        G711.encode(narrow, law: .muLaw, into: &codes)
        var decoded: [Int16] = []
        G711.decode(codes, law: .muLaw, into: &decoded)
        return decoded
    }

    @Test(.timeLimit(.minutes(2)))
    func recognisesAHumanRecordingAfterATelephoneChannelWithTimings() async throws {
        let recognizer = try await PocketSphinxRecognizer.make(model: .standard(domain: false), decoders: 1)
        let audio = try Self.telephoneAudio()
        let stream = try await recognizer.makeStream(rate: .narrowband)
        // A stream holds no decoder while it gathers the utterance: it makes no partials.
        #expect(recognizer.idleDecoders == 1)
        var offset = 0
        while offset < audio.count {
            let end = min(offset + 160, audio.count)
            #expect(try await stream.feed(Array(audio[offset..<end])) == nil)
            offset = end
        }
        let final = try await stream.finish()
        #expect(final.isFinal)
        #expect(final.text.contains("forward"), "heard \"\(final.text)\"")
        #expect((0...1).contains(final.confidence))
        #expect(!final.words.isEmpty)
        #expect(zip(final.words, final.words.dropFirst()).allSatisfy { $0.endMs <= $1.startMs + 10 })
        #expect((final.words.last?.endMs ?? 0) <= audio.count / 8 + 100)

        // The stream takes the next utterance; an empty one is an empty result.
        #expect(try await stream.finish().text == "")
        await stream.close()
        await #expect(throws: SpeechError.self) { _ = try await stream.feed([0]) }
        #expect(recognizer.idleDecoders == 1)
        try await recognizer.shutdown()
    }

    /// The streaming mode (`speech.stt_mode` streaming): the decoder is fed as the audio arrives and held while the
    /// utterance lasts; at the end only the final search is left. The same recording is heard, and the decoder goes
    /// back at `finish` (and at `close` of an utterance never finished).
    @Test(.timeLimit(.minutes(2)))
    func theStreamingModeHearsTheRecordingAndHoldsItsDecoderOnlyWhileSpeaking() async throws {
        let recognizer = try await PocketSphinxRecognizer.make(model: .standard(domain: false), decoders: 1, streaming: true)
        let audio = try Self.telephoneAudio()
        let stream = try await recognizer.makeStream(rate: .narrowband)
        #expect(recognizer.idleDecoders == 1)
        // Fed at the pace of a call, 20 ms at a time.
        let clock = ContinuousClock(), start = clock.now
        var offset = 0
        var halfway: String?
        while offset < audio.count {
            let end = min(offset + 160, audio.count)
            #expect(try await stream.feed(Array(audio[offset..<end])) == nil)
            offset = end
            try await clock.sleep(until: start + .milliseconds(offset / 8))
            if halfway == nil, offset >= audio.count / 2 { halfway = await stream.hypothesis() }
        }
        #expect(recognizer.idleDecoders == 0, "held while the utterance lasts")
        // The first pass's hypothesis, read while the utterance goes on: part of the recording, then all of it.
        let atEnd = try #require(await stream.hypothesis())
        let half = try #require(halfway)
        #expect(atEnd.contains("forward") && half.split(separator: " ").count < atEnd.split(separator: " ").count, "halfway \"\(half)\", at the end \"\(atEnd)\"")
        let started = ContinuousClock.now
        let final = try await stream.finish()
        print("streaming: \"\(final.text)\", final search \(ContinuousClock.now - started) after the last audio")
        #expect(final.isFinal && final.text.contains("forward"), "heard \"\(final.text)\"")
        #expect(!final.words.isEmpty && zip(final.words, final.words.dropFirst()).allSatisfy { $0.endMs <= $1.startMs + 10 }, "\(final.words)")
        #expect(recognizer.idleDecoders == 1)
        // An utterance closed unfinished gives its decoder back too.
        _ = try await stream.feed(Array(audio.prefix(8000)))
        await stream.close()
        #expect(recognizer.idleDecoders == 1)
        try await recognizer.shutdown()
    }

    /// The streaming mode's early final: `speculate` runs the final search on what was heard by then, and `finish`
    /// gives that result (what came after is taken as the trailing silence; here it is more speech, to show which
    /// audio was decoded). When the caller goes on (`speechResumed`, or simply a later `speculate`), the early result
    /// is dropped and the decoder starts again from the utterance's first sample: the result is of the whole
    /// utterance. (Word for word it can differ from an unbroken stream's by a word: CI saw 9 words against 8. A
    /// stream's result depends on how its audio reached the decoder, which the pump's timing decides; so the checks
    /// count the recording's key word, once or twice.)
    @Test(.timeLimit(.minutes(2)))
    func theStreamingModeSpeculatesAndStartsAgainWhenTheCallerGoesOn() async throws {
        let recognizer = try await PocketSphinxRecognizer.make(model: .standard(domain: false), decoders: 1, streaming: true)
        let audio = try Self.telephoneAudio()
        func forwards(_ text: String) -> Int { text.split(separator: " ").filter { $0 == "forward" }.count }
        let once = try await Self.recognise(audio, on: try await recognizer.makeStream(rate: .narrowband))
        let twice = try await Self.recognise(audio + audio, on: try await recognizer.makeStream(rate: .narrowband))
        #expect(forwards(once) == 1 && forwards(twice) == 2, "\(once) / \(twice)")
        let stream = try await recognizer.makeStream(rate: .narrowband)

        try await Self.feedInChunks(audio, to: stream)
        await stream.speculate()
        try await Self.feedInChunks(audio, to: stream)
        // After the early final, the hypothesis is its text, and the final is the same: the first copy only.
        let early = try #require(await stream.hypothesis())
        let speculated = try await stream.finish().text
        #expect(speculated == early && forwards(speculated) == 1, "\(speculated) / \(early)")
        #expect(recognizer.idleDecoders == 1)

        // The caller went on after the pause: both copies.
        try await Self.feedInChunks(audio, to: stream)
        await stream.speculate()
        await stream.speechResumed()
        try await Self.feedInChunks(audio, to: stream)
        let resumed = try await stream.finish().text
        #expect(forwards(resumed) == 2, "\(resumed)")

        // No word of the resumption, only a later speculation: the later one wins (both copies, not the third).
        try await Self.feedInChunks(audio, to: stream)
        await stream.speculate()
        try await Self.feedInChunks(audio, to: stream)
        await stream.speculate()
        try await Self.feedInChunks(audio, to: stream)
        let later = try await stream.finish().text
        #expect(forwards(later) == 2, "\(later)")

        // An utterance closed after its early final gives the decoder back.
        try await Self.feedInChunks(audio, to: stream)
        await stream.speculate()
        await stream.close()
        #expect(recognizer.idleDecoders == 1)
        try await recognizer.shutdown()
    }

    /// A stream closed by a cancelled task (the call hung up while its utterance was open) still ends its decoder's
    /// utterance before giving it back: the next call on that decoder hears only its own audio. (The pool skips the
    /// work of a cancelled task; before the end ran in a task of its own, the decoder went back mid-utterance and the
    /// next stream's audio was appended to the last caller's: "forward" twice.)
    @Test(.timeLimit(.minutes(2)))
    func aStreamClosedByACancelledTaskGivesItsDecoderBackClean() async throws {
        let recognizer = try await PocketSphinxRecognizer.make(model: .standard(domain: false), decoders: 1, streaming: true)
        let audio = try Self.telephoneAudio()
        let first = try await recognizer.makeStream(rate: .narrowband)
        try await Self.feedInChunks(audio, to: first)
        #expect(await first.hypothesis()?.contains("forward") == true, "the first stream's utterance is open and fed")
        let closing = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            await first.close()
        }
        await closing.value
        #expect(recognizer.idleDecoders == 1)
        let next = try await Self.recognise(audio, on: try await recognizer.makeStream(rate: .narrowband))
        #expect(next.split(separator: " ").filter { $0 == "forward" }.count == 1, "\(next)")
        try await recognizer.shutdown()
    }

    static func feedInChunks(_ audio: [Int16], to stream: any RecognitionStream) async throws {
        var offset = 0
        while offset < audio.count {
            _ = try await stream.feed(Array(audio[offset..<min(offset + 1600, audio.count)]))
            offset += 1600
        }
    }

    /// More calls than decoders: three streams on one decoder all get their result (the decodes wait their turn;
    /// none is refused), the same as one stream alone (decodes do not share state).
    @Test(.timeLimit(.minutes(2)))
    func moreCallsThanDecodersShareThePool() async throws {
        let recognizer = try await PocketSphinxRecognizer.make(model: .standard(), decoders: 1)
        let audio = try Self.telephoneAudio()
        let streams = [try await recognizer.makeStream(rate: .narrowband), try await recognizer.makeStream(rate: .narrowband), try await recognizer.makeStream(rate: .narrowband)]
        let alone = try await Self.recognise(audio, on: try await recognizer.makeStream(rate: .narrowband))
        let results = try await withThrowingTaskGroup(of: String.self) { group in
            for stream in streams { group.addTask { try await Self.recognise(audio, on: stream) } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(results.count == 3 && results.allSatisfy { $0 == alone } && !alone.isEmpty, "\(results) vs \(alone)")
        for stream in streams { await stream.close() }
        #expect(recognizer.idleDecoders == 1 && recognizer.waitingDecodes == 0)
        try await recognizer.shutdown()
    }

    /// `speculate` decodes what the stream has at that moment, and `finish` gives that result: what came after is
    /// taken as the silence the endpointer waited through (here it is more speech, to show which audio was decoded).
    @Test(.timeLimit(.minutes(2)))
    func aSpeculativeDecodeIsTheFinalResult() async throws {
        let recognizer = try await PocketSphinxRecognizer.make(model: .standard(domain: false), decoders: 1)
        let audio = try Self.telephoneAudio()
        let alone = try await Self.recognise(audio, on: try await recognizer.makeStream(rate: .narrowband))
        let stream = try await recognizer.makeStream(rate: .narrowband)
        _ = try await stream.feed(audio)
        #expect(await stream.hypothesis() == nil, "decoding whole utterances, there is no first pass to read")
        await stream.speculate()
        _ = try await stream.feed(audio)
        let speculated = try await stream.finish()
        #expect(speculated.text == alone && alone.contains("forward"), "\(speculated.text) vs \(alone)")
        // Without a speculation the whole utterance is decoded: twice the words.
        let twice = try await Self.recognise(audio + audio, on: stream)
        #expect(twice.split(separator: " ").count > alone.split(separator: " ").count, "\(twice) vs \(alone)")
        await stream.close()
        try await recognizer.shutdown()
    }

    static func recognise(_ audio: [Int16], on stream: any RecognitionStream) async throws -> String {
        try await feedInChunks(audio, to: stream)
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

@Suite struct StreamingConcurrencyTests {
    /// Six calls streaming at once on four decoders, two utterances each with a hypothesis read before the end, as
    /// `serve` does under load: every stream gets its result, the same as the others (the same recording). Without
    /// the flat second pass this aborts in pocketsphinx (ngram_search_fwdtree.c), which is why the product keeps it.
    @Test(.timeLimit(.minutes(3)))
    func manyStreamsOnAFewDecodersAllGetTheSameResult() async throws {
        let recognizer = try await PocketSphinxRecognizer.make(model: .standard(domain: false), decoders: 4, streaming: true)
        let audio = try RecognitionTests.telephoneAudio()
        let results = try await withThrowingTaskGroup(of: [String].self) { group in
            for _ in 0..<6 {
                group.addTask {
                    let stream = try await recognizer.makeStream(rate: .narrowband)
                    var texts: [String] = []
                    for _ in 0..<2 {
                        var offset = 0
                        while offset < audio.count {
                            _ = try await stream.feed(Array(audio[offset..<min(offset + 160, audio.count)]))
                            offset += 160
                            if offset % 1600 == 0 { try await Task.sleep(for: .milliseconds(5)) }
                        }
                        _ = await stream.hypothesis()
                        texts.append(try await stream.finish().text)
                    }
                    await stream.close()
                    return texts
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        #expect(results.count == 12 && Set(results).count == 1 && results[0].contains("forward"), "\(results)")
        #expect(recognizer.idleDecoders == 4)
        try await recognizer.shutdown()
    }
}
