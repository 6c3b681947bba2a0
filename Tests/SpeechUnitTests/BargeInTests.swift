import AnswerNinjaCore
import Codecs
import Foundation
import MediaDSP
import Speech
import Testing

/// Barge-in as issue 7 measures it, on the assistant's own listener (`CallerListener`: echo canceller → VAD →
/// endpointer). The bot's voice is espeak-ng's (what the assistant says); it comes back as echo 20 dB down (ERL) with
/// 60, 100 or 150 ms of delay. A false barge-in is a speech start heard while only the echo is there; detection is
/// the time from the caller's speech onset to the speech start. Both are counted in audio time (20 ms ticks), never
/// on the wall clock, so the figures are exact and the machine's load does not matter. In the synthesis suite: its
/// tests compare espeak-ng's output serial and concurrent, and must not share the synthesizer with these.
extension SynthesisTests {
    /// Sentences the assistant says, synthesised one after another with 300 ms between, to at least `seconds`.
    static func botSpeech(seconds: Double) async throws -> [Int16] {
        let synthesizer = try await EspeakSynthesizer.shared()
        let lines = [
            "Hello, you've reached this number's AI assistant. This call is recorded. May I ask who's calling and what it's about?",
            "Thank you. I'll make sure the person you called gets your message. Would you like me to connect you?",
            "We don't share any information over the phone. Please remove this number from your list. Goodbye.",
            "I understand, but the answer is no. Is there anything else you'd like me to pass on?",
        ]
        var samples: [Int16] = []
        var index = 0
        while Double(samples.count) / 8000 < seconds {
            samples += try await synthesizer.synthesizeAll(lines[index % lines.count], rate: .narrowband)
            samples += [Int16](repeating: 0, count: 2400)
            index += 1
        }
        return samples
    }

    /// A quiet line's own noise, about −60 dBFS (a fixed pseudo-random sequence): a trunk is never digitally silent.
    static func lineNoise(count: Int) -> [Int16] {
        var state: UInt32 = 2_463_534_242
        return (0..<count).map { _ in
            state ^= state << 13
            state ^= state >> 17
            state ^= state << 5
            return Int16(Int(state % 65) - 32)
        }
    }

    /// A clip's onset: its first 10 ms at −45 dBFS or more (the clips' noise floor is below −50).
    static func onset(of clip: [Int16]) -> Int? {
        let loud = 32768 * pow(10, -45.0 / 20)
        return stride(from: 0, to: clip.count - 80, by: 80).first { start in
            let energy: Double = clip[start..<start + 80].reduce(0.0) { $0 + Double($1) * Double($1) }
            return (energy / 80).squareRoot() >= loud
        }
    }

    /// Runs the listener over the call: each tick we send `bot`'s frame and receive its echo (`delay` samples late,
    /// 20 dB down) plus `caller`'s frame. Returns the ticks (20 ms) where speech started, and how many ticks from
    /// `settledTick` on were inside an utterance (heard as the caller speaking).
    static func listen(
        bot: [Int16], caller: [Int16], delay: Int, cancelEcho: Bool = true, gate: Bool = true, settledTick: Int = 300
    ) -> (starts: [Int], speakingTicks: Int) {
        var listener = CallerListener(cancelEcho: cancelEcho, gate: gate)
        var starts: [Int] = []
        var inUtterance = false, speakingTicks = 0
        for tick in 0..<min(bot.count, caller.count) / 160 {
            let range = tick * 160..<(tick + 1) * 160
            let received = range.map { index in
                let echo = index >= delay ? Int(Double(bot[index - delay]) * 0.1) : 0
                return Int16(clamping: echo + Int(caller[index]))
            }
            for event in listener.process(received: received, sent: Array(bot[range])).events {
                switch event {
                case .speechStarted:
                    starts.append(tick)
                    inUtterance = true
                case .utteranceEnded, .utteranceDiscarded:
                    inUtterance = false
                }
            }
            if inUtterance, tick >= settledTick { speakingTicks += 1 }
        }
        return (starts, speakingTicks)
    }

    /// Echo only, three calls of 105 s of bot speech (60, 100 and 150 ms of delay), each from a fresh canceller: no
    /// speech start at all, even in the first seconds while the canceller learns the echo path (the double-talk
    /// gate). The controls: without the gate, the converging canceller lets 2-3 starts through at each call's start
    /// (none after it has converged); without the canceller, the echo is heard as the caller talking.
    @Test(.timeLimit(.minutes(5)))
    func theBotsOwnEchoIsNoBargeIn() async throws {
        let bot = try await Self.botSpeech(seconds: 100)
        let silence = Self.lineNoise(count: bot.count)
        var ungated = 0
        for delayMs in [60, 100, 150] {
            let (starts, speakingTicks) = Self.listen(bot: bot, caller: silence, delay: delayMs * 8)
            let (early, _) = Self.listen(bot: bot, caller: silence, delay: delayMs * 8, gate: false)
            print("barge-in: echo 20 dB down and \(delayMs) ms late, \(bot.count / 8000) s of bot speech: speech starts at ticks \(starts) (without the gate \(early)), \(speakingTicks) ticks heard as speech after convergence")
            #expect(starts.isEmpty && speakingTicks == 0, "\(starts)")
            #expect(early.allSatisfy { $0 < 300 }, "without the gate, only while converging: \(early)")
            ungated += early.count
        }
        #expect(ungated >= 3, "the gate had something to hold back")
        let (_, bare) = Self.listen(bot: bot, caller: silence, delay: 800, cancelEcho: false, gate: false)
        print("barge-in: without the echo canceller and the gate, \(bare) of \(bot.count / 160 - 300) ticks heard as speech")
        #expect(bare > (bot.count / 160 - 300) / 2)
    }

    @Test(.timeLimit(.minutes(5)))
    func theCallerSpeakingOverTheBotIsHeard() async throws {
        let bot = try await Self.botSpeech(seconds: 70)
        var caller = [Int16](repeating: 0, count: bot.count)
        // Six callers, each starting over the bot 10 s after the last (the canceller has converged by the first).
        let clips = try ["goforward.raw", "numbers.raw", "something.raw", "cards/001.wav", "cards/002.wav", "cards/003.wav"].map { try RecognitionTests.telephoneAudio($0) }
        var onsets: [Int] = []
        for (index, clip) in clips.enumerated() {
            let at = (8 + index * 10) * 8000
            for (offset, sample) in clip.enumerated() where at + offset < caller.count { caller[at + offset] = sample }
            let first = try #require(Self.onset(of: clip))
            onsets.append(at + first)
        }
        // And one more in the first seconds, over the assistant's opening, while the gate is on (2 s in).
        let early = try RecognitionTests.telephoneAudio("goforward.raw")
        for (offset, sample) in early.enumerated() { caller[16_000 + offset] = sample }
        let earlyOnset = 16_000 + (try #require(Self.onset(of: early)))
        let (starts, _) = Self.listen(bot: bot, caller: caller, delay: 800)
        let earlyStart = try #require(starts.first { $0 >= earlyOnset / 160 - 5 && $0 <= earlyOnset / 160 + 50 }, "the early caller: \(starts)")
        let earlyLatency = Double((earlyStart + 1) * 160 - earlyOnset) / 8
        print("barge-in: a caller over the opening (the gate on) heard \(Int(earlyLatency)) ms after their onset")
        #expect(earlyLatency <= 500)
        var latencies: [Double] = []
        for onset in onsets {
            // The first speech start at or after the onset's tick, within a second.
            let tick = onset / 160
            let start = try #require(starts.first { $0 >= tick - 5 && $0 <= tick + 50 }, "no speech start near tick \(tick): \(starts), onsets \(onsets.map { $0 / 160 })")
            latencies.append(Double((start + 1) * 160 - onset) / 8)
        }
        print("barge-in: detection \(latencies.map { Int($0) }) ms after the caller's onset (echo 100 ms late, 20 dB down)")
        // Every caller is heard; the median is within the 120 ms target. (One clip, something.raw, starts with a
        // breath above −45 dBFS that the VAD rightly ignores: 450 ms from that "onset".)
        #expect(latencies.allSatisfy { $0 <= 500 } && latencies.sorted()[latencies.count / 2] <= 120, "\(latencies)")
        // Between the callers, nothing: only the callers started speech.
        let spans: [ClosedRange<Int>] = clips.indices.map { index in
            let at = (8 + index * 10) * 50
            return at...(at + clips[index].count / 160 + 10)
        } + [100...(100 + early.count / 160 + 10)]
        let strays = starts.filter { tick in !spans.contains { $0.contains(tick) } }
        #expect(strays.isEmpty, "speech starts with only the echo there: \(strays)")
    }
}
