/// How a media session treats the audio: `terminate` consumes and produces it here (AI screening: jitter buffer,
/// VAD, speech); `relay` forwards packets between two legs of a bridged call without a jitter buffer.
public enum MediaMode: String, Codable, Sendable, Equatable {
    case terminate
    case relay
}

/// What to play into a call.
public enum PlaybackSource: Codable, Sendable, Equatable {
    /// Text to synthesize (TTS in the media role).
    case text(String, voice: String?)
    /// A phrase of the phrase cache by key (disclosure, greeting, goodbye), ready encoded.
    case phrase(String)
    /// A WAV file in the data directory.
    case file(String)
    /// Silence or comfort noise for a duration in milliseconds.
    case silence(milliseconds: Int)

    enum CodingKeys: String, CodingKey { case kind, text, voice, key, path, milliseconds }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        switch try container.decode(String.self, forKey: .kind) {
        case "text": self = .text(try container.decode(String.self, forKey: .text), voice: try container.decodeIfPresent(String.self, forKey: .voice))
        case "phrase": self = .phrase(try container.decode(String.self, forKey: .key))
        case "file": self = .file(try container.decode(String.self, forKey: .path))
        case "silence": self = .silence(milliseconds: try container.decode(Int.self, forKey: .milliseconds))
        case let other:
            throw CoreError.protocolViolation("unknown playback source kind \"\(other)\" (expected text, phrase, file or silence)")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case .text(let text, let voice):
            try container.encode("text", forKey: .kind)
            try container.encode(text, forKey: .text)
            try container.encodeIfPresent(voice, forKey: .voice)
        case .phrase(let key):
            try container.encode("phrase", forKey: .kind)
            try container.encode(key, forKey: .key)
        case .file(let path):
            try container.encode("file", forKey: .kind)
            try container.encode(path, forKey: .path)
        case .silence(let milliseconds):
            try container.encode("silence", forKey: .kind)
            try container.encode(milliseconds, forKey: .milliseconds)
        }
    }
}

/// Why a session or call ended; also the `Reason` header of the BYE (RFC 3326) the gateway sends.
public enum ReleaseReason: String, Codable, Sendable, Equatable, CaseIterable {
    /// The caller hung up.
    case callerHangup = "caller_hangup"
    /// The AI ended the call by its policy.
    case assistantHangup = "assistant_hangup"
    /// The user hung up from the dashboard.
    case userHangup = "user_hangup"
    /// The call was bridged to the user (take-over or wanted caller) and this leg is no longer needed.
    case transferred
    /// No RTP within the timeout.
    case rtpTimeout = "rtp_timeout"
    /// SRTP authentication kept failing.
    case srtpFailure = "srtp_failure"
    /// The control connection dropped and was not resumed within the grace period.
    case controlLost = "control_lost"
    /// The maximum call duration was reached.
    case maximumDuration = "maximum_duration"
    /// The process is shutting down and drained its calls.
    case shutdown
    /// Anything else, with details in the logs.
    case error
}

/// Receiver-side statistics of one session's inbound stream (RFC 3550 §6.4.1 and A.8), as reported by `query`
/// and in the call record.
public struct MediaStatistics: Codable, Sendable, Equatable {
    public var packetsReceived: UInt64
    public var packetsSent: UInt64
    public var packetsLost: Int64
    public var packetsDropped: UInt64
    /// Interarrival jitter in milliseconds.
    public var jitterMilliseconds: Double
    /// Round-trip time from RTCP LSR/DLSR, when known.
    public var roundTripMilliseconds: Double?
    public var codec: String?

    public init(
        packetsReceived: UInt64 = 0, packetsSent: UInt64 = 0, packetsLost: Int64 = 0, packetsDropped: UInt64 = 0,
        jitterMilliseconds: Double = 0, roundTripMilliseconds: Double? = nil, codec: String? = nil
    ) {
        self.packetsReceived = packetsReceived
        self.packetsSent = packetsSent
        self.packetsLost = packetsLost
        self.packetsDropped = packetsDropped
        self.jitterMilliseconds = jitterMilliseconds
        self.roundTripMilliseconds = roundTripMilliseconds
        self.codec = codec
    }
}

/// What a media session reports, to the in-process owner or as `event` frames of the control protocol.
public enum MediaSessionEvent: Codable, Sendable, Equatable {
    /// An RFC 4733 telephone event ended (one per digit, whatever the retransmissions).
    case dtmf(digit: String, durationMilliseconds: Int)
    /// Voice activity began (after the VAD's onset hangover).
    case speechStarted
    /// The endpointer decided the utterance ended.
    case speechEnded
    /// A final transcript of one utterance (STT runs in the media role).
    case utterance(text: String, confidence: Double)
    /// A playback finished; `completed` is false when it was stopped or barged into, with how much was heard.
    case playbackDone(playbackId: String, completed: Bool, heardMilliseconds: Int)
    /// No RTP for this long.
    case rtpTimeout(afterMilliseconds: Int)
    /// SRTP/SRTCP authentication or replay failures since the last report.
    case srtpFailure(count: Int, reason: String)
    /// Periodic statistics.
    case statistics(MediaStatistics)
    /// The conversation asked to end the call (the gateway sends BYE, with `text` in its Reason header).
    case hangupRequested(reason: ReleaseReason, text: String? = nil)
    /// The conversation asked to transfer the caller to the user; `announcement` is its one line about the caller,
    /// said to the user's device before the bridge.
    case transferRequested(target: String?, announcement: String? = nil)
    /// What the assistant found and said (the gateway keeps the call's record).
    case assistant(AssistantReport)
    /// The call's audio is being written to this file (`record`), on the media role's volume.
    case recording(path: String)

    enum CodingKeys: String, CodingKey {
        case kind, digit, durationMs, text, confidence, playbackId, completed, heardMs, afterMs, count, reason, statistics, target, announcement, report, path
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        switch try c.decode(String.self, forKey: .kind) {
        case "dtmf": self = .dtmf(digit: try c.decode(String.self, forKey: .digit), durationMilliseconds: try c.decode(Int.self, forKey: .durationMs))
        case "speech_started": self = .speechStarted
        case "speech_ended": self = .speechEnded
        case "utterance": self = .utterance(text: try c.decode(String.self, forKey: .text), confidence: try c.decode(Double.self, forKey: .confidence))
        case "playback_done":
            self = .playbackDone(
                playbackId: try c.decode(String.self, forKey: .playbackId),
                completed: try c.decode(Bool.self, forKey: .completed),
                heardMilliseconds: try c.decode(Int.self, forKey: .heardMs)
            )
        case "rtp_timeout": self = .rtpTimeout(afterMilliseconds: try c.decode(Int.self, forKey: .afterMs))
        case "srtp_failure": self = .srtpFailure(count: try c.decode(Int.self, forKey: .count), reason: try c.decode(String.self, forKey: .reason))
        case "statistics": self = .statistics(try c.decode(MediaStatistics.self, forKey: .statistics))
        case "hangup_requested":
            self = .hangupRequested(reason: try c.decode(ReleaseReason.self, forKey: .reason), text: try c.decodeIfPresent(String.self, forKey: .text))
        case "transfer_requested":
            self = .transferRequested(target: try c.decodeIfPresent(String.self, forKey: .target), announcement: try c.decodeIfPresent(String.self, forKey: .announcement))
        case "assistant": self = .assistant(try c.decode(AssistantReport.self, forKey: .report))
        case "recording": self = .recording(path: try c.decode(String.self, forKey: .path))
        case let other: throw CoreError.protocolViolation("unknown media event kind \"\(other)\"")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(kind, forKey: .kind)
        switch self {
        case .dtmf(let digit, let duration):
            try c.encode(digit, forKey: .digit)
            try c.encode(duration, forKey: .durationMs)
        case .speechStarted, .speechEnded:
            break
        case .utterance(let text, let confidence):
            try c.encode(text, forKey: .text)
            try c.encode(confidence, forKey: .confidence)
        case .playbackDone(let id, let completed, let heard):
            try c.encode(id, forKey: .playbackId)
            try c.encode(completed, forKey: .completed)
            try c.encode(heard, forKey: .heardMs)
        case .rtpTimeout(let after):
            try c.encode(after, forKey: .afterMs)
        case .srtpFailure(let count, let reason):
            try c.encode(count, forKey: .count)
            try c.encode(reason, forKey: .reason)
        case .statistics(let statistics):
            try c.encode(statistics, forKey: .statistics)
        case .hangupRequested(let reason, let text):
            try c.encode(reason, forKey: .reason)
            try c.encodeIfPresent(text, forKey: .text)
        case .transferRequested(let target, let announcement):
            try c.encodeIfPresent(target, forKey: .target)
            try c.encodeIfPresent(announcement, forKey: .announcement)
        case .assistant(let report):
            try c.encode(report, forKey: .report)
        case .recording(let path):
            try c.encode(path, forKey: .path)
        }
    }

    public var kind: String {
        switch self {
        case .dtmf: "dtmf"
        case .speechStarted: "speech_started"
        case .speechEnded: "speech_ended"
        case .utterance: "utterance"
        case .playbackDone: "playback_done"
        case .rtpTimeout: "rtp_timeout"
        case .srtpFailure: "srtp_failure"
        case .statistics: "statistics"
        case .hangupRequested: "hangup_requested"
        case .transferRequested: "transfer_requested"
        case .assistant: "assistant"
        case .recording: "recording"
        }
    }
}
