import AnswerNinjaCore
import ArgumentParser
import Capture
import Foundation
import MediaDSP
import NIOCore

/// `answer-ninja vad FILE.wav [--json]`: the speech segments the media engine would find in a recording.
struct VADCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vad",
        abstract: "Find the speech segments of a WAV file (16-bit PCM, mono; 8, 16, 22.05 or 48 kHz) as the call pipeline would.",
        discussion: "Runs the voice activity detector and the adaptive endpointer on 10 ms frames at 8 kHz (docs/media.md)."
    )

    @Argument(help: "A 16-bit PCM WAV file.")
    var file: String

    @Flag(name: .long, help: "Also print every 10 ms frame: the speech probability and the smoothed decision (for quality harnesses).")
    var frames = false

    @Flag(name: .long, help: "Also print every 10 ms frame's model inputs (for tools/vad/train.py).")
    var features = false

    @Option(help: "The endpointer's wait after speech that looks finished, in milliseconds.")
    var shortWaitMs = Endpointer().shortWait * 10

    @Option(help: "The endpointer's wait after speech that does not look finished, in milliseconds.")
    var longWaitMs = Endpointer().longWait * 10

    @OptionGroup var output: OutputOptions

    struct Segment: Codable {
        var start: Double
        var end: Double
        /// When the endpointer decided the utterance had ended (seconds into the file): `end` plus its wait.
        var decidedAt: Double
    }

    struct Output: CommandOutput {
        var file: String
        var durationSeconds: Double
        var segments: [Segment]
        var speechSeconds: Double
        /// With `--frames`: per 10 ms frame at 8 kHz, the speech probability (3 decimals) and the decision (0 or 1).
        var frameProbabilities: [Double]?
        var frameDecisions: [Int]?
        /// With `--features`: per 10 ms frame, the inputs of the VAD's model.
        var frameFeatures: [[Double]]?

        var humanReadable: String {
            ([String(format: "%@: %.2f s, %d segments, %.2f s of speech", file, durationSeconds, segments.count, speechSeconds)]
                + segments.map { String(format: "  %.2f - %.2f", $0.start, $0.end) }).joined(separator: "\n")
        }
    }

    func run() async throws {
        guard let data = FileManager.default.contents(atPath: file) else {
            throw ExitCode(try output.fail(code: "unreadable", message: "cannot read \(file)").rawValue)
        }
        let wav: WAVFile
        var samples: [Int16]
        do {
            wav = try WAVFile(parsing: ByteBuffer(bytes: data))
            guard wav.channels == 1 else {
                throw CaptureError(code: .badWAV, message: "\(wav.channels) channels: give a mono file")
            }
            guard let rate = AudioSampleRate(rawValue: wav.sampleRate) else {
                throw CaptureError(code: .badWAV, message: "sample rate \(wav.sampleRate) Hz is not one of 8000, 16000, 22050, 48000")
            }
            samples = wav.samples
            if rate != .narrowband {
                var narrow: [Int16] = []
                try Resampler(from: rate, to: .narrowband).process(samples, into: &narrow)
                samples = narrow
            }
        } catch let error as CaptureError {
            throw ExitCode(try output.fail(code: error.code.rawValue, message: error.message).rawValue)
        }
        var vad = VoiceActivityDetector()
        var endpointer = Endpointer()
        endpointer.shortWait = max(1, shortWaitMs / 10)
        endpointer.longWait = max(endpointer.shortWait, longWaitMs / 10)
        var segments: [Segment] = []
        var probabilities: [Double] = []
        var decisions: [Int] = []
        var featureRows: [[Double]] = []
        var frameIndex = 0
        func collect(_ events: [Endpointer.Event]) {
            for case .utteranceEnded(let utterance) in events {
                segments.append(Segment(start: utterance.startSeconds, end: utterance.endSeconds, decidedAt: Double(frameIndex + 1) / 100))
            }
        }
        for start in stride(from: 0, to: samples.count - VoiceActivityDetector.frameLength + 1, by: VoiceActivityDetector.frameLength) {
            let frame = vad.process(samples[start..<(start + VoiceActivityDetector.frameLength)])
            if frames {
                probabilities.append((frame.probability * 1000).rounded() / 1000)
                decisions.append(frame.speech ? 1 : 0)
            }
            if features { featureRows.append(vad.features.map { ($0 * 10000).rounded() / 10000 }) }
            collect(endpointer.process(probability: frame.probability, energyDB: frame.energyDB))
            frameIndex += 1
        }
        collect(endpointer.flush())
        try output.emit(
            Output(
                file: file, durationSeconds: wav.durationSeconds, segments: segments,
                speechSeconds: segments.reduce(0) { $0 + $1.end - $1.start },
                frameProbabilities: frames ? probabilities : nil, frameDecisions: frames ? decisions : nil,
                frameFeatures: features ? featureRows : nil
            )
        )
    }
}
