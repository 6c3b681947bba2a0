/// What the assistant on a call tells its owner as the call goes: the intent it found, what the caller said, and
/// each turn (the reply, with its stage times). In one process it goes straight to the call record and the live
/// view; from a media role it crosses the control channel as an `assistant` event, and the gateway, which keeps the
/// record, does the same with it there.
public enum AssistantReport: Codable, Sendable, Equatable {
    case intent(name: String, confidence: Double)
    /// A final transcript of the caller, before the reply that answers it.
    case heard(turnId: String, text: String, atMs: Int64)
    case turn(AssistantTurn)

    enum CodingKeys: String, CodingKey { case kind, name, confidence, turnId, text, atMs, turn }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        switch try c.decode(String.self, forKey: .kind) {
        case "intent": self = .intent(name: try c.decode(String.self, forKey: .name), confidence: try c.decode(Double.self, forKey: .confidence))
        case "heard": self = .heard(turnId: try c.decode(String.self, forKey: .turnId), text: try c.decode(String.self, forKey: .text), atMs: try c.decode(Int64.self, forKey: .atMs))
        case "turn": self = .turn(try c.decode(AssistantTurn.self, forKey: .turn))
        case let other: throw CoreError.protocolViolation("unknown assistant report kind \"\(other)\" (expected intent, heard or turn)")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case .intent(let name, let confidence):
            try c.encode("intent", forKey: .kind)
            try c.encode(name, forKey: .name)
            try c.encode(confidence, forKey: .confidence)
        case .heard(let turnId, let text, let atMs):
            try c.encode("heard", forKey: .kind)
            try c.encode(turnId, forKey: .turnId)
            try c.encode(text, forKey: .text)
            try c.encode(atMs, forKey: .atMs)
        case .turn(let turn):
            try c.encode("turn", forKey: .kind)
            try c.encode(turn, forKey: .turn)
        }
    }
}

/// One turn of the assistant: what the caller said (empty for a line of its own, such as the opening), the reply,
/// and the stage times between `vad_end`, `stt_final`, `reply`, `tts_first` and `rtp_first` in milliseconds.
public struct AssistantTurn: Codable, Sendable, Equatable {
    public var number: Int
    /// The conversation's id of the reply.
    public var turnId: String
    public var atMs: Int64
    public var callerText: String
    public var replyText: String
    public var intent: String?
    public var confidence: Double?
    public var latencies: [String: Double]

    public init(
        number: Int, turnId: String, atMs: Int64, callerText: String, replyText: String, intent: String? = nil, confidence: Double? = nil,
        latencies: [String: Double] = [:]
    ) {
        self.number = number
        self.turnId = turnId
        self.atMs = atMs
        self.callerText = callerText
        self.replyText = replyText
        self.intent = intent
        self.confidence = confidence
        self.latencies = latencies
    }
}
