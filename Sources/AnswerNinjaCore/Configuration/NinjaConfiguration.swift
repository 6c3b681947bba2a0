/// The one typed configuration every role and test uses, read by `ConfigurationLoader` from the environment
/// (`ANSWER_NINJA_*`) over an optional JSON file over the defaults of `ConfigurationKey.all`.
public struct NinjaConfiguration: Sendable, Equatable {
    public enum StoreBackend: String, Sendable, Equatable { case sqlite, postgres }
    public enum LogFormat: String, Sendable, Equatable { case json, text }

    public struct HTTP: Sendable, Equatable {
        public var host: String
        public var port: Int
    }

    public struct SIP: Sendable, Equatable {
        public var host: String
        public var port: Int
        public var tlsPort: Int?
        /// PEM files of the TLS listener, both set when `tlsPort` is.
        public var tlsCertificate: String?
        public var tlsPrivateKey: String?
        public var publicHost: String?
        public var trunk: Trunk?
        /// `request_uri`, `to`, `p_called_party_id` or `diversion` (the gateway's SIPCallIdentity.CalledNumberSource).
        public var calledNumberSource: String
        /// Trunks and edge proxies besides the registrar: P-Asserted-Identity believed, no per-source flood limit.
        public var trustedSources: [String]
        /// RFC 4028 Min-SE, whole seconds.
        public var minSessionExpires: Int
        /// Shed new INVITEs while the SIP UDP socket's receive queue overflows.
        public var overloadShedding: Bool
        /// Admission limit: calls being answered or in progress.
        public var maxCalls: Int
        /// Registrar accounts of users' devices: user name → password.
        public var deviceAccounts: [String: String]
        /// `sha256`, `md5`: the registrar's challenges, in this order.
        public var deviceDigestAlgorithms: [String]
        /// How long a device may ring before its INVITE is cancelled.
        public var deviceRingTimeout: Duration
        /// `assistant` or `greeting`: what a screened caller gets.
        public var answerMode = "assistant"
        /// A bridged call's cap.
        public var maxBridgedDuration: Duration = .seconds(4 * 3600)
        /// A bridged call this long teaches the user's whitelist.
        public var learnAfter: Duration = .seconds(30)
        /// An IPv6 address to listen on as well; nil: IPv4 only.
        public var ipv6Host: String?
        /// The DNS server for RFC 3263 lookups; nil: resolv.conf.
        public var dnsServer: HostPort?
        /// PEM file of extra CAs for TLS to the trunk.
        public var trunkTLSCA: String?
        /// PEM file of the STIR/SHAKEN trust anchors; nil: Identity headers are not verified.
        public var stirTrustAnchors: String?
        /// Hosts an x5u may name; empty: any but loopback, private and link-local addresses.
        public var stirCertificateHosts: [String]
        /// PEM file of extra CAs for fetching x5u certificates over HTTPS.
        public var stirFetchCA: String?
    }

    /// An IPv4 address and a port.
    public struct HostPort: Sendable, Equatable {
        public var host: String
        public var port: Int
        public init(host: String, port: Int) {
            self.host = host
            self.port = port
        }

        /// `ADDRESS:PORT`, or an address alone for port 53 (DNS's); nil unless the address is dotted IPv4.
        public init?(dnsServer text: String) {
            let parts = text.split(separator: ":", omittingEmptySubsequences: false)
            let octets = parts[0].split(separator: ".", omittingEmptySubsequences: false)
            let port = parts.count == 2 ? Int(parts[1]) : 53
            guard parts.count <= 2, octets.count == 4, octets.allSatisfy({ Int($0).map { (0...255).contains($0) } == true }), let port,
                (1...65535).contains(port)
            else { return nil }
            self.init(host: String(parts[0]), port: port)
        }
    }

    /// A trunk (or SIP edge) the gateway registers with (RFC 3261 §10), with digest credentials.
    public struct Trunk: Sendable, Equatable, CustomStringConvertible {
        public var registrar: String
        public var username: String
        public var password: String
        public var expires: Duration
        /// OPTIONS keep-alive interval; nil when disabled.
        public var keepalive: Duration?
        /// False behind an edge that registers for the gateways: the trunk is only where calls out go.
        public var register: Bool = true
        /// Where every request to the trunk goes (with a Route naming it); nil: straight to the trunk.
        public var outboundProxy: String?

        /// Never shows the password.
        public var description: String { "Trunk(registrar: \(registrar), username: \(username), expires: \(expires), keepalive: \(keepalive.map { "\($0)" } ?? "off"), register: \(register), outbound proxy: \(outboundProxy ?? "none"))" }
    }

    public struct Media: Sendable, Equatable {
        public var rtpPorts: ClosedRange<Int>
        /// `pcmu`, `pcma`, `opus`, in order.
        public var codecs: [String]
        /// SRTP suite names as SDES writes them, in order.
        public var srtpSuites: [String]
        public var rtpPortQuarantine: Duration
        public var publicAddress: String?
        /// The media roles a gateway that runs no media role itself spreads the assistant's calls over; empty: none.
        public var controlURLs: [String]
        /// In `serve`: the assistant's calls go to this process's own media role over the control channel on loopback.
        public var loopback: Bool
        /// Extra CAs trusted for a wss:// control URL, and the client certificate (and key) presented to a media role
        /// that asks for one.
        public var controlCA: String?
        public var controlClientCertificate: String?
        public var controlClientPrivateKey: String?
        /// The media role's control channel again over TLS: its port, PEM files, and the CAs of the client
        /// certificates it requires (none asked when nil).
        public var tlsPort: Int?
        public var tlsCertificate: String?
        public var tlsPrivateKey: String?
        public var tlsClientCA: String?
        public var conversationURL: String
        /// Extra CAs trusted for a wss:// conversation URL.
        public var conversationCA: String?
        /// The client certificate (and key) presented to a conversation role that asks for one.
        public var conversationClientCertificate: String?
        public var conversationClientPrivateKey: String?
        public var controlResumeGrace: Duration
        /// Media event loops; 0: one per core.
        public var threads: Int
        /// SCHED_FIFO priority of the media threads; 0: not raised.
        public var realtimePriority: Int
    }

    /// The conversation role's dialog policy (the original's termination thresholds by default).
    public struct Conversation: Sendable, Equatable {
        public var intentThreshold: Double
        public var maxTurns: Int
        public var maxDuration: Duration
        public var persistenceLimit: Double
        public var frustrationLimit: Double
        public var effectivenessFloor: Double
        public var effectivenessAfter: Int
        public var recordingSilence: Duration
        public var resumeWindow: Duration
        public var llmURL: String?
        public var llmModel: String
        public var llmAPIKey: String?
        public var llmBudget: Duration
        /// The conversation role's TLS listener (wss://): its port (nil: none), certificate chain and key (PEM files).
        public var tlsPort: Int?
        public var tlsCertificate: String?
        public var tlsPrivateKey: String?
        /// CAs of the client certificates the TLS listener requires; nil: none asked.
        public var tlsClientCA: String?
    }

    /// Where speech recognition and synthesis come from (the media role).
    public struct Speech: Sendable, Equatable {
        public var sttProvider: String
        public var ttsProvider: String
        public var providerURL: String?
        public var synthesisURL: String?
        public var providerKey: String?
        public var sttModel: String
        public var ttsModel: String
        public var ttsVoice: String
        public var providerTimeout: Duration
        public var sttDecoders: Int
        /// pocketsphinx fed as the caller speaks (`speech.stt_mode` streaming), else each utterance decoded whole.
        public var sttStreaming: Bool = true
        /// A turn may end on its words before the long silence wait (`speech.endpointing` words).
        public var endpointOnWords: Bool = true
    }

    public struct Store: Sendable, Equatable {
        public var backend: StoreBackend
        public var postgresURL: String?
        public var redisURL: String?
        public var poolSize: Int
        /// Empty: the host name.
        public var instance: String
        public var profileKey: String?
        /// The version of `profileKey` (profiles record the version they are stored under).
        public var profileKeyVersion = 1
        /// The key before `profileKey` (version `profileKeyVersion - 1`), during a rotation.
        public var profileKeyPrevious: String?
    }

    public struct API: Sendable, Equatable {
        public var jwtSecret: String?
        public var bcryptCost: Int
        public var defaultRegion: String
        public var loginLimit: Int
        /// Webhooks may reach loopback and private addresses.
        public var webhookAllowPrivate = false
        /// Extra CAs for webhook HTTPS.
        public var webhookCA: String?
    }

    public struct Log: Sendable, Equatable {
        public var level: String
        public var format: LogFormat
    }

    public var dataDirectory: String
    public var http: HTTP
    public var sip: SIP
    public var media: Media
    public var conversation: Conversation
    public var speech: Speech
    public var store: Store
    public var api: API
    public var log: Log
    public var shutdownGrace: Duration
    /// nil when the demo user is disabled.
    public var demoAlias: NumberAlias?

    /// The SQLite database of the embedded store.
    public var sqlitePath: String { dataDirectory + "/answer-ninja.sqlite" }

    /// The defaults alone: what `serve` runs with when nothing is set.
    public static var defaults: NinjaConfiguration {
        try! ConfigurationLoader(environment: [:]).load()  // the defaults are validated by a test
    }
}
