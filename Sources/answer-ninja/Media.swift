import AnswerNinjaCore
import ArgumentParser

/// `answer-ninja media`: the media engine: RTP/SRTP, jitter buffer, VAD, speech, one conversation connection per AI call, alone in this process.
struct Media: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "media", abstract: "Run only the media role: the media engine: RTP/SRTP, jitter buffer, VAD, speech, one conversation connection per AI call.")

    @OptionGroup var options: ConfigurationOptions

    func run() async throws {
        try await Bootstrap.run(roles: [.media], options: options)
    }
}
