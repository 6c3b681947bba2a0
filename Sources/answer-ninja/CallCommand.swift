import AnswerNinjaCore
import AnswerNinjaServices
import ArgumentParser
import Capture
import Conversation
import Foundation
import MediaDSP
import NIOCore
import Speech

/// `answer-ninja call SIP-URI`: a softphone on our own stack (docs/cli.md, docs/sip.md).
struct CallCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "call",
        abstract: "Call a SIP URI over UDP, TCP or TLS; play a WAV file, say a line, or follow a script turn by turn; record what comes back.",
        discussion: """
            Offers PCMU, PCMA and Opus, or the --codec alone (RTP/SAVP with SDES when --srtp). Exits 1 when the call is not answered. \
            Needs an IP address in the URI for now. --play and --say start at the answer; --script (the `converse` format: \
            `> words`, `dtmf D`, `wait Ns`; `@` lines are ignored) takes each step once the other side has spoken and gone \
            quiet for --turn-gap, or after --patience of silence, and hangs up after the reply to its last step.
            """
    )

    @Argument(help: "Whom to call, for example sip:demo@127.0.0.1:5060.")
    var target: String

    @Option(help: "A 16-bit mono WAV file to play (8, 16, 22.05 or 48 kHz); silence when absent.")
    var play: String?

    @Option(help: "Text to say (espeak-ng's voice) once answered, in place of --play.")
    var say: String?

    @Option(help: "A script file (or - for stdin) to follow turn by turn, in place of --play.")
    var script: String?

    @Option(help: "With --script: milliseconds of the other side's silence that end its turn.")
    var turnGap = 800

    @Option(help: "With --script: seconds to wait for the other side to say anything before the next step.")
    var patience = 6.0

    @Option(help: "Where to write what the far end sent, as an 8 kHz WAV file.")
    var record: String?

    @Option(help: "Seconds to stay in the call before hanging up, unless the far end hangs up first (default 10, 600 with --script).")
    var duration: Double?

    @Flag(help: "Insist on SRTP (RTP/SAVP with SDES keys).")
    var srtp = false

    @Option(help: "udp, tcp or tls (default: the URI's transport parameter, else udp).")
    var transport: String?

    @Option(help: "PEM file of the CA that signs the server's certificate, for --transport tls.")
    var ca: String?

    @Option(help: "pcmu, pcma or opus: offer this codec alone (default: all three, PCMU first).")
    var codec: String?

    @Option(help: "Digits (0-9, *, #, A-D) to send as RFC 4733 events once answered, 100 ms each with 100 ms between.")
    var dtmf = ""

    @Option(help: "With --srtp, offer this suite alone: AEAD_AES_128_GCM, AEAD_AES_256_GCM, AES_CM_128_HMAC_SHA1_80 or AES_CM_128_HMAC_SHA1_32.")
    var srtpSuite: String?

    @Option(help: "The user part of our From: a caller number such as +15551230001 (default: answer-ninja).")
    var from: String = "answer-ninja"

    @Option(help: "The digest password of the --from user, for a server that challenges the INVITE (401 or 407), such as the gateway when a device calls out.")
    var password: String?

    @OptionGroup var output: OutputOptions

    func run() async throws {
        guard [play, say, script].compactMap({ $0 }).count <= 1 else {
            _ = try output.fail(code: "invalid_value", message: "give one of --play, --say and --script")
            throw ExitCode(2)
        }
        guard (100...10_000).contains(turnGap), (0.1...600).contains(patience), (duration ?? 1) > 0 else {
            _ = try output.fail(code: "invalid_value", message: "--turn-gap takes 100-10000 ms, --patience 0.1-600 s, --duration more than 0 s")
            throw ExitCode(2)
        }
        var audio: [Int16] = []
        var callScript: CallScript?
        if let script {
            let data = script == "-" ? FileHandle.standardInput.readDataToEndOfFile() : FileManager.default.contents(atPath: script)
            guard let data else { throw ExitCode(try output.fail(code: "unreadable_script", message: "cannot read \(script)").rawValue) }
            do {
                callScript = try await CallScript.make(
                    parsing: String(decoding: data, as: UTF8.self), synthesizer: try await EspeakSynthesizer.shared(), gapMs: turnGap,
                    patienceMs: Int(patience * 1000)
                )
            } catch let error as ConversationError {
                _ = try output.fail(code: error.code.rawValue, message: error.message)
                throw ExitCode(2)
            }
        } else if let say {
            guard !say.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
                _ = try output.fail(code: "invalid_value", message: "--say needs something to say")
                throw ExitCode(2)
            }
            audio = CallScript.trimmed(try await EspeakSynthesizer.shared().synthesizeAll(say, rate: .narrowband))
        } else if let play {
            guard let data = FileManager.default.contents(atPath: play) else {
                throw ExitCode(try output.fail(code: "unreadable", message: "cannot read \(play)").rawValue)
            }
            do {
                let wav = try WAVFile(parsing: ByteBuffer(bytes: data))
                guard wav.channels == 1, let rate = AudioSampleRate(rawValue: wav.sampleRate) else {
                    throw CaptureError(code: .badWAV, message: "give a mono file at 8, 16, 22.05 or 48 kHz")
                }
                // `process` appends: a file at another rate is converted into an empty buffer.
                audio = rate == .narrowband ? wav.samples : []
                if rate != .narrowband { try Resampler(from: rate, to: .narrowband).process(wav.samples, into: &audio) }
            } catch let error as CaptureError {
                throw ExitCode(try output.fail(code: error.code.rawValue, message: error.message).rawValue)
            }
        }
        if let transport, !["udp", "tcp", "tls"].contains(transport.lowercased()) {
            _ = try output.fail(code: "invalid_value", message: "--transport must be udp, tcp or tls")
            throw ExitCode(2)
        }
        if let srtpSuite, !["AEAD_AES_128_GCM", "AEAD_AES_256_GCM", "AES_CM_128_HMAC_SHA1_80", "AES_CM_128_HMAC_SHA1_32"].contains(srtpSuite.uppercased()) {
            _ = try output.fail(code: "invalid_value", message: "--srtp-suite must be AEAD_AES_128_GCM, AEAD_AES_256_GCM, AES_CM_128_HMAC_SHA1_80 or AES_CM_128_HMAC_SHA1_32")
            throw ExitCode(2)
        }
        if let bad = dtmf.first(where: { !"0123456789*#ABCDabcd".contains($0) }) {
            _ = try output.fail(code: "invalid_value", message: "--dtmf takes 0-9, *, #, A-D; got \(bad)")
            throw ExitCode(2)
        }
        guard !from.isEmpty, from.utf8.allSatisfy({ $0 > 32 && $0 < 127 && !"<>@;:\"".utf8.contains($0) }) else {
            _ = try output.fail(code: "invalid_value", message: "--from must be a SIP user part: a number or a name, without spaces, <, >, @, ; or :")
            throw ExitCode(2)
        }
        if let codec, !["pcmu", "pcma", "opus"].contains(codec.lowercased()) {
            _ = try output.fail(code: "invalid_value", message: "--codec must be pcmu, pcma or opus")
            throw ExitCode(2)
        }
        let client = SIPCallClient(options: .init(
            target: target, play: audio, duration: .milliseconds(Int64((duration ?? (callScript == nil ? 10 : 600)) * 1000)), srtp: srtp,
            transport: transport, caFile: ca, codec: codec, srtpSuite: srtpSuite, dtmf: dtmf, from: from, script: callScript, password: password
        ))
        let (report, recorded): (SIPCallClient.Report, [Int16])
        do {
            (report, recorded) = try await client.run()
        } catch let error as CoreError {
            throw ExitCode(try output.fail(code: error.code.rawValue, message: error.message).rawValue)
        } catch {
            // A connection or TLS handshake that failed: the call was never placed.
            throw ExitCode(try output.fail(code: "unreachable", message: "\(error)").rawValue)
        }
        if let record {
            var buffer = ByteBuffer()
            WAVFile(sampleRate: 8000, samples: recorded).write(to: &buffer)
            try Data(buffer.readableBytesView).write(to: URL(fileURLWithPath: record))
        }
        var measured = report
        if !audio.isEmpty, report.answered { measured.voiceToVoiceMs = VoiceToVoice.measure(played: audio, heard: recorded) }
        try output.emit(measured)
        if !report.answered { throw ExitCode(1) }
    }
}
