import AnswerNinjaCore
import Foundation
import MediaDSP
import Testing

/// The scripted caller's turn-taking against a simulated far end, frame by frame: the far end speaks (a real
/// recording), we speak for `ourFrames` when told, and the far end replies `replyDelayFrames` after we stop.
@Suite struct ScriptedTurnsTests {
    struct Run {
        var starts: [(step: Int, frame: Int)] = []
        var hangUp: Int?
        var turns: [ScriptedTurns.Turn] = []
    }

    /// Plays `opening` (if any) from frame 10; after each of our speech steps, `reply` (if any) starts
    /// `replyDelayFrames` after our last frame. Stops at the hang-up or after `limit` frames.
    static func simulate(
        _ machine: inout ScriptedTurns, opening: [Int16]?, reply: [Int16]?, ourFrames: Int = 50, replyDelayFrames: Int = 30, limit: Int = 5000
    ) -> Run {
        var run = Run()
        var farEnd = [Int16](repeating: 0, count: limit * 160 + 160)
        if let opening { farEnd.replaceSubrange(1600..<1600 + opening.count, with: opening) }
        var speakingUntil = -1
        for frame in 0..<limit {
            let speaking = frame < speakingUntil
            if frame == speakingUntil, let reply {
                let start = (frame + replyDelayFrames) * 160
                farEnd.replaceSubrange(start..<min(farEnd.count, start + reply.count), with: reply.prefix(farEnd.count - start))
            }
            switch machine.process(heard: farEnd[frame * 160..<frame * 160 + 160], speaking: speaking) {
            case .start(let step)?:
                run.starts.append((step, frame))
                if case .speech = machine.steps[step] { speakingUntil = frame + 1 + ourFrames }
            case .hangUp?:
                run.hangUp = frame
                run.turns = machine.turns
                return run
            case nil:
                break
            }
        }
        run.turns = machine.turns
        return run
    }

    /// The frame (20 ms) after the last speech in `samples` placed at frame `offset`.
    static func speechEnd(_ samples: [Int16], offset: Int) throws -> Int {
        let end = try #require(VoiceActivityTests.utterances(samples).last).endSeconds
        return offset + Int((end * 50).rounded(.up))
    }

    @Test func eachLineWaitsForTheOtherSidesTurnAndItsReplyIsTimed() throws {
        let speech = try VoiceActivityTests.recording("goforward.raw")
        var machine = ScriptedTurns(steps: [.speech, .speech], gapMs: 800, patienceMs: 6000)
        let run = Self.simulate(&machine, opening: speech, reply: speech)
        try #require(run.starts.count == 2, "\(run.starts)")
        // The first line: the opening's end plus the 800 ms gap (40 frames), give or take the VAD's hangover.
        let openingEnd = try Self.speechEnd(speech, offset: 10)
        #expect((openingEnd + 40...openingEnd + 48).contains(run.starts[0].frame), "opening ends at \(openingEnd), first line at \(run.starts[0].frame)")
        // The second line: after the reply to the first (which began 30 frames after we stopped) and the gap.
        let firstEnd = try #require(run.turns[0].endFrame)
        let replyEnd = try Self.speechEnd(speech, offset: firstEnd + 30)
        #expect((replyEnd + 40...replyEnd + 48).contains(run.starts[1].frame), "reply ends at \(replyEnd), second line at \(run.starts[1].frame)")
        // Each reply is timed from the end of our line to its first frame above −40 dBFS: the 600 ms delay plus the
        // recording's own lead-in before its first loud frame.
        let leadIn = Double(try #require(stride(from: 0, to: speech.count - 160, by: 160).first { VoiceToVoice.isHeard(speech[$0..<$0 + 160]) })) / 8
        for turn in run.turns {
            let measured = try #require(turn.voiceToVoiceMs)
            #expect(abs(measured - (600 + leadIn)) <= 20, "\(measured) vs \(600 + leadIn)")
        }
        // Hang up once the reply to the last line is over.
        let lastEnd = try Self.speechEnd(speech, offset: try #require(run.turns[1].endFrame) + 30)
        let hangUp = try #require(run.hangUp)
        #expect((lastEnd + 40...lastEnd + 48).contains(hangUp), "last reply ends at \(lastEnd), hang-up at \(hangUp)")
        #expect(machine.isFinished)
    }

    /// The negative control: a far end that never says anything gets each line after the patience, no reply is
    /// timed, and the call is hung up after the patience once more.
    @Test func aSilentFarEndGetsEachLineAfterThePatienceAndNoReply() {
        var machine = ScriptedTurns(steps: [.speech, .speech], gapMs: 800, patienceMs: 2000)
        let run = Self.simulate(&machine, opening: nil, reply: nil)
        // Our 50 frames go out in the ticks after the start; the line ends on the first quiet tick.
        #expect(run.starts.map(\.frame) == [100, 100 + 1 + 50 + 100], "\(run.starts)")
        #expect(run.turns.allSatisfy { $0.voiceToVoiceMs == nil }, "\(run.turns)")
        #expect(run.hangUp == 251 + 1 + 50 + 100)
    }

    /// A burst of speech shorter than a turn (120 ms: heard by the VAD, below `minimumSpeech`) is not the other
    /// side's turn: the line waits for the patience, counted from the burst (so the VAD did hear it), not for the gap.
    @Test func aBurstIsNotATurn() throws {
        let speech = try VoiceActivityTests.recording("goforward.raw")
        let first = try #require(VoiceActivityTests.utterances(speech).first)
        let start = Int(first.startSeconds * 8000) + 1600
        let burst = Array(speech[start..<start + 960])
        var machine = ScriptedTurns(steps: [.speech], gapMs: 800, patienceMs: 2000)
        let run = Self.simulate(&machine, opening: burst, reply: nil)
        // The burst is at ticks 10-15; the patience (100 ticks) runs from its last speech tick.
        let line = try #require(run.starts.first?.frame)
        #expect((110...125).contains(line), "\(run.starts)")
    }

    /// Digits last 200 ms each; a wait lasts its frames and the next step follows it at once.
    @Test func digitsAndWaitsLastTheirTime() {
        var machine = ScriptedTurns(steps: [.digits(count: 3), .wait(frames: 25), .speech], gapMs: 800, patienceMs: 1000)
        let run = Self.simulate(&machine, opening: nil, reply: nil)
        #expect(run.starts.map(\.frame) == [50, 80 + 50, 130 + 25], "\(run.starts)")
        #expect(run.turns.map(\.endFrame) == [80, 155, 155 + 1 + 50], "\(run.turns)")
    }
}
