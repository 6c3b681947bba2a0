import AnswerNinjaCore
import AnswerNinjaServices
import ArgumentParser
import Foundation

/// `answer-ninja bench media [--json]`: the media path's per-packet costs and the media issue's targets, as ratios
/// against baselines measured in the same run (docs/benchmarks.md). Run it from a release build.
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure the media path against its targets (build with -c release; never run in CI).",
        subcommands: [Media.self, SIP.self, ConversationBenchCommand.self, Platform.self, Calls.self, STT.self]
    )

    struct Media: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Per-packet costs of SRTP, the transport path and the VAD; calls per core; the targets, met or missed.",
            discussion: "Exits 1 when a target is missed. Allocation counts are in the benchmark package (Benchmarks/)."
        )

        @Option(help: "Packets per round.")
        var packets = 20_000

        @Option(help: "Timed rounds per case (the fastest counts).")
        var rounds = 5

        @OptionGroup var output: OutputOptions

        func run() async throws {
            let report = try MediaBench(packets: packets, rounds: rounds).run()
            try output.emit(report)
            if !report.ok { throw ExitCode(1) }
        }
    }

    struct ConversationBenchCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "conversation",
            abstract: "Classifier and dialog-turn costs, TTS first chunk and phrase-cache hits, STT real-time factor; the targets, met or missed.",
            discussion: "Exits 1 when a target is missed. Needs pocketsphinx-testdata for the STT figures."
        )

        @Option(help: "Timed rounds per case (the fastest counts).")
        var rounds = 5

        @Option(help: "Utterances per round for the classifier and dialog cases.")
        var iterations = 2000

        @OptionGroup var output: OutputOptions

        func run() async throws {
            let report = try await ConversationBench(rounds: rounds, iterations: iterations).run()
            try output.emit(report)
            if !report.ok { throw ExitCode(1) }
        }
    }

    struct SIP: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Parse and write SIP messages: nanoseconds per INVITE, against splitting the same bytes into lines.",
            discussion: "The same cases as Benchmarks/SIPBenchmarks, timed in this process (the benchmark package also counts allocations)."
        )

        @Option(help: "Messages per round.")
        var messages = 20_000

        @OptionGroup var output: OutputOptions

        func run() async throws {
            try output.emit(SIPBench(messages: messages).run())
        }
    }

    struct Platform: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The whitelist decision from the cache (p99 in process) and writing a call record, against baselines in the same run.",
            discussion: "SQLite in a scratch file, or PostgreSQL with --postgres-url (tools/bench-platform starts one). Exits 1 when a target is missed."
        )

        @Option(help: "Cached whitelist lookups.")
        var lookups = 20_000

        @Option(help: "Call records written (and single-row inserts as the baseline).")
        var calls = 500

        @Option(help: "A libpq URI: measure on PostgreSQL instead of SQLite.")
        var postgresURL: String?

        @OptionGroup var output: OutputOptions

        func run() async throws {
            let report = try await PlatformBench(lookups: lookups, calls: calls, postgresURL: postgresURL).run()
            try output.emit(report)
            if !report.ok { throw ExitCode(1) }
        }
    }

    struct STT: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "stt",
            abstract: "Word errors and time to the final result of the embedded recogniser, streaming against whole-utterance decoding, as a call drives it.",
            discussion: "The list has one `id<TAB>path<TAB>reference` line per recording (8 kHz mono WAV, or raw 16-bit samples as .raw); tools/stt/product-wer makes one from the human test set of docs/stt-experiment.md."
        )

        @Option(help: "The list of recordings.")
        var list: String

        @Option(help: "Modes, comma-separated: utterance, streaming, streaming-tree (streaming without the flat second pass).")
        var modes = "utterance,streaming,streaming-tree"

        @Option(name: .customLong("lm"), help: "Language models, comma-separated: domain (shipped), generic.")
        var languageModels = "domain,generic"

        @Flag(help: "Feed as fast as the decoder takes it, not in real time (the times after the last frame then mean nothing).")
        var unpaced = false

        @Flag(help: "Print each hypothesis as it is made (to standard error).")
        var verbose = false

        @OptionGroup var output: OutputOptions

        func run() async throws {
            let modes = try modes.split(separator: ",").map { name in
                guard let mode = RecognitionBench.Mode(rawValue: String(name)) else { throw ValidationError("unknown mode \(name): utterance, streaming or streaming-tree") }
                return mode
            }
            let models = try languageModels.split(separator: ",").map { model -> Bool in
                guard model == "domain" || model == "generic" else { throw ValidationError("unknown language model \(model): domain or generic") }
                return model == "domain"
            }
            let bench = RecognitionBench(items: try RecognitionBench.load(list: list), modes: modes, languageModels: models, paced: !unpaced)
            let verbose = verbose
            try output.emit(try await bench.run { line in if verbose { FileHandle.standardError.write(Data((line + "\n").utf8)) } })
        }
    }
}
