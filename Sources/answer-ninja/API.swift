import AnswerNinjaCore
import ArgumentParser

/// `answer-ninja api`: the platform APIs and the dashboard, alone in this process.
struct API: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "api", abstract: "Run only the api role: the platform APIs and the dashboard.")

    @OptionGroup var options: ConfigurationOptions

    func run() async throws {
        try await Bootstrap.run(roles: [.api], options: options)
    }
}
