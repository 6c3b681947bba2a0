import AnswerNinjaCore
import ArgumentParser

/// `answer-ninja conversation`: the conversation engine: intent, dialog policy, personas (text only), alone in this process.
struct Conversation: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "conversation", abstract: "Run only the conversation role: the conversation engine: intent, dialog policy, personas (text only).")

    @OptionGroup var options: ConfigurationOptions

    func run() async throws {
        try await Bootstrap.run(roles: [.conversation], options: options)
    }
}
