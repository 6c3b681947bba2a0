import AnswerNinjaCore
import AnswerNinjaServices
import ArgumentParser
import Foundation
import NIOCore

/// `answer-ninja replay FILE.pcap --target HOST:PORT` (docs/cli.md, docs/sip.md).
struct ReplayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Replay the caller's side of a captured call (SIP over UDP and its RTP) against a live target, and report what came back.",
        discussion: """
            The caller is whoever sent the capture's first INVITE. Addresses, ports, Call-ID, tags and branches are \
            rewritten; the original timing is kept. Exits 1 when the call is not answered.
            """
    )

    @Argument(help: "A pcap or pcapng file holding the call (SIP over UDP).")
    var file: String

    @Option(help: "Where to send it: HOST:PORT (an IP address; [::1]:5060 for IPv6).")
    var target: String

    @OptionGroup var output: OutputOptions

    func run() async throws {
        guard let data = FileManager.default.contents(atPath: file) else {
            throw ExitCode(try output.fail(code: "unreadable", message: "cannot read \(file)").rawValue)
        }
        let text = target.hasPrefix("[") ? String(target.dropFirst()) : target
        let separator = target.hasPrefix("[") ? text.range(of: "]:") : text.range(of: ":", options: .backwards)
        guard let separator, let port = Int(text[separator.upperBound...]),
            let address = try? SocketAddress(ipAddress: String(text[..<separator.lowerBound]), port: port)
        else {
            _ = try output.fail(code: "invalid_value", message: "--target must be IP:PORT, got \(target)")
            throw ExitCode(2)
        }
        let report: SIPReplayer.Report
        do {
            report = try await SIPReplayer(capture: ByteBuffer(bytes: data), target: address).run()
        } catch let error as CoreError {
            throw ExitCode(try output.fail(code: error.code.rawValue, message: error.message).rawValue)
        }
        try output.emit(report)
        if !report.answered { throw ExitCode(1) }
    }
}
