import AnswerNinjaCore
import AnswerNinjaServices
import ArgumentParser

/// `answer-ninja healthcheck`: exit 0 when the local process answers `/health` with 200 (the image's HEALTHCHECK).
struct Healthcheck: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Check a running Answer Ninja's /health (exit 0 healthy, 1 not).")

    @Option(help: "URL to check; defaults to /health on 127.0.0.1 at the configured HTTP port.")
    var url: String?

    @OptionGroup var configurationOptions: ConfigurationOptions
    @OptionGroup var output: OutputOptions

    struct Output: CommandOutput {
        var url: String
        var healthy: Bool
        var status: Int?
        var error: String?
        var humanReadable: String {
            healthy ? "healthy: \(url)" : "unhealthy: \(url) \(status.map { "HTTP \($0)" } ?? error ?? "")"
        }
    }

    func run() async throws {
        let target: String
        if let url {
            target = url
        } else {
            target = "http://127.0.0.1:\(try configurationOptions.load().http.port)/health"
        }
        let result = await HealthProbe.check(url: target)
        try output.emit(Output(url: result.url, healthy: result.healthy, status: result.status, error: result.error))
        if !result.healthy { throw ExitCode(1) }
    }
}
