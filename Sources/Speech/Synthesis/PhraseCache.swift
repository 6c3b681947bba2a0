import AnswerNinjaCore
import Codecs
import Foundation

/// How the phrase cache stores audio: ready RTP payloads of 20 ms for one codec.
public enum PhraseCodec: String, Sendable, Hashable, CaseIterable, Codable {
    case pcmu, pcma
    /// Opus packets of 20 ms coded from 8 kHz audio, as `MediaPath` codes an Opus leg (RFC 7587's 48 kHz RTP
    /// clock, 960 timestamp units a frame; DTX off). Each line is coded by a fresh encoder, so its first packet
    /// starts clean; the far end's decoder carries on across lines as it does across any encoder reset.
    case opus
    /// 16-bit little-endian PCM at 16 kHz (what a wideband leg or a recording takes).
    case l16

    public var rate: AudioSampleRate { self == .l16 ? .wideband : .narrowband }
    public var samplesPerFrame: Int { rate.samples(in: .milliseconds(20)) }
}

/// Fixed lines (disclosure, greeting, goodbye, common replies) synthesized once and kept as encoded 20 ms frames
/// per codec, so that playing one costs a dictionary lookup: no synthesis, no resampling, no encoding.
/// Thread-safe; a hit takes one lock.
public final class PhraseCache: @unchecked Sendable {
    // @unchecked: `entries` is guarded by `lock`.
    public struct Key: Hashable, Sendable {
        public var text: String
        public var codec: PhraseCodec
    }

    private let synthesizer: any SpeechSynthesizer
    private let lock = NSLock()
    private var entries: [Key: [[UInt8]]] = [:]
    private var hitCount = 0
    private var missCount = 0

    public init(synthesizer: any SpeechSynthesizer) {
        self.synthesizer = synthesizer
    }

    /// The frames of `text` in `codec`, if cached.
    public func frames(for text: String, codec: PhraseCodec) -> [[UInt8]]? {
        lock.withLock {
            let found = entries[Key(text: text, codec: codec)]
            if found == nil { missCount += 1 } else { hitCount += 1 }
            return found
        }
    }

    public var statistics: (entries: Int, hits: Int, misses: Int) {
        lock.withLock { (entries.count, hitCount, missCount) }
    }

    /// Synthesizes and encodes `lines` for each codec (in the background priority: replies go first).
    public func warm(_ lines: [String], codecs: [PhraseCodec] = PhraseCodec.allCases) async throws {
        for line in Set(lines).sorted() {
            for codec in codecs where lock.withLock({ entries[Key(text: line, codec: codec)] == nil }) {
                let samples = try await synthesizer.synthesizeAll(line, rate: codec.rate, priority: .background)
                let frames = try Self.encode(samples, codec: codec)
                lock.withLock { entries[Key(text: line, codec: codec)] = frames }
            }
        }
    }

    /// 20 ms frames of `samples`, the last padded with silence.
    public static func encode(_ samples: [Int16], codec: PhraseCodec) throws(CodecError) -> [[UInt8]] {
        let size = codec.samplesPerFrame
        let opus = codec == .opus ? try OpusEncoderSession(sampleRate: .narrowband, dtx: false) : nil
        var frames: [[UInt8]] = []
        frames.reserveCapacity(samples.count / size + 1)
        var start = 0
        while start < samples.count {
            var frame = Array(samples[start..<min(start + size, samples.count)])
            if frame.count < size { frame += repeatElement(0, count: size - frame.count) }
            var payload: [UInt8] = []
            switch codec {
            case .pcmu: G711.encode(frame, law: .muLaw, into: &payload)
            case .pcma: G711.encode(frame, law: .aLaw, into: &payload)
            case .opus: try opus?.encode(frame, duration: .ms20, into: &payload)
            case .l16:
                payload.reserveCapacity(size * 2)
                for sample in frame {
                    payload.append(UInt8(truncatingIfNeeded: sample))
                    payload.append(UInt8(truncatingIfNeeded: sample >> 8))
                }
            }
            frames.append(payload)
            start += size
        }
        return frames
    }
}
