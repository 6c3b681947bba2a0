import AnswerNinjaCore
import ArgumentParser

/// `answer-ninja gateway`: the SIP gateway: trunks, devices, screening decisions, B2BUA, alone in this process.
struct Gateway: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "gateway", abstract: "Run only the gateway role: the SIP gateway: trunks, devices, screening decisions, B2BUA.")

    @OptionGroup var options: ConfigurationOptions

    func run() async throws {
        try await Bootstrap.run(roles: [.gateway], options: options)
    }
}
