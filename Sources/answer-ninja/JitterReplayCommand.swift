import AnswerNinjaCore
import ArgumentParser
import Foundation
import RTP

/// `answer-ninja jitter-replay TRACE.csv`: plays a packet trace through the jitter buffer and prints when each
/// packet was played (`sequence,play_ms`), for tools/jitter/score.py to grade (docs/media.md).
struct JitterReplayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "jitter-replay",
        abstract: "Replay a packet trace (sequence,timestamp,send_ms,arrival_ms,size) through the jitter buffer; print sequence,play_ms.",
        discussion: "A per-stream timer pulls each frame when the buffer says it is due (or, with --grid, a mixer every 20 ms); a packet's play time is where its audio starts. Packets not printed were late or lost."
    )

    @Argument(help: "A trace CSV written by tools/jitter/generate.py.")
    var trace: String

    @Option(help: "Percentile of the transit variation the target delay covers.")
    var percentile: Double = JitterBuffer.Configuration(clockRate: 8000).percentile

    @Option(help: "Packets in the sliding window of the delay estimate.")
    var history: Int = JitterBuffer.Configuration(clockRate: 8000).history

    @Option(help: "The late-loss rate the buffer steers its percentile to.")
    var goal: Double = JitterBuffer.Configuration(clockRate: 8000).lateLossGoal

    @Option(help: "Delay before the first talkspurt, in milliseconds, when nothing has been measured yet.")
    var initialDelay = Int(JitterBuffer.Configuration(clockRate: 8000).initialDelay / .milliseconds(1))

    @Flag(help: "Pull on a fixed 20 ms mixer grid instead of when the buffer says the next frame is due.")
    var grid = false

    func run() async throws {
        guard let text = try? String(contentsOfFile: trace, encoding: .utf8) else {
            throw ValidationError("cannot read \(trace)")
        }
        struct Row { var sequence: UInt16; var timestamp: UInt32; var arrival: Double }
        var rows: [Row] = []
        for (number, line) in text.split(whereSeparator: \.isNewline).enumerated() where number > 0 {
            let fields = line.split(separator: ",")
            guard fields.count >= 4, let sequence = UInt16(fields[0]), let timestamp = UInt32(fields[1]), let arrival = Double(fields[3]) else {
                throw ValidationError("\(trace):\(number + 1): expected sequence,timestamp,send_ms,arrival_ms,size")
            }
            rows.append(Row(sequence: sequence, timestamp: timestamp, arrival: arrival))
        }
        var buffer = JitterBuffer(configuration: .init(clockRate: 8000, initialDelay: .milliseconds(initialDelay), percentile: percentile, history: max(5, history), lateLossGoal: goal))
        let payload = [UInt8](repeating: 0xFF, count: 160)
        let origin = 10_000.0  // milliseconds: instants start past zero
        func instant(_ milliseconds: Double) -> MediaInstant { MediaInstant(nanoseconds: UInt64((origin + milliseconds) * 1_000_000)) }
        func milliseconds(_ instant: MediaInstant) -> Double { Double(instant.nanoseconds) / 1_000_000 - origin }
        func insert(_ row: Row) {
            _ = payload.withUnsafeBytes { buffer.insert(sequence: row.sequence, timestamp: row.timestamp, ssrc: 1, marker: false, payload: $0, arrival: instant(row.arrival)) }
        }
        var output = "sequence,play_ms\n"
        func played(_ playout: JitterBuffer.Playout, at time: Double) {
            if case .packet(let sequence, _, _) = playout { output += "\(sequence),\(String(format: "%.3f", time))\n" }
        }
        var next = 0
        if grid {
            var now = 0.0
            var audioClock = 0.0
            let end = (rows.map(\.arrival).max() ?? 0) + 1000
            while now <= end {
                while next < rows.count && rows[next].arrival <= now {
                    insert(rows[next])
                    next += 1
                }
                while audioClock <= now {
                    played(buffer.pull(now: instant(now)), at: audioClock)
                    audioClock += Double(buffer.frameUnits) / 8
                }
                now += 20
            }
        } else {
            // Events in time order: arrivals, and pulls when the buffer says its next frame is due.
            var now = 0.0
            for _ in 0..<(rows.count * 20 + 1000) {
                let due = buffer.nextPlayout.map(milliseconds)
                if next < rows.count, due.map({ rows[next].arrival <= $0 }) ?? true {
                    now = rows[next].arrival
                    insert(rows[next])
                    next += 1
                } else if let due {
                    now = max(now, due)
                    played(buffer.pull(now: instant(now)), at: now)
                } else {
                    break
                }
            }
        }
        FileHandle.standardOutput.write(Data(output.utf8))
    }
}
