import AnswerNinjaCore
import ArgumentParser

/// `answer-ninja version`.
struct VersionCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "version", abstract: "Print the version and the protocol versions this build speaks.")

    @OptionGroup var output: OutputOptions

    struct Output: CommandOutput {
        var version: String
        var protocols: [String: Int]
        var humanReadable: String {
            "answer-ninja \(version) (" + protocols.keys.sorted().map { "\($0) v\(protocols[$0]!)" }.joined(separator: ", ") + ")"
        }
    }

    func run() async throws {
        try output.emit(
            Output(
                version: AnswerNinjaVersion.current,
                protocols: [
                    MediaControlMessage.protocolName: MediaControlMessage.currentVersion,
                    ConversationMessage.protocolName: ConversationMessage.currentVersion,
                    LiveEvent.protocolName: LiveEvent.currentVersion,
                ]
            )
        )
    }
}
