import AnswerNinjaCore
import Foundation
import Store

/// A call's latency per turn as an SVG waterfall: one row per turn, each stage after `vad_end` (`stt_final → reply →
/// tts_first → rtp_first`, milliseconds from the stage before, as the record keeps them) a bar starting where the
/// one before ended, on one scale for the whole call. Text in it is escaped; it scales to the page's width.
enum LatencyWaterfall {
    static let stages: [LatencyStage] = [.sttFinal, .reply, .ttsFirst, .rtpFirst]
    static let rowHeight = 28.0, labelWidth = 70.0, width = 640.0

    /// Nil when no turn has a stage time.
    static func svg(_ turns: [CallTurn]) -> String? {
        // Only finite, non-negative figures are drawn (a stored NaN would stop `Int(_:)`).
        let turns = turns.map { turn in
            var turn = turn
            turn.latencies = turn.latencies.filter { $0.value.isFinite && $0.value >= 0 }
            return turn
        }
        let rows = turns.filter { turn in stages.contains { turn.latencies[$0.rawValue] != nil } }
        guard !rows.isEmpty else { return nil }
        let longest = rows.map { turn in stages.reduce(0.0) { $0 + max(0, turn.latencies[$1.rawValue] ?? 0) } }.max() ?? 0
        let scale = (width - labelWidth - 80) / max(longest, 1)
        let height = Double(rows.count) * rowHeight + 40
        var parts: [String] = [
            #"<svg id="waterfall" class="waterfall" role="img" aria-labelledby="waterfall-title waterfall-description" viewBox="0 0 \#(Int(width)) \#(Int(height))" xmlns="http://www.w3.org/2000/svg">"#,
            #"<title id="waterfall-title">Latency per turn</title>"#,
            #"<desc id="waterfall-description">\#(escape(description(rows)))</desc>"#,
        ]
        for (index, turn) in rows.enumerated() {
            let y = Double(index) * rowHeight + 4
            parts.append(#"<text x="0" y="\#(format(y + 17))" class="label">turn \#(turn.turn)</text>"#)
            var x = labelWidth
            for stage in stages {
                guard let ms = turn.latencies[stage.rawValue], ms > 0 else { continue }
                let barWidth = max(1, ms * scale)
                parts.append(
                    #"<rect x="\#(format(x))" y="\#(format(y))" width="\#(format(barWidth))" height="20" class="stage \#(stage.rawValue)"><title>\#(stage.rawValue) \#(Int(ms.rounded())) ms</title></rect>"#
                )
                x += barWidth
            }
            let total = stages.reduce(0.0) { $0 + max(0, turn.latencies[$1.rawValue] ?? 0) }
            parts.append(#"<text x="\#(format(x + 6))" y="\#(format(y + 17))" class="total">\#(Int(total.rounded())) ms</text>"#)
        }
        let legendY = Double(rows.count) * rowHeight + 24
        var legendX = labelWidth
        for stage in stages {
            parts.append(#"<rect x="\#(format(legendX))" y="\#(format(legendY - 10))" width="12" height="12" class="stage \#(stage.rawValue)"/>"#)
            parts.append(#"<text x="\#(format(legendX + 16))" y="\#(format(legendY))" class="legend">\#(stage.rawValue)</text>"#)
            legendX += 130
        }
        parts.append("</svg>")
        return parts.joined(separator: "\n")
    }

    /// The same figures in words, for screen readers.
    static func description(_ turns: [CallTurn]) -> String {
        turns.map { turn in
            "Turn \(turn.turn): " + stages.compactMap { stage in turn.latencies[stage.rawValue].map { "\(stage.rawValue) \(Int($0.rounded())) ms" } }.joined(separator: ", ")
        }.joined(separator: "; ")
    }

    static func format(_ value: Double) -> String { String(format: "%.1f", value) }

    static func escape(_ text: String) -> String { StatusPage.escape(text) }
}
