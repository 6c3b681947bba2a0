import AnswerNinjaCore
import AnswerNinjaServices
import ArgumentParser
import Foundation
import NIOCore

/// `answer-ninja load --target HOST:PORT --rate CPS --calls N`: a SIP load generator (docs/cli.md, docs/benchmarks.md).
struct LoadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "load",
        abstract: "Place full SIP calls (INVITE, 200, ACK, BYE, 200) at a fixed rate and report the rate achieved, setup latency and failures.",
        discussion: "Over UDP from one socket. A progress line goes to standard error every second. Exits 1 when a call failed."
    )

    @Option(help: "The SIP target, HOST:PORT (an IP address).")
    var target: String

    @Option(help: "Calls started per second.")
    var rate: Double = 100

    @Option(help: "How many calls to place.")
    var calls: Int = 1000

    @Option(help: "Seconds each answered call is held before the BYE.")
    var hold: Double = 0

    @Option(help: "none, or g711: a 20 ms µ-law stream to each answered call while it is held.")
    var media: String = "none"

    @Option(help: "The address to send from, written in Via, Contact and the SDP.")
    var localHost = "127.0.0.1"

    @OptionGroup var output: OutputOptions

    func run() async throws {
        let parts = target.split(separator: ":")
        guard parts.count == 2, let port = Int(parts[1]), let address = try? SocketAddress(ipAddress: String(parts[0]), port: port) else {
            throw try invalid("--target must be an IP address and a port, HOST:PORT")
        }
        guard let media = SIPLoadGenerator.Media(rawValue: media) else {
            throw try invalid("--media must be none or g711")
        }
        guard rate > 0, calls > 0, hold >= 0 else {
            throw try invalid("--rate and --calls must be positive, --hold not negative")
        }
        let generator = SIPLoadGenerator(options: .init(
            target: address, rate: rate, calls: calls, hold: .milliseconds(Int64(hold * 1000)), media: media, localHost: localHost
        ))
        let report = try await generator.run { line in FileHandle.standardError.write(Data((line + "\n").utf8)) }
        try output.emit(report)
        if report.failed > 0 { throw ExitCode(1) }
    }

    /// Prints the error (a JSON object with --json) and gives the exit status of invalid input, 2.
    private func invalid(_ message: String) throws -> ExitCode {
        _ = try output.fail(code: "invalid_value", message: message)
        return ExitCode(2)
    }
}
