import AnswerNinjaCore
import AnswerNinjaServices
import ArgumentParser
import Conversation
import Foundation
import MediaTransport
import Speech

extension BenchCommand {
    /// `answer-ninja bench calls`: the fixture run of issue 7. Scripted calls (`call --script`) at a running gateway,
    /// `concurrency` at a time; voice-to-voice measured at the wire for every line, and its percentiles over the
    /// calls that were handled (answered, and the script's expectation met when it has one the call can show).
    struct Calls: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Place scripted calls at a running gateway; voice-to-voice per line at the wire, p50 and p95 (docs/benchmarks.md).",
            discussion: "Run the gateway from a release build in the assistant mode. Exits 1 when no line was answered."
        )

        @Option(help: "Whom to call, for example sip:demo@127.0.0.1:5060.")
        var target: String

        @Option(help: "The caller's script (the converse format; @expect end=hangup is checked against who hung up).")
        var script: String

        @Option(help: "Calls to place.")
        var calls = 20

        @Option(help: "Calls at once.")
        var concurrency = 1

        @Option(help: "The caller's number (each call adds its index to the last digits).")
        var from = "+14155550100"

        @Option(help: "Seconds a call may last.")
        var duration = 120.0

        @Option(help: "The gateway's /metrics URL: the run's RTP send lateness (rtp_send_lateness_seconds) is reported from it.")
        var metrics: String?

        @OptionGroup var output: OutputOptions

        struct Report: Codable, CommandOutput {
            struct Call: Codable {
                var answered: Bool
                var handled: Bool
                var hangupSide: String?
                var voiceToVoiceMs: [Double?]
                /// Why the call could not be placed (the client's error), or its final status when not answered.
                var failure: String?
            }

            var calls: [Call]
            var handled: Int
            var lines: Int
            var replies: Int
            var p50Ms: Double?
            var p95Ms: Double?
            var maxMs: Double?
            /// With `--metrics`: the gateway's 20 ms sends during the run, and the bucket bound that 99 % of them were
            /// no later than (nil: beyond the largest bucket).
            var sendTicks: Int?
            var sendLatenessP99Ms: Double?

            var humanReadable: String {
                let figures = [p50Ms, p95Ms, maxMs].map { $0.map { String(format: "%.0f ms", $0) } ?? "-" }
                var line = "\(handled) of \(calls.count) calls handled; \(replies) of \(lines) lines answered; voice-to-voice p50 \(figures[0]), p95 \(figures[1]), max \(figures[2])"
                if let sendTicks { line += "; \(sendTicks) RTP sends, p99 lateness " + (sendLatenessP99Ms.map { "≤ \(String(format: "%g", $0)) ms" } ?? "beyond the buckets") }
                return line
            }
        }

        func run() async throws {
            guard calls > 0, concurrency > 0, duration > 0 else {
                _ = try output.fail(code: "invalid_value", message: "--calls, --concurrency and --duration must be positive")
                throw ExitCode(2)
            }
            guard let data = FileManager.default.contents(atPath: script) else {
                throw ExitCode(try output.fail(code: "unreadable_script", message: "cannot read \(script)").rawValue)
            }
            let text = String(decoding: data, as: UTF8.self)
            let expectation: ConversationScript.Expectation
            let callScript: CallScript
            do {
                expectation = try ConversationScript(parsing: text).expectation
                callScript = try await CallScript.make(parsing: text, synthesizer: try await EspeakSynthesizer.shared())
            } catch let error as ConversationError {
                _ = try output.fail(code: error.code.rawValue, message: error.message)
                throw ExitCode(2)
            }
            let target = target, from = from, limit = Duration.milliseconds(Int64(duration * 1000))
            // One pool for every call of the run: pools of their own would all start at the same port.
            let ports = RTPPortPool(range: 30000...39999, quarantine: .zero)
            var before: [(Double, Int)]?
            if let metrics { before = try await Self.lateness(at: metrics) }
            var results: [Int: Report.Call] = [:]
            try await withThrowingTaskGroup(of: (Int, Report.Call).self) { group in
                var next = 0
                func place(_ index: Int) {
                    let last = String(((Int(from.suffix(3)) ?? 0) + index) % 1000)
                    let caller = String(from.dropLast(3)) + String(repeating: "0", count: 3 - last.count) + last
                    group.addTask {
                        let client = SIPCallClient(options: .init(target: target, play: [], duration: limit, srtp: false, from: caller, script: callScript), pool: ports)
                        // A call that could not be placed counts as not handled; the run goes on.
                        let report: SIPCallClient.Report
                        do {
                            (report, _) = try await client.run()
                        } catch {
                            return (index, Report.Call(answered: false, handled: false, hangupSide: nil, voiceToVoiceMs: [], failure: "\(error)"))
                        }
                        // Handled: answered, and ended by the side the script expects (the AI for end=hangup).
                        var handled = report.answered
                        if expectation.end == "hangup" { handled = handled && report.hangupSide == "remote" }
                        if expectation.end == "none" { handled = handled && report.hangupSide == "local" }
                        let failure = report.answered ? nil : "\(report.statusCode.map(String.init) ?? "no status") \(report.reason ?? "")"
                        return (
                            index,
                            Report.Call(answered: report.answered, handled: handled, hangupSide: report.hangupSide, voiceToVoiceMs: report.voiceToVoiceMs ?? [], failure: failure)
                        )
                    }
                }
                while next < min(concurrency, calls) {
                    place(next)
                    next += 1
                }
                for try await (index, call) in group {
                    results[index] = call
                    FileHandle.standardError.write(Data("call \(index + 1)/\(calls): \(call.handled ? "handled" : "not handled")\(call.failure.map { " (\($0))" } ?? ""), voice-to-voice \(call.voiceToVoiceMs.map { $0.map { String(Int($0)) } ?? "-" })\n".utf8))
                    if next < calls {
                        place(next)
                        next += 1
                    }
                }
            }
            let ordered = (0..<calls).compactMap { results[$0] }
            let counted = ordered.filter(\.handled)
            let values = counted.flatMap { $0.voiceToVoiceMs.compactMap { $0 } }.sorted()
            func percentile(_ p: Double) -> Double? {
                values.isEmpty ? nil : values[min(values.count - 1, Int((p * Double(values.count)).rounded(.up)) - 1)]
            }
            var report = Report(
                calls: ordered, handled: counted.count, lines: counted.reduce(0) { $0 + $1.voiceToVoiceMs.count }, replies: values.count,
                p50Ms: percentile(0.5), p95Ms: percentile(0.95), maxMs: values.last
            )
            if let metrics, let before {
                let after = try await Self.lateness(at: metrics)
                let run = after.map { bound, count in (bound, count - (before.first { $0.0 == bound }?.1 ?? 0)) }
                let total = run.last?.1 ?? 0
                report.sendTicks = total
                report.sendLatenessP99Ms = total == 0 ? nil : run.first { $0.0.isFinite && Double($0.1) >= 0.99 * Double(total) }.map { $0.0 * 1000 }
            }
            try output.emit(report)
            if values.isEmpty { throw ExitCode(1) }
        }

        /// The cumulative buckets of `rtp_send_lateness_seconds` at `url` (upper bound in seconds, +Inf last).
        static func lateness(at url: String) async throws -> [(Double, Int)] {
            let result = await HealthProbe.check(url: url, limit: 4 << 20)
            guard result.status == 200, let body = result.body else {
                throw ValidationError("cannot read \(url): \(result.error ?? "status \(result.status.map(String.init) ?? "none")")")
            }
            let prefix = "rtp_send_lateness_seconds_bucket{"
            return body.split(separator: "\n").compactMap { line -> (Double, Int)? in
                guard line.hasPrefix(prefix), let le = line.range(of: "le=\""), let close = line[le.upperBound...].firstIndex(of: "\""),
                      let count = line.split(separator: " ").last.flatMap({ Double($0) })
                else { return nil }
                let bound = line[le.upperBound..<close] == "+Inf" ? Double.infinity : Double(line[le.upperBound..<close]) ?? .nan
                return (bound, Int(count))
            }.sorted { $0.0 < $1.0 }
        }
    }
}
