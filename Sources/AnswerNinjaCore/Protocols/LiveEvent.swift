/// Live events for the dashboard (docs/protocols/live-events.md): published by the gateway, media and
/// conversation roles for each call, fanned out per user over the event bus (Redis pub/sub or in-process), and
/// pushed to the browser. Every event names its call and user and carries when it happened (Unix milliseconds).
public enum LiveEvent: ProtocolMessage {
    case callStarted(CallStarted)
    case decision(Decision)
    case transcriptPartial(TranscriptLine)
    case transcriptFinal(TranscriptLine)
    case turn(Turn)
    case callEnded(CallEnded)

    public static let protocolName = "live-events"
    public static let currentVersion = 1
    public static let supportedVersions = 1...1

    public enum Speaker: String, Codable, Sendable, Equatable { case caller, assistant }

    public struct CallStarted: Codable, Sendable, Equatable {
        public var callId: CallID
        public var userId: String
        public var atMs: Int64
        public var caller: String
        public var callerName: String?
        public var dialled: String
        public init(callId: CallID, userId: String, atMs: Int64, caller: String, callerName: String? = nil, dialled: String) {
            self.callId = callId
            self.userId = userId
            self.atMs = atMs
            self.caller = caller
            self.callerName = callerName
            self.dialled = dialled
        }
    }

    public struct Decision: Codable, Sendable, Equatable {
        public enum Outcome: String, Codable, Sendable, Equatable { case allow, block, screen }
        public var callId: CallID
        public var userId: String
        public var atMs: Int64
        public var decision: Outcome
        /// Every rule that spoke, in order (`whitelist:contact`, `profile:spam_score=0.91`, ...).
        public var reasons: [String]
        public init(callId: CallID, userId: String, atMs: Int64, decision: Outcome, reasons: [String]) {
            self.callId = callId
            self.userId = userId
            self.atMs = atMs
            self.decision = decision
            self.reasons = reasons
        }
    }

    public struct TranscriptLine: Codable, Sendable, Equatable {
        public var callId: CallID
        public var userId: String
        public var atMs: Int64
        public var speaker: Speaker
        public var turnId: String
        public var text: String
        public init(callId: CallID, userId: String, atMs: Int64, speaker: Speaker, turnId: String, text: String) {
            self.callId = callId
            self.userId = userId
            self.atMs = atMs
            self.speaker = speaker
            self.turnId = turnId
            self.text = text
        }
    }

    public struct Turn: Codable, Sendable, Equatable {
        public var callId: CallID
        public var userId: String
        public var atMs: Int64
        public var turnId: String
        public var callerText: String
        public var replyText: String
        public var intent: String?
        public var confidence: Double?
        /// Milliseconds spent reaching each stage from the one before, in stage order. (A list, not a map: the
        /// wire's snake_case key conversion would rewrite map keys.)
        public var latency: [StageLatency]
        public init(
            callId: CallID, userId: String, atMs: Int64, turnId: String, callerText: String, replyText: String,
            intent: String?, confidence: Double?, latency: [StageLatency]
        ) {
            self.callId = callId
            self.userId = userId
            self.atMs = atMs
            self.turnId = turnId
            self.callerText = callerText
            self.replyText = replyText
            self.intent = intent
            self.confidence = confidence
            self.latency = latency
        }
    }

    public struct StageLatency: Codable, Sendable, Equatable {
        public var stage: LatencyStage
        public var ms: Double
        public init(stage: LatencyStage, ms: Double) {
            self.stage = stage
            self.ms = ms
        }

        /// The stages of a turn that have a duration, in order.
        public static func list(_ latency: TurnLatency) -> [StageLatency] {
            LatencyStage.allCases.compactMap { stage in
                latency.stageDuration(stage).map { StageLatency(stage: stage, ms: $0.milliseconds) }
            }
        }
    }

    public struct CallEnded: Codable, Sendable, Equatable {
        public var callId: CallID
        public var userId: String
        public var atMs: Int64
        public var outcome: String
        public var reason: ReleaseReason
        public var durationMs: Int64
        public var intent: String?
        public init(callId: CallID, userId: String, atMs: Int64, outcome: String, reason: ReleaseReason, durationMs: Int64, intent: String? = nil) {
            self.callId = callId
            self.userId = userId
            self.atMs = atMs
            self.outcome = outcome
            self.reason = reason
            self.durationMs = durationMs
            self.intent = intent
        }
    }

    public var type: String {
        switch self {
        case .callStarted: "call_started"
        case .decision: "decision"
        case .transcriptPartial: "transcript_partial"
        case .transcriptFinal: "transcript_final"
        case .turn: "turn"
        case .callEnded: "call_ended"
        }
    }

    public func encodePayload(to encoder: any Encoder) throws {
        switch self {
        case .callStarted(let m): try m.encode(to: encoder)
        case .decision(let m): try m.encode(to: encoder)
        case .transcriptPartial(let m), .transcriptFinal(let m): try m.encode(to: encoder)
        case .turn(let m): try m.encode(to: encoder)
        case .callEnded(let m): try m.encode(to: encoder)
        }
    }

    public static func decodePayload(type: String, from decoder: any Decoder) throws -> LiveEvent {
        switch type {
        case "call_started": .callStarted(try decoder.payload(CallStarted.self))
        case "decision": .decision(try decoder.payload(Decision.self))
        case "transcript_partial": .transcriptPartial(try decoder.payload(TranscriptLine.self))
        case "transcript_final": .transcriptFinal(try decoder.payload(TranscriptLine.self))
        case "turn": .turn(try decoder.payload(Turn.self))
        case "call_ended": .callEnded(try decoder.payload(CallEnded.self))
        default: throw unknownType(type)
        }
    }
}
