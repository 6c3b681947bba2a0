import AnswerNinjaServices
import ArgumentParser
import Foundation

/// `answer-ninja selftest`: every linked C library loads and answers; exit 1 if one does not.
struct SelfTestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "selftest",
        abstract: "Load every C library (libsrtp2, libopus, libspeexdsp, libpq, hiredis, SQLite, pocketsphinx, espeak-ng) and report versions."
    )

    @Option(help: "Directory for the scratch database.")
    var scratch: String = NSTemporaryDirectory()

    @OptionGroup var output: OutputOptions

    func run() async throws {
        let report = await SelfTest().run(scratchDirectory: scratch.hasSuffix("/") ? String(scratch.dropLast()) : scratch)
        try output.emit(report)
        if !report.ok { throw ExitCode(1) }
    }
}
