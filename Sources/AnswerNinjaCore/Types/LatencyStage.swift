/// The stages of one AI turn, in the order they happen, as every role, metric and call record names them:
///
/// `vad_end` (the caller stopped speaking, by the endpointer) → `stt_final` (the final transcript) → `reply` (the
/// conversation role's answer) → `tts_first` (the first synthesized chunk) → `rtp_first` (the first RTP packet of
/// the answer on the wire). The turn's latency, as the caller hears it, is `rtp_first - vad_end`.
public enum LatencyStage: String, CaseIterable, Codable, Sendable, Comparable {
    case vadEnd = "vad_end"
    case sttFinal = "stt_final"
    case reply = "reply"
    case ttsFirst = "tts_first"
    case rtpFirst = "rtp_first"

    public static func < (lhs: LatencyStage, rhs: LatencyStage) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}

/// The instants at which one turn passed each stage. Stages arrive in order; an instant earlier than the stage
/// before it is a bug in the caller, refused rather than recorded as a negative latency.
public struct TurnLatency: Sendable, Equatable, Codable {
    public private(set) var marks: [LatencyStage: MediaInstant] = [:]

    public init() {}

    public mutating func mark(_ stage: LatencyStage, at instant: MediaInstant) throws(CoreError) {
        if let existing = marks[stage] {
            throw .invalidValue("stage \(stage.rawValue) already marked at \(existing)")
        }
        for other in LatencyStage.allCases where other != stage {
            guard let marked = marks[other] else { continue }
            if other < stage && marked > instant {
                throw .invalidValue("stage \(stage.rawValue) at \(instant) is before \(other.rawValue) at \(marked)")
            }
            if other > stage && marked < instant {
                throw .invalidValue("stage \(stage.rawValue) at \(instant) is after \(other.rawValue) at \(marked)")
            }
        }
        marks[stage] = instant
    }

    /// Time from the previous marked stage to `stage` (nil if either is missing or `stage` is the first).
    public func stageDuration(_ stage: LatencyStage) -> Duration? {
        guard let end = marks[stage] else { return nil }
        let earlier = LatencyStage.allCases.filter { $0 < stage }.reversed()
        guard let start = earlier.lazy.compactMap({ self.marks[$0] }).first else { return nil }
        return start.duration(to: end)
    }

    /// `rtp_first - vad_end`: what the caller waits, once both are marked.
    public var total: Duration? {
        guard let start = marks[.vadEnd], let end = marks[.rtpFirst] else { return nil }
        return start.duration(to: end)
    }
}
