/// The sample rates the media engine speaks: narrowband and wideband telephony, Opus's clock, and espeak-ng's
/// native output rate.
public struct AudioSampleRate: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible {
    public let rawValue: Int

    public init?(rawValue: Int) {
        guard Self.supported.contains(where: { $0.hertz == rawValue }) else { return nil }
        self.rawValue = rawValue
    }

    private init(hertz: Int) { self.rawValue = hertz }

    public var hertz: Int { rawValue }

    /// G.711 and most PSTN trunks.
    public static let narrowband = AudioSampleRate(hertz: 8000)
    /// G.722-class audio and the pocketsphinx en-us acoustic model.
    public static let wideband = AudioSampleRate(hertz: 16000)
    /// espeak-ng's output rate.
    public static let espeak = AudioSampleRate(hertz: 22050)
    /// Opus's RTP clock (RFC 7587 §4.1: always 48000, whatever the encoded bandwidth).
    public static let fullband = AudioSampleRate(hertz: 48000)

    /// OpenAI-compatible speech APIs' raw PCM (`/v1/audio/speech` with `response_format: pcm`).
    public static let speechService = AudioSampleRate(hertz: 24000)

    public static let supported: [AudioSampleRate] = [.narrowband, .wideband, .espeak, .speechService, .fullband]

    /// Samples in `duration` at this rate, rounded down.
    public func samples(in duration: Duration) -> Int {
        Int(duration.nanosecondsClamped * Int64(hertz) / 1_000_000_000)
    }

    public var description: String { "\(hertz) Hz" }

    public init(from decoder: any Decoder) throws {
        let hertz = try decoder.singleValueContainer().decode(Int.self)
        guard let rate = AudioSampleRate(rawValue: hertz) else {
            throw CoreError.invalidValue("unsupported sample rate \(hertz) Hz")
        }
        self = rate
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}

/// A block of mono linear PCM as it moves between the jitter buffer, VAD, speech and playback.
///
/// `rtpTimestamp` is in the units of the RTP clock of the stream it came from or goes to (RFC 3550 §5.1), which for
/// Opus is 48 kHz even when `sampleRate` is lower; `arrival` is when its first packet reached us (nil for
/// synthesized audio).
public struct AudioFrame: Sendable, Equatable {
    public var samples: [Int16]
    public var sampleRate: AudioSampleRate
    public var rtpTimestamp: UInt32
    public var arrival: MediaInstant?

    public init(samples: [Int16], sampleRate: AudioSampleRate, rtpTimestamp: UInt32, arrival: MediaInstant? = nil) {
        self.samples = samples
        self.sampleRate = sampleRate
        self.rtpTimestamp = rtpTimestamp
        self.arrival = arrival
    }

    /// How long the frame plays.
    public var duration: Duration {
        .nanoseconds(Int64(samples.count) * 1_000_000_000 / Int64(sampleRate.hertz))
    }

    /// A frame of digital silence of `duration` at `rate`.
    public static func silence(_ duration: Duration, rate: AudioSampleRate, rtpTimestamp: UInt32 = 0) -> AudioFrame {
        AudioFrame(samples: [Int16](repeating: 0, count: rate.samples(in: duration)), sampleRate: rate, rtpTimestamp: rtpTimestamp)
    }
}
