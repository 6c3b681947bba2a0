import AnswerNinjaCore
import Foundation
import MediaDSP
import Testing

/// The echo canceller on real speech (pocketsphinx-testdata recordings after µ-law): our audio comes back 100 ms
/// late and 20 dB down, as a trunk reflects it.
@Suite struct EchoCancellerTests {
    /// Far end: what we send. Near end: the echo of it (delay `delay` samples, `gain`), plus what the caller says.
    static func run(far: [Int16], caller: [Int16], delay: Int = 800, gain: Double = 0.1) throws -> (cleaned: [Int16], echo: [Int16]) {
        let canceller = try EchoCanceller()
        let frames = min(far.count, caller.count) / 160
        var cleaned: [Int16] = [], echo: [Int16] = []
        for frame in 0..<frames {
            let range = frame * 160..<(frame + 1) * 160
            let reflected = range.map { $0 >= delay ? Int16(Double(far[$0 - delay]) * gain) : 0 }
            let received = zip(reflected, caller[range]).map { Int16(clamping: Int($0) + Int($1)) }
            echo += reflected
            cleaned += canceller.process(received: received, sent: Array(far[range]))
        }
        return (cleaned, echo)
    }

    static func energy(_ samples: ArraySlice<Int16>) -> Double {
        samples.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(max(1, samples.count))
    }

    static func speech(_ minimumSeconds: Double) throws -> [Int16] {
        var samples: [Int16] = []
        for name in ["0870", "0880", "0890", "0920", "0930"].map({ "librivox/sense_and_sensibility_01_austen_64kb-\($0).wav" }) {
            samples += try VoiceActivityTests.recording(name)
            if Double(samples.count) / 8000 >= minimumSeconds { break }
        }
        return samples
    }

    @Test func ourEchoIsRemovedAndTheVADHearsNothingOnceConverged() throws {
        let far = try Self.speech(12)
        let silence = [Int16](repeating: 0, count: far.count)
        let (cleaned, echo) = try Self.run(far: far, caller: silence)
        // After two seconds of adaptation, the echo that is left is at least 20 dB down on what came back.
        let converged = 16_000..<cleaned.count
        let reduction = 10 * log10(Self.energy(echo[converged]) / max(1, Self.energy(cleaned[converged])))
        print("echo canceller: \(String(format: "%.1f", reduction)) dB of echo removed")
        #expect(reduction >= 20)
        // The raw echo is speech to the VAD (a false barge-in); what is left is not.
        #expect(!VoiceActivityTests.utterances(Array(echo[converged])).isEmpty, "the echo alone looks like speech")
        #expect(VoiceActivityTests.utterances(Array(cleaned[converged])).isEmpty, "\(VoiceActivityTests.utterances(Array(cleaned[converged])))")
    }

    @Test func theCallersOwnSpeechSurvivesDoubleTalk() throws {
        let far = try Self.speech(12)
        let caller = Array(try VoiceActivityTests.recording("goforward.raw").prefix(far.count))
        var talking = [Int16](repeating: 0, count: far.count)
        // The caller speaks over us from 4 s on.
        for (index, sample) in caller.enumerated() where 32_000 + index < talking.count { talking[32_000 + index] = sample }
        let (cleaned, _) = try Self.run(far: far, caller: talking)
        let span = 32_000..<min(talking.count, 32_000 + caller.count)
        let kept = 10 * log10(Self.energy(cleaned[span]) / max(1, Self.energy(talking[span])))
        print("echo canceller: the caller's speech kept at \(String(format: "%.1f", kept)) dB")
        #expect(kept > -6, "the caller is not suppressed with the echo")
        #expect(!VoiceActivityTests.utterances(Array(cleaned[span])).isEmpty, "and the VAD still hears them")
    }
}
