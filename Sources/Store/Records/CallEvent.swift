import AnswerNinjaCore

/// One change of one call's state, as the journal holds it and the database receives it. `(callId, sequence)` is
/// its identity: applying the same event twice changes nothing. `callStartedAt` rides on every event because it is
/// part of the record's key (PostgreSQL partitions by it).
public struct CallEvent: Codable, Sendable, Equatable {
    public var callId: String
    /// 1 for `started`, then one more per change of this call.
    public var sequence: Int
    /// Unix milliseconds when the call started.
    public var callStartedAt: Int64
    /// Unix milliseconds of this change.
    public var at: Int64
    /// The instance (process) that owns the call: its calls are marked interrupted if it dies.
    public var instance: String
    public var change: Change

    public init(callId: String, sequence: Int, callStartedAt: Int64, at: Int64, instance: String, change: Change) {
        self.callId = callId
        self.sequence = sequence
        self.callStartedAt = callStartedAt
        self.at = at
        self.instance = instance
        self.change = change
    }

    public enum Change: Codable, Sendable, Equatable {
        case started(userId: String?, caller: String, callee: String)
        /// The call's owner, found after its start (the lookup by the dialled number does not hold up the journal).
        case assigned(userId: String)
        /// The screening decision (`allow`, `block`, `screen`, `reject`, ...) with every rule that spoke.
        case decided(decision: String, reasons: [String])
        case answered
        case intent(name: String, confidence: Double)
        case turn(CallTurn)
        /// Adds to the record's latency summary (`setup_ms`, `answer_ms`, ...).
        case latency(name: String, milliseconds: Double)
        case recording(path: String)
        /// The transcript file written in the owner's folder when the call ended.
        case transcript(path: String)
        /// The call ended normally: `outcome` (`hung_up_by_ai`, `transferred`, `caller_hung_up`, ...) and why.
        case ended(outcome: String, reason: String)
        /// The instance that owned the call died or restarted before it ended.
        case interrupted(reason: String)

        /// Ends the call: nothing follows it.
        public var isTerminal: Bool {
            switch self {
            case .ended, .interrupted: true
            default: false
            }
        }

        /// The record's state after this change.
        public var state: CallRecordState? {
            switch self {
            case .started: .screening
            case .decided: .decided
            case .answered: .answered
            case .ended: .ended
            case .interrupted: .interrupted
            case .intent, .turn, .latency, .recording, .transcript, .assigned: nil
            }
        }
    }
}

/// Where a call record stands.
public enum CallRecordState: String, Codable, Sendable, CaseIterable {
    case screening, decided, answered, ended, interrupted

    public var isTerminal: Bool { self == .ended || self == .interrupted }
}

/// One exchange of an AI call: what the caller said, what the assistant answered, the intent so far and the latency
/// of each stage (milliseconds from the stage before, `vad_end → stt_final → reply → tts_first → rtp_first`).
public struct CallTurn: Codable, Sendable, Equatable {
    public var turn: Int
    public var at: Int64
    public var callerText: String
    public var replyText: String
    public var intent: String?
    public var confidence: Double?
    public var latencies: [String: Double]

    public init(turn: Int, at: Int64, callerText: String, replyText: String, intent: String? = nil, confidence: Double? = nil, latencies: [String: Double] = [:]) {
        self.turn = turn
        self.at = at
        self.callerText = callerText
        self.replyText = replyText
        self.intent = intent
        self.confidence = confidence
        self.latencies = latencies
    }
}

/// A call record as stored: the decision and its reasons, intent, outcome, latencies, and its turns when asked for.
public struct CallRecord: Codable, Sendable, Equatable {
    public var id: String
    public var startedAt: Int64
    public var userId: String?
    public var caller: String
    public var callee: String
    public var state: CallRecordState
    public var decision: String?
    public var reasons: [String]
    public var intent: String?
    public var intentConfidence: Double?
    public var outcome: String?
    public var endReason: String?
    public var answeredAt: Int64?
    public var endedAt: Int64?
    public var recordingPath: String?
    public var transcriptPath: String?
    public var latencies: [String: Double]
    public var instance: String
    public var lastSequence: Int
    public var turns: [CallTurn]
}
