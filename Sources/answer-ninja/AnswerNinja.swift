import ArgumentParser

@main
struct AnswerNinja: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "answer-ninja",
        abstract: "Answers unwanted phone calls with an AI; lets wanted callers through.",
        discussion: "Every command reads its configuration from ANSWER_NINJA_* variables and an optional JSON file (docs/configuration.md). Tools take --json and print one JSON object (docs/cli.md).",
        subcommands: [
            Serve.self, Gateway.self, Media.self, Conversation.self, API.self,
            Healthcheck.self, ConfigCommand.self, Pcap.self, VADCommand.self, JitterReplayCommand.self, SIPCommand.self, CallCommand.self, ReplayCommand.self, LoadCommand.self, BenchCommand.self, SelfTestCommand.self, MigrateCommand.self, MetricsCommand.self, ClassifyCommand.self, ConverseCommand.self, TrainIntentsCommand.self, VersionCommand.self,
        ]
    )
}
