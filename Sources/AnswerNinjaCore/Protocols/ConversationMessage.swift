/// The media ↔ conversation protocol (docs/protocols/conversation.md): one WebSocket per AI call, opened by the
/// media role, text only. Speech recognition and synthesis stay in the media role; the conversation role sees
/// transcripts and answers with replies. This connection is what `websocket_connections{role="media"}` counts.
public enum ConversationMessage: ProtocolMessage {
    /// media → conversation, first frame: who calls whom, the persona, why the call is screened.
    case start(Start)
    /// media → conversation: a partial or final transcript of the caller.
    case transcript(Transcript)
    case dtmf(DTMF)
    /// conversation → media: what to say next and what to do after.
    case reply(Reply)
    case playbackStarted(Playback)
    case playbackFinished(Playback)
    /// media → conversation: the caller spoke over a reply; `heardMs` and `heardText` say how much was heard.
    case bargeIn(BargeIn)
    case error(ErrorInfo)
    case ping(Ping)
    case pong(Ping)
    /// Either side after a reconnect: the last `seq` received; the peer retransmits what came after.
    case resume(Resume)
    /// Either side: the call is over; the other side closes the connection.
    case end(End)

    public static let protocolName = "conversation"
    public static let currentVersion = 1
    public static let supportedVersions = 1...1

    public struct Caller: Codable, Sendable, Equatable {
        public var number: E164Number?
        public var displayName: String?
        /// STIR/SHAKEN attestation (A, B, C) or nil when the trunk gave none.
        public var attestation: String?
        public init(number: E164Number?, displayName: String? = nil, attestation: String? = nil) {
            self.number = number
            self.displayName = displayName
            self.attestation = attestation
        }
    }

    public struct Start: Codable, Sendable, Equatable {
        public var callId: CallID
        public var userId: String
        public var caller: Caller
        public var persona: String
        public var language: String
        /// Why the call is screened (the decision's reasons), for the policy and the record.
        public var reasons: [String]
        /// The user's dialog options (their settings); nil leaves the conversation role's defaults.
        /// How the assistant names the user ("Sam's assistant").
        public var userName: String?
        /// Say in the opening line that the call is recorded.
        public var announceRecording: Bool?
        /// "If you're a person, press 1" after the opening line.
        public var challenge: Bool?
        /// Spam callers get the time-waster persona.
        public var timeWaster: Bool?
        /// A wanted caller is offered to be put through to the user (else a message is taken).
        public var offerConnect: Bool?

        public init(
            callId: CallID, userId: String, caller: Caller, persona: String, language: String = "en-US", reasons: [String] = [],
            userName: String? = nil, announceRecording: Bool? = nil, challenge: Bool? = nil, timeWaster: Bool? = nil, offerConnect: Bool? = nil
        ) {
            self.callId = callId
            self.userId = userId
            self.caller = caller
            self.persona = persona
            self.language = language
            self.reasons = reasons
            self.userName = userName
            self.announceRecording = announceRecording
            self.challenge = challenge
            self.timeWaster = timeWaster
            self.offerConnect = offerConnect
        }
    }

    public struct Transcript: Codable, Sendable, Equatable {
        public var utteranceId: String
        public var text: String
        public var final: Bool
        public var confidence: Double
        /// Offsets from the start of the call.
        public var startMs: Int
        public var endMs: Int
        public init(utteranceId: String, text: String, final: Bool, confidence: Double, startMs: Int, endMs: Int) {
            self.utteranceId = utteranceId
            self.text = text
            self.final = final
            self.confidence = confidence
            self.startMs = startMs
            self.endMs = endMs
        }
    }

    public struct DTMF: Codable, Sendable, Equatable {
        public var digit: String
        public var durationMs: Int
        public init(digit: String, durationMs: Int) {
            self.digit = digit
            self.durationMs = durationMs
        }
    }

    public enum Action: String, Codable, Sendable, Equatable {
        /// Say the text, then listen for the caller.
        case `continue`
        /// Say the text (a goodbye), then end the call.
        case hangup
        /// Say the text, then bridge the caller to the user.
        case transfer
        /// Say nothing more; keep listening.
        case listen
    }

    public struct Reply: Codable, Sendable, Equatable {
        public var turnId: String
        public var text: String
        public var action: Action
        public var intent: String?
        public var confidence: Double?
        /// `hangup`: why the dialog ended the call (the termination policy's reason).
        public var endReason: String?
        /// `transfer`: the one line the user hears before the caller is put through (who calls, why, what they said).
        public var summary: String?
        /// The `utterance_id` of the final transcript this reply answers; nil for the conversation's own turns (the
        /// opening line, the clock's).
        public var inReplyTo: String?
        public init(
            turnId: String, text: String, action: Action, intent: String? = nil, confidence: Double? = nil, endReason: String? = nil, summary: String? = nil,
            inReplyTo: String? = nil
        ) {
            self.turnId = turnId
            self.text = text
            self.action = action
            self.intent = intent
            self.confidence = confidence
            self.endReason = endReason
            self.summary = summary
            self.inReplyTo = inReplyTo
        }
    }

    public struct Playback: Codable, Sendable, Equatable {
        public var turnId: String
        public init(turnId: String) { self.turnId = turnId }
    }

    public struct BargeIn: Codable, Sendable, Equatable {
        public var turnId: String
        public var heardMs: Int
        public var heardText: String?
        public init(turnId: String, heardMs: Int, heardText: String? = nil) {
            self.turnId = turnId
            self.heardMs = heardMs
            self.heardText = heardText
        }
    }

    /// Also thrown inside the conversation role for a frame it refuses (the error frame it then sends).
    public struct ErrorInfo: Codable, Sendable, Equatable, Error {
        public var code: String
        public var message: String
        /// false: the sender gives up on this call (the media role then plays a goodbye and hangs up).
        public var recoverable: Bool
        public init(code: String, message: String, recoverable: Bool) {
            self.code = code
            self.message = message
            self.recoverable = recoverable
        }
    }

    public struct Ping: Codable, Sendable, Equatable {
        public var nonce: UInt64
        public init(nonce: UInt64) { self.nonce = nonce }
    }

    public struct Resume: Codable, Sendable, Equatable {
        public var callId: CallID
        public var lastSeq: UInt64
        public init(callId: CallID, lastSeq: UInt64) {
            self.callId = callId
            self.lastSeq = lastSeq
        }
    }

    public struct End: Codable, Sendable, Equatable {
        public var reason: ReleaseReason
        public init(reason: ReleaseReason) { self.reason = reason }
    }

    public var type: String {
        switch self {
        case .start: "start"
        case .transcript: "transcript"
        case .dtmf: "dtmf"
        case .reply: "reply"
        case .playbackStarted: "playback_started"
        case .playbackFinished: "playback_finished"
        case .bargeIn: "barge_in"
        case .error: "error"
        case .ping: "ping"
        case .pong: "pong"
        case .resume: "resume"
        case .end: "end"
        }
    }

    public func encodePayload(to encoder: any Encoder) throws {
        switch self {
        case .start(let m): try m.encode(to: encoder)
        case .transcript(let m): try m.encode(to: encoder)
        case .dtmf(let m): try m.encode(to: encoder)
        case .reply(let m): try m.encode(to: encoder)
        case .playbackStarted(let m), .playbackFinished(let m): try m.encode(to: encoder)
        case .bargeIn(let m): try m.encode(to: encoder)
        case .error(let m): try m.encode(to: encoder)
        case .ping(let m), .pong(let m): try m.encode(to: encoder)
        case .resume(let m): try m.encode(to: encoder)
        case .end(let m): try m.encode(to: encoder)
        }
    }

    public static func decodePayload(type: String, from decoder: any Decoder) throws -> ConversationMessage {
        switch type {
        case "start": .start(try decoder.payload(Start.self))
        case "transcript": .transcript(try decoder.payload(Transcript.self))
        case "dtmf": .dtmf(try decoder.payload(DTMF.self))
        case "reply": .reply(try decoder.payload(Reply.self))
        case "playback_started": .playbackStarted(try decoder.payload(Playback.self))
        case "playback_finished": .playbackFinished(try decoder.payload(Playback.self))
        case "barge_in": .bargeIn(try decoder.payload(BargeIn.self))
        case "error": .error(try decoder.payload(ErrorInfo.self))
        case "ping": .ping(try decoder.payload(Ping.self))
        case "pong": .pong(try decoder.payload(Ping.self))
        case "resume": .resume(try decoder.payload(Resume.self))
        case "end": .end(try decoder.payload(End.self))
        default: throw unknownType(type)
        }
    }
}
