import AnswerNinjaCore
import ArgumentParser

/// `answer-ninja serve`: every role in one process on the embedded store (SQLite in the data directory).
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run every role in one process: SIP gateway, media, conversation, API and dashboard.",
        discussion: "Creates the data directory and a demo user owning the alias 'demo' on first run, prints where everything listens, and shuts down gracefully on SIGTERM or SIGINT."
    )

    @OptionGroup var options: ConfigurationOptions

    func run() async throws {
        try await Bootstrap.run(roles: Role.allCases, options: options)
    }
}
