import SRTP

/// What our side of a call can do with audio, in its order of preference: the codecs, RFC 4733 events, ptime and the
/// SRTP policy. Offers are answered (and made) from it.
public struct MediaCapabilities: Sendable {
    public enum Codec: String, Sendable, CaseIterable {
        case pcmu, pcma, opus

        public var encodingName: String {
            switch self {
            case .pcmu: "PCMU"
            case .pcma: "PCMA"
            case .opus: "opus"
            }
        }

        /// The RTP clock: 48 kHz for Opus whatever it carries (RFC 7587 §4.1).
        public var clockRate: Int { self == .opus ? 48000 : 8000 }
        /// `opus/48000/2` is always written with two channels, even for mono (RFC 7587 §7).
        public var channels: Int { self == .opus ? 2 : 1 }
        /// RFC 3551's static payload types; Opus is dynamic.
        public var staticPayloadType: Int? {
            switch self {
            case .pcmu: 0
            case .pcma: 8
            case .opus: nil
            }
        }

        init?(_ map: MediaDescription.RTPMap) {
            switch (map.encoding, map.clockRate) {
            case ("pcmu", 8000) where map.channels == 1: self = .pcmu
            case ("pcma", 8000) where map.channels == 1: self = .pcma
            case ("opus", 48000) where map.channels == 2: self = .opus
            default: return nil
            }
        }
    }

    public enum SRTPPolicy: String, Sendable {
        /// RTP/AVP only.
        case off
        /// Take RTP/SAVP with SDES when offered, RTP/AVP otherwise; offer RTP/SAVP.
        case optional
        /// Refuse RTP/AVP.
        case mandatory
    }

    public var codecs: [Codec]
    public var telephoneEvent: Bool
    public var ptime: Int
    public var srtp: SRTPPolicy
    public var suites: [SRTPCryptoSuite]

    public init(
        codecs: [Codec] = [.pcmu, .pcma, .opus], telephoneEvent: Bool = true, ptime: Int = 20, srtp: SRTPPolicy = .optional,
        suites: [SRTPCryptoSuite] = [.aeadAES128GCM, .aeadAES256GCM, .aesCM128HMACSHA1_80, .aesCM128HMACSHA1_32]
    ) {
        self.codecs = codecs
        self.telephoneEvent = telephoneEvent
        self.ptime = ptime
        self.srtp = srtp
        self.suites = suites
    }

    /// The Opus fmtp we write: 10 ms frames at least, in-band FEC on (RFC 7587 §6.1).
    static let opusParameters = "minptime=10;useinbandfec=1"
    /// Events 0-15 are the DTMF keys (RFC 4733 §3.2).
    static let telephoneEventParameters = "0-15"
}

/// The audio stream that offer and answer agreed on: what the media side needs to send and receive.
public struct NegotiatedAudio: Sendable {
    public struct Keys: Sendable {
        public var suite: SRTPCryptoSuite
        public var tag: UInt32
        /// The far end's key: it protects what they send us.
        public var remote: SRTPKeyMaterial
        /// Our key: fresh, never the offer's (RFC 4568 §6.1), it protects what we send.
        public var local: SRTPKeyMaterial
    }

    public var codec: MediaCapabilities.Codec
    public var payloadType: Int
    /// RFC 4733 events at the codec's clock rate, if both sides do them.
    public var telephoneEventPayloadType: Int?
    public var ptime: Int
    /// Our direction: what we may do (sendrecv, sendonly while the far end holds us with recvonly, ...).
    public var direction: MediaDescription.Direction
    public var remoteAddress: String
    public var remotePort: Int
    public var localPort: Int
    public var rtcpMux: Bool
    public var keys: Keys?

    public init(
        codec: MediaCapabilities.Codec, payloadType: Int, telephoneEventPayloadType: Int?, ptime: Int, direction: MediaDescription.Direction,
        remoteAddress: String, remotePort: Int, localPort: Int, rtcpMux: Bool, keys: Keys?
    ) {
        self.codec = codec
        self.payloadType = payloadType
        self.telephoneEventPayloadType = telephoneEventPayloadType
        self.ptime = ptime
        self.direction = direction
        self.remoteAddress = remoteAddress
        self.remotePort = remotePort
        self.localPort = localPort
        self.rtcpMux = rtcpMux
        self.keys = keys
    }

    /// The far end put the call on hold: it will not receive (sendonly, inactive, or the legacy 0.0.0.0).
    public var isHeld: Bool { direction == .recvonly || direction == .inactive }
}
