import AnswerNinjaCore
import ArgumentParser

/// `answer-ninja metrics`: the catalogue of metrics the code exports (docs/metrics.md is checked against it).
struct MetricsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "metrics", abstract: "List every metric this build exports, with labels, unit and meaning.")

    @OptionGroup var output: OutputOptions

    struct Output: CommandOutput {
        var metrics: [MetricDefinition]
        var humanReadable: String {
            metrics.map { "\($0.name) (\($0.kind.rawValue)\($0.labels.isEmpty ? "" : "; " + $0.labels.joined(separator: ", "))): \($0.help)" }
                .joined(separator: "\n")
        }
    }

    func run() async throws {
        try output.emit(Output(metrics: MetricDefinition.catalogue))
    }
}
