/// The gateway ↔ media control protocol (docs/protocols/media-control.md), in the spirit of rtpengine's "ng"
/// protocol: the gateway hands SDP in and gets SDP out, keyed by call id and dialog tags; it never builds media
/// addresses. Every command carries a `request_id`; the media role answers each with exactly one `result`, and a
/// command repeated with the same `request_id` (after a lost reply or a resumed connection) gets the same result
/// without being carried out twice. One connection is multiplexed over every call of a gateway instance, so no
/// handshake sits on the INVITE → 200 path.
public enum MediaControlMessage: ProtocolMessage {
    // Channel.
    case hello(Hello)
    case welcome(Welcome)
    case ping(Ping)
    case pong(Ping)
    // Commands, gateway → media.
    case offer(Offer)
    case answer(Answer)
    case update(Offer)
    case play(Play)
    case stopPlayback(StopPlayback)
    case record(Record)
    case bridge(Bridge)
    case startConversation(StartConversation)
    case digits(Digits)
    case delete(Delete)
    case query(Query)
    // Media → gateway.
    case result(Result)
    case event(Event)

    public static let protocolName = "media-control"
    public static let currentVersion = 1
    public static let supportedVersions = 1...1

    /// The first frame on a connection, gateway → media. `resume` names a previous connection whose sessions
    /// should be taken over (within the grace period), with the last `seq` received on it.
    public struct Hello: Codable, Sendable, Equatable {
        public var instance: String
        public var resume: Resume?
        public init(instance: String, resume: Resume? = nil) {
            self.instance = instance
            self.resume = resume
        }
    }

    public struct Resume: Codable, Sendable, Equatable {
        public var connectionId: String
        public var lastSeq: UInt64
        public init(connectionId: String, lastSeq: UInt64) {
            self.connectionId = connectionId
            self.lastSeq = lastSeq
        }
    }

    /// Media → gateway answer to `hello`: the connection id to resume with later, whether the resume worked, and
    /// the last `seq` the media role received (the gateway retransmits what came after).
    public struct Welcome: Codable, Sendable, Equatable {
        public var connectionId: String
        public var resumed: Bool
        public var lastSeq: UInt64
        public var sessions: [CallID]
        public init(connectionId: String, resumed: Bool, lastSeq: UInt64, sessions: [CallID] = []) {
            self.connectionId = connectionId
            self.resumed = resumed
            self.lastSeq = lastSeq
            self.sessions = sessions
        }
    }

    public struct Ping: Codable, Sendable, Equatable {
        public var nonce: UInt64
        public init(nonce: UInt64) { self.nonce = nonce }
    }

    /// `offer` (first INVITE) and `update` (re-INVITE: hold, resume, codec change). `mode` is `terminate` when the
    /// media role consumes the audio (AI screening), `relay` for a bridged B2BUA leg.
    public struct Offer: Codable, Sendable, Equatable {
        public var requestId: String
        public var callId: CallID
        public var fromTag: String
        public var toTag: String?
        public var sdp: String
        public var mode: MediaMode
        /// Flags in the ng style: `record`, `srtp-required`, `transcode`, ...
        public var flags: [String]?
        public init(requestId: String, callId: CallID, fromTag: String, toTag: String? = nil, sdp: String, mode: MediaMode, flags: [String]? = nil) {
            self.requestId = requestId
            self.callId = callId
            self.fromTag = fromTag
            self.toTag = toTag
            self.sdp = sdp
            self.mode = mode
            self.flags = flags
        }
    }

    /// The other leg's SDP answer on a relayed call.
    public struct Answer: Codable, Sendable, Equatable {
        public var requestId: String
        public var callId: CallID
        public var fromTag: String
        public var toTag: String
        public var sdp: String
        public init(requestId: String, callId: CallID, fromTag: String, toTag: String, sdp: String) {
            self.requestId = requestId
            self.callId = callId
            self.fromTag = fromTag
            self.toTag = toTag
            self.sdp = sdp
        }
    }

    public struct Play: Codable, Sendable, Equatable {
        public var requestId: String
        public var callId: CallID
        public var tag: String
        public var playbackId: String
        public var source: PlaybackSource
        public init(requestId: String, callId: CallID, tag: String, playbackId: String, source: PlaybackSource) {
            self.requestId = requestId
            self.callId = callId
            self.tag = tag
            self.playbackId = playbackId
            self.source = source
        }
    }

    public struct StopPlayback: Codable, Sendable, Equatable {
        public var requestId: String
        public var callId: CallID
        public var tag: String
        /// nil stops whatever plays.
        public var playbackId: String?
        public init(requestId: String, callId: CallID, tag: String, playbackId: String? = nil) {
            self.requestId = requestId
            self.callId = callId
            self.tag = tag
            self.playbackId = playbackId
        }
    }

    public struct Record: Codable, Sendable, Equatable {
        public var requestId: String
        public var callId: CallID
        public var enabled: Bool
        public init(requestId: String, callId: CallID, enabled: Bool) {
            self.requestId = requestId
            self.callId = callId
            self.enabled = enabled
        }
    }

    /// Connects the media of two legs (take-over, wanted callers).
    public struct Bridge: Codable, Sendable, Equatable {
        public var requestId: String
        public var callId: CallID
        public var tag: String
        public var peerCallId: CallID
        public var peerTag: String
        public init(requestId: String, callId: CallID, tag: String, peerCallId: CallID, peerTag: String) {
            self.requestId = requestId
            self.callId = callId
            self.tag = tag
            self.peerCallId = peerCallId
            self.peerTag = peerTag
        }
    }

    /// Attach the AI: the media role opens the per-call conversation connection and starts listening.
    public struct StartConversation: Codable, Sendable, Equatable {
        public var requestId: String
        public var callId: CallID
        public var tag: String
        public var start: ConversationMessage.Start
        /// The user's own greeting, said instead of the persona's opening line.
        public var greeting: String?
        public init(requestId: String, callId: CallID, tag: String, start: ConversationMessage.Start, greeting: String? = nil) {
            self.requestId = requestId
            self.callId = callId
            self.tag = tag
            self.start = start
            self.greeting = greeting
        }
    }

    /// Digits the caller pressed that did not come in the RTP (SIP INFO, RFC 6086), for the leg's assistant.
    public struct Digits: Codable, Sendable, Equatable {
        public var requestId: String
        public var callId: CallID
        public var tag: String
        /// 0-9, *, #, A-D, in the order pressed.
        public var digits: String
        public init(requestId: String, callId: CallID, tag: String, digits: String) {
            self.requestId = requestId
            self.callId = callId
            self.tag = tag
            self.digits = digits
        }
    }

    public struct Delete: Codable, Sendable, Equatable {
        public var requestId: String
        public var callId: CallID
        public var reason: ReleaseReason
        public init(requestId: String, callId: CallID, reason: ReleaseReason) {
            self.requestId = requestId
            self.callId = callId
            self.reason = reason
        }
    }

    public struct Query: Codable, Sendable, Equatable {
        public var requestId: String
        public var callId: CallID
        public init(requestId: String, callId: CallID) {
            self.requestId = requestId
            self.callId = callId
        }
    }

    /// The one reply to a command.
    public struct Result: Codable, Sendable, Equatable {
        public enum Outcome: String, Codable, Sendable { case ok, error }
        public var requestId: String
        public var result: Outcome
        public var sdp: String?
        public var error: ErrorDetail?
        public var statistics: MediaStatistics?
        public init(requestId: String, result: Outcome, sdp: String? = nil, error: ErrorDetail? = nil, statistics: MediaStatistics? = nil) {
            self.requestId = requestId
            self.result = result
            self.sdp = sdp
            self.error = error
            self.statistics = statistics
        }

        public static func ok(_ requestId: String, sdp: String? = nil, statistics: MediaStatistics? = nil) -> Result {
            Result(requestId: requestId, result: .ok, sdp: sdp, statistics: statistics)
        }

        public static func failure(_ requestId: String, code: String, message: String) -> Result {
            Result(requestId: requestId, result: .error, error: ErrorDetail(code: code, message: message))
        }
    }

    public struct ErrorDetail: Codable, Sendable, Equatable {
        public var code: String
        public var message: String
        public init(code: String, message: String) {
            self.code = code
            self.message = message
        }
    }

    /// An unsolicited event from a media session.
    public struct Event: Codable, Sendable, Equatable {
        public var callId: CallID
        public var tag: String?
        public var event: MediaSessionEvent
        public init(callId: CallID, tag: String? = nil, event: MediaSessionEvent) {
            self.callId = callId
            self.tag = tag
            self.event = event
        }
    }

    /// The request id of a command (nil for channel frames, results and events).
    public var requestId: String? {
        switch self {
        case .offer(let m), .update(let m): m.requestId
        case .answer(let m): m.requestId
        case .play(let m): m.requestId
        case .stopPlayback(let m): m.requestId
        case .record(let m): m.requestId
        case .bridge(let m): m.requestId
        case .startConversation(let m): m.requestId
        case .digits(let m): m.requestId
        case .delete(let m): m.requestId
        case .query(let m): m.requestId
        case .hello, .welcome, .ping, .pong, .result, .event: nil
        }
    }

    /// The call a command is about (nil for channel frames and results).
    public var callId: CallID? {
        switch self {
        case .offer(let m), .update(let m): m.callId
        case .answer(let m): m.callId
        case .play(let m): m.callId
        case .stopPlayback(let m): m.callId
        case .record(let m): m.callId
        case .bridge(let m): m.callId
        case .startConversation(let m): m.callId
        case .digits(let m): m.callId
        case .delete(let m): m.callId
        case .query(let m): m.callId
        case .event(let m): m.callId
        case .hello, .welcome, .ping, .pong, .result: nil
        }
    }

    public var type: String {
        switch self {
        case .hello: "hello"
        case .welcome: "welcome"
        case .ping: "ping"
        case .pong: "pong"
        case .offer: "offer"
        case .answer: "answer"
        case .update: "update"
        case .play: "play"
        case .stopPlayback: "stop_playback"
        case .record: "record"
        case .bridge: "bridge"
        case .startConversation: "start_conversation"
        case .digits: "digits"
        case .delete: "delete"
        case .query: "query"
        case .result: "result"
        case .event: "event"
        }
    }

    public func encodePayload(to encoder: any Encoder) throws {
        switch self {
        case .hello(let m): try m.encode(to: encoder)
        case .welcome(let m): try m.encode(to: encoder)
        case .ping(let m), .pong(let m): try m.encode(to: encoder)
        case .offer(let m), .update(let m): try m.encode(to: encoder)
        case .answer(let m): try m.encode(to: encoder)
        case .play(let m): try m.encode(to: encoder)
        case .stopPlayback(let m): try m.encode(to: encoder)
        case .record(let m): try m.encode(to: encoder)
        case .bridge(let m): try m.encode(to: encoder)
        case .startConversation(let m): try m.encode(to: encoder)
        case .digits(let m): try m.encode(to: encoder)
        case .delete(let m): try m.encode(to: encoder)
        case .query(let m): try m.encode(to: encoder)
        case .result(let m): try m.encode(to: encoder)
        case .event(let m): try m.encode(to: encoder)
        }
    }

    public static func decodePayload(type: String, from decoder: any Decoder) throws -> MediaControlMessage {
        switch type {
        case "hello": .hello(try decoder.payload(Hello.self))
        case "welcome": .welcome(try decoder.payload(Welcome.self))
        case "ping": .ping(try decoder.payload(Ping.self))
        case "pong": .pong(try decoder.payload(Ping.self))
        case "offer": .offer(try decoder.payload(Offer.self))
        case "answer": .answer(try decoder.payload(Answer.self))
        case "update": .update(try decoder.payload(Offer.self))
        case "play": .play(try decoder.payload(Play.self))
        case "stop_playback": .stopPlayback(try decoder.payload(StopPlayback.self))
        case "record": .record(try decoder.payload(Record.self))
        case "bridge": .bridge(try decoder.payload(Bridge.self))
        case "start_conversation": .startConversation(try decoder.payload(StartConversation.self))
        case "digits": .digits(try decoder.payload(Digits.self))
        case "delete": .delete(try decoder.payload(Delete.self))
        case "query": .query(try decoder.payload(Query.self))
        case "result": .result(try decoder.payload(Result.self))
        case "event": .event(try decoder.payload(Event.self))
        default: throw unknownType(type)
        }
    }
}
