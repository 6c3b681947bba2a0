import AnswerNinjaCore
import Foundation
import MediaDSP
import Testing

@Suite struct VoiceToVoiceTests {
    /// A reply `delay` ms after each utterance ends: the 20 ms grid gives it within a frame.
    @Test func aReplyIsTimedFromTheEndOfTheCallersSpeech() throws {
        let speech = try VoiceActivityTests.recording("goforward.raw")
        let gap = [Int16](repeating: 0, count: 24_000)
        let played = speech + gap + speech + gap
        let utterances = VoiceActivityTests.utterances(played)
        try #require(utterances.count == 2, "\(utterances)")
        var heard = [Int16](repeating: 0, count: played.count)
        let reply = (0..<4000).map { Int16(4000 * sin(Double($0) * 2 * .pi * 440 / 8000)) }
        for (utterance, delay) in zip(utterances, [480.0, 900.0]) {
            let start = Int(utterance.endSeconds * 8000) + Int(delay * 8)
            for (offset, sample) in reply.enumerated() where start + offset < heard.count { heard[start + offset] = sample }
        }
        let measured = VoiceToVoice.measure(played: played, heard: heard)
        #expect(measured.count == 2)
        for (value, delay) in zip(measured, [480.0, 900.0]) {
            let value = try #require(value)
            #expect(abs(value - delay) <= 20, "\(measured)")
        }
    }

    /// The negative control: nothing comes back (a muted far end), so every utterance is "no reply"; a reply too
    /// quiet to count (below −40 dBFS) is none either.
    @Test func aMutedFarEndReportsNoReply() throws {
        let speech = try VoiceActivityTests.recording("goforward.raw")
        let played = speech + [Int16](repeating: 0, count: 24_000)
        #expect(VoiceToVoice.measure(played: played, heard: [Int16](repeating: 0, count: played.count)) == [nil])
        let whisper = (0..<played.count).map { Int16(200 * sin(Double($0) * 2 * .pi * 440 / 8000)) }  // about -47 dBFS
        #expect(VoiceToVoice.measure(played: played, heard: whisper) == [nil])
    }
}
