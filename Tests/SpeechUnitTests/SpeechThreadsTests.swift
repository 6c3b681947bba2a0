import Foundation
import Speech
import Testing

/// The speech engines' threads run below the media's pacing (`SpeechThreads`): read back from the kernel
/// (`/proc/self/task/*/stat`), not from our own bookkeeping.
@Suite(.serialized) struct SpeechThreadsTests {
    /// The nice value of each of this process's threads whose name starts with `prefix`.
    static func niceValues(named prefix: String) -> [Int] {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
        return tasks.compactMap { task in
            guard let comm = try? String(contentsOfFile: "/proc/self/task/\(task)/comm", encoding: .utf8), comm.hasPrefix(prefix),
                  let stat = try? String(contentsOfFile: "/proc/self/task/\(task)/stat", encoding: .utf8), let close = stat.lastIndex(of: ")")
            else { return nil }
            // After "pid (comm)": field 3 (state) onwards; the nice value is field 19.
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            return fields.count > 16 ? Int(fields[16]) : nil
        }
    }

    @Test func aThreadLowersItselfAndTheKernelSaysSo() async throws {
        let nice = await withCheckedContinuation { continuation in
            Thread {
                let before = SpeechThreads.currentNiceValue
                let lowered = SpeechThreads.lowerPriority()
                continuation.resume(returning: (before, lowered, SpeechThreads.currentNiceValue))
            }.start()
        }
        #expect(nice.0 == 0 && nice.1 && nice.2 == SpeechThreads.niceValue, "\(nice)")
        #expect(SpeechThreads.currentNiceValue == 0, "the test's own thread is untouched")
    }

    @Test(.timeLimit(.minutes(2)))
    func theRecognisersAndTheSynthesizersThreadsRunLowered() async throws {
        let synthesizer = try await EspeakSynthesizer.shared()
        _ = try await synthesizer.synthesizeAll("Hello.", rate: .narrowband)
        let espeak = Self.niceValues(named: "espeak-ng")
        #expect(!espeak.isEmpty && espeak.allSatisfy { $0 == Int(SpeechThreads.niceValue) }, "\(espeak)")
        let before = Self.niceValues(named: "TP-#").filter { $0 == Int(SpeechThreads.niceValue) }.count
        let recognizer = try await PocketSphinxRecognizer.make(decoders: 2)
        let stream = try await recognizer.makeStream(rate: .narrowband)
        _ = try await stream.feed([Int16](repeating: 0, count: 8000))
        _ = try await stream.finish()
        let lowered = Self.niceValues(named: "TP-#").filter { $0 == Int(SpeechThreads.niceValue) }.count
        #expect(lowered - before >= 1, "the recogniser's pool threads: \(Self.niceValues(named: "TP-#"))")
        try await recognizer.shutdown()
    }
}
