import Foundation

/// A call's transcript as a text file, one line per utterance with its offset from the call's start:
///
///     Call 7f3a@gw from +14155550123 to demo, 2026-12-03T14:47:05Z (UTC)
///     [00:03] Caller: hi, this is Dana from the warranty department
///     [00:04] Assistant: Who is calling, and what is it about?
///
/// Turns are written in their order; a turn without caller text (the greeting) has only the assistant's line.
public enum CallTranscript {
    public static func render(callId: String, caller: String, callee: String, startedAt: Int64, turns: [CallTurn]) -> String {
        let started = Date(timeIntervalSince1970: Double(startedAt) / 1000).ISO8601Format()
        var text = "Call \(callId) from \(caller) to \(callee), \(started) (UTC)\n"
        for turn in turns.sorted(by: { $0.turn < $1.turn }) {
            let offset = max(0, (turn.at - startedAt) / 1000)
            let stamp = String(format: "[%02lld:%02lld]", offset / 60, offset % 60)
            if !turn.callerText.isEmpty { text += "\(stamp) Caller: \(oneLine(turn.callerText))\n" }
            if !turn.replyText.isEmpty { text += "\(stamp) Assistant: \(oneLine(turn.replyText))\n" }
        }
        return text
    }

    /// Line breaks inside an utterance would start a line that reads as another speaker's.
    private static func oneLine(_ text: String) -> String {
        text.split(whereSeparator: \.isNewline).joined(separator: " ")
    }
}
