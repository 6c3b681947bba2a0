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
        discussion: "A mixer pulls 20 ms of audio at a time; a packet's play time is where its audio starts. Packets not printed were late or lost."
    )

    @Argument(help: "A trace CSV written by tools/jitter/generate.py.")
    var trace: String

    @Option(help: "Percentile of the transit variation the target delay covers.")
    var percentile: Double = JitterBuffer.Configuration(clockRate: 8000).percentile

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
        var buffer = JitterBuffer(configuration: .init(clockRate: 8000, percentile: percentile))
        let payload = [UInt8](repeating: 0xFF, count: 160)
        func instant(_ milliseconds: Double) -> MediaInstant { MediaInstant(nanoseconds: UInt64(10_000_000_000 + milliseconds * 1_000_000)) }
        var output = "sequence,play_ms\n"
        var next = 0
        var now = 0.0
        var audioClock = 0.0
        let end = (rows.map(\.arrival).max() ?? 0) + 1000
        while now <= end {
            while next < rows.count && rows[next].arrival <= now {
                let row = rows[next]
                _ = payload.withUnsafeBytes { buffer.insert(sequence: row.sequence, timestamp: row.timestamp, ssrc: 1, marker: false, payload: $0, arrival: instant(row.arrival)) }
                next += 1
            }
            while audioClock <= now {
                if case .packet(let sequence, _, _) = buffer.pull(now: instant(now)) {
                    output += "\(sequence),\(String(format: "%.3f", audioClock))\n"
                }
                audioClock += Double(buffer.frameUnits) / 8
            }
            now += 20
        }
        FileHandle.standardOutput.write(Data(output.utf8))

    }
}
