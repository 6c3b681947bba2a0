import AnswerNinjaCore
import AnswerNinjaServices
import ArgumentParser
import Conversation
import Foundation
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

        @OptionGroup var output: OutputOptions

        struct Report: Codable, CommandOutput {
            struct Call: Codable {
                var answered: Bool
                var handled: Bool
                var hangupSide: String?
                var voiceToVoiceMs: [Double?]
            }

            var calls: [Call]
            var handled: Int
            var lines: Int
            var replies: Int
            var p50Ms: Double?
            var p95Ms: Double?
            var maxMs: Double?

            var humanReadable: String {
                let figures = [p50Ms, p95Ms, maxMs].map { $0.map { String(format: "%.0f ms", $0) } ?? "-" }
                return "\(handled) of \(calls.count) calls handled; \(replies) of \(lines) lines answered; voice-to-voice p50 \(figures[0]), p95 \(figures[1]), max \(figures[2])"
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
            var results: [Int: Report.Call] = [:]
            try await withThrowingTaskGroup(of: (Int, Report.Call).self) { group in
                var next = 0
                func place(_ index: Int) {
                    let last = String(((Int(from.suffix(3)) ?? 0) + index) % 1000)
                    let caller = String(from.dropLast(3)) + String(repeating: "0", count: 3 - last.count) + last
                    group.addTask {
                        let client = SIPCallClient(options: .init(target: target, play: [], duration: limit, srtp: false, from: caller, script: callScript))
                        // A call that could not be placed counts as not handled; the run goes on.
                        guard let (report, _) = try? await client.run() else {
                            return (index, Report.Call(answered: false, handled: false, hangupSide: nil, voiceToVoiceMs: []))
                        }
                        // Handled: answered, and ended by the side the script expects (the AI for end=hangup).
                        var handled = report.answered
                        if expectation.end == "hangup" { handled = handled && report.hangupSide == "remote" }
                        if expectation.end == "none" { handled = handled && report.hangupSide == "local" }
                        return (index, Report.Call(answered: report.answered, handled: handled, hangupSide: report.hangupSide, voiceToVoiceMs: report.voiceToVoiceMs ?? []))
                    }
                }
                while next < min(concurrency, calls) {
                    place(next)
                    next += 1
                }
                for try await (index, call) in group {
                    results[index] = call
                    FileHandle.standardError.write(Data("call \(index + 1)/\(calls): \(call.handled ? "handled" : "not handled"), voice-to-voice \(call.voiceToVoiceMs.map { $0.map { String(Int($0)) } ?? "-" })\n".utf8))
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
            let report = Report(
                calls: ordered, handled: counted.count, lines: counted.reduce(0) { $0 + $1.voiceToVoiceMs.count }, replies: values.count,
                p50Ms: percentile(0.5), p95Ms: percentile(0.95), maxMs: values.last
            )
            try output.emit(report)
            if values.isEmpty { throw ExitCode(1) }
        }
    }
}
