import AnswerNinjaCore
import Conversation
import Foundation
import MediaDSP
import Speech

/// What a scripted caller (`call --script`, `call --say`) says and does, in order: the `converse` script format
/// (`> words`, `dtmf D`, `wait Ns`; its `@` settings and expectations are the far end's business and are ignored here),
/// with each line synthesised to 8 kHz speech before the call.
public struct CallScript: Sendable {
    public enum Step: Sendable {
        case say(text: String, audio: [Int16])
        case dtmf(String)
        case wait(Duration)

        var name: String {
            switch self {
            case .say: "say"
            case .dtmf: "dtmf"
            case .wait: "wait"
            }
        }

        var text: String {
            switch self {
            case .say(let text, _): text
            case .dtmf(let digits): digits
            case .wait(let duration): String(format: "%gs", duration.milliseconds / 1000)
            }
        }

        var isWait: Bool {
            if case .wait = self { return true }
            return false
        }

        var turnStep: ScriptedTurns.Step {
            switch self {
            case .say: .speech
            case .dtmf(let digits): .digits(count: digits.count)
            case .wait(let duration): .wait(frames: Int(duration.milliseconds / 20))
            }
        }
    }

    public var steps: [Step]
    /// The other side's silence that ends its turn, and how long to wait for it to say anything (`ScriptedTurns`).
    public var gapMs: Int
    public var patienceMs: Int

    public init(steps: [Step], gapMs: Int = 800, patienceMs: Int = 6000) {
        self.steps = steps
        self.gapMs = gapMs
        self.patienceMs = patienceMs
    }

    /// Every digit the script sends, in order.
    var digits: String {
        steps.reduce(into: "") { digits, step in
            if case .dtmf(let more) = step { digits += more }
        }
    }

    /// Parses `text` and speaks its lines with `synthesizer` (8 kHz, silence trimmed at both ends so that a step's
    /// end is its last sound: voice-to-voice is timed from there).
    public static func make(parsing text: String, synthesizer: any SpeechSynthesizer, gapMs: Int = 800, patienceMs: Int = 6000) async throws -> CallScript {
        let parsed = try ConversationScript(parsing: text)
        var steps: [Step] = []
        for step in parsed.steps {
            switch step {
            case .say(let line): steps.append(.say(text: line, audio: trimmed(try await synthesizer.synthesizeAll(line, rate: .narrowband))))
            case .dtmf(let digits): steps.append(.dtmf(digits))
            case .wait(let duration): steps.append(.wait(duration))
            }
        }
        return CallScript(steps: steps, gapMs: gapMs, patienceMs: patienceMs)
    }

    /// `samples` without the near-silence (below about −50 dBFS) before the first sound and after the last.
    public static func trimmed(_ samples: [Int16]) -> [Int16] {
        guard let first = samples.firstIndex(where: { abs(Int($0)) > 100 }), let last = samples.lastIndex(where: { abs(Int($0)) > 100 }) else { return [] }
        return Array(samples[first...last])
    }
}
