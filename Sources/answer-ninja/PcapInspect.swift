import AnswerNinjaCore
import ArgumentParser
import Capture
import Foundation
import NIOCore

/// `answer-ninja pcap inspect FILE [--json] [--wav OUT.wav] [--pt N=NAME]`.
struct PcapInspect: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "List the RTP streams of a capture (ssrc, payload type, packets, lost, jitter, duration) and every DTMF event.",
        discussion: "RTP is found by heuristics (version 2, stable SSRC, advancing sequence numbers). Statistics follow Wireshark's RTP stream analysis (tshark -z rtp,streams), except that duplicates never make the loss negative."
    )

    @Argument(help: "A pcap or pcapng file.")
    var file: String

    @Option(name: .customLong("pt"), help: "Map a payload type: N=NAME or N=NAME/RATE (repeatable), e.g. --pt 96=opus.")
    var payloadTypes: [String] = []

    @Option(help: "Write the decoded audio of the first G.711 stream to this WAV file (8 kHz, 16-bit mono).")
    var wav: String?

    @OptionGroup var output: OutputOptions

    struct Output: CommandOutput {
        var file: String
        var format: String
        var frames: Int
        var udpDatagrams: Int
        var streams: [RTPStreamAnalyzer.Report]
        var wav: String?

        var humanReadable: String {
            var lines = ["\(file): \(format), \(frames) frames, \(udpDatagrams) UDP datagrams, \(streams.count) RTP streams"]
            for stream in streams {
                lines.append(
                    String(
                        format: "  ssrc 0x%08X %@ → %@ pt %d (%@): %d packets, %d lost, %d duplicates, %.3f s, max delta %.3f ms, max jitter %.3f ms, mean jitter %.3f ms",
                        stream.ssrc, stream.source, stream.destination, Int(stream.payloadType), stream.payloadName, stream.packets, stream.lost,
                        stream.duplicates, stream.endSeconds - stream.startSeconds, stream.maxDeltaMs, stream.maxJitterMs, stream.meanJitterMs
                    )
                )
                for event in stream.dtmf {
                    lines.append(String(format: "    DTMF %@ at %.3f s for %.0f ms", event.digit, event.atSeconds, event.durationMs))
                }
            }
            if let wav { lines.append("audio written to \(wav)") }
            return lines.joined(separator: "\n")
        }
    }

    func run() async throws {
        guard let data = FileManager.default.contents(atPath: file) else {
            throw ExitCode(try output.fail(code: "unreadable", message: "cannot read \(file)").rawValue)
        }
        var map = PayloadTypeMap.standard
        let inspection: CaptureInspection
        do {
            for assignment in payloadTypes { try map.apply(assignment) }
            inspection = try CaptureInspection(file: ByteBuffer(bytes: data), payloadTypes: map)
        } catch {
            throw ExitCode(try output.fail(code: error.code.rawValue, message: error.message).rawValue)
        }
        var written: String?
        if let wav {
            guard let stream = inspection.streams.first(where: { inspection.audio(of: $0) != nil }), let audio = inspection.audio(of: stream) else {
                throw ExitCode(try output.fail(code: "no_audio", message: "no G.711 stream to write as WAV").rawValue)
            }
            var buffer = ByteBuffer()
            audio.write(to: &buffer)
            guard FileManager.default.createFile(atPath: wav, contents: Data(buffer.readableBytesView)) else {
                throw ExitCode(try output.fail(code: "unwritable", message: "cannot write \(wav)").rawValue)
            }
            written = wav
        }
        try output.emit(
            Output(file: file, format: inspection.format.rawValue, frames: inspection.frames, udpDatagrams: inspection.udpDatagrams, streams: inspection.streams, wav: written)
        )
    }
}
