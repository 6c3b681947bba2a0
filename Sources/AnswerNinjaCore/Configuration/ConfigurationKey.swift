/// One setting of Answer Ninja: its dotted key (`http.port`), the environment variable that sets it
/// (`ANSWER_NINJA_HTTP_PORT`), its default and what it does. `ConfigurationKey.all` is the catalogue that
/// docs/configuration.md lists; a test keeps the two equal.
public struct ConfigurationKey: Hashable, Sendable {
    public enum Kind: String, Sendable {
        case string, integer, port, boolean, path, url, duration, enumeration
        /// A decimal number such as 0.5.
        case number
        /// A password or key: read like a string, never printed.
        case secret
    }

    public let key: String
    public let kind: Kind
    /// A secret, or a URL that holds a password: it may also come from the file `ANSWER_NINJA_<KEY>_FILE` names.
    public var readsFromFile: Bool { kind == .secret || key == "store.postgres_url" || key == "cache.redis_url" }
    /// The default as it would be written in a file or the environment; nil means unset (optional setting).
    public let defaultValue: String?
    public let summary: String
    /// For `.enumeration`: the accepted values.
    public let allowed: [String]

    public init(_ key: String, _ kind: Kind, default defaultValue: String?, allowed: [String] = [], _ summary: String) {
        self.key = key
        self.kind = kind
        self.defaultValue = defaultValue
        self.allowed = allowed
        self.summary = summary
    }

    /// `ANSWER_NINJA_` + the key upper-cased with dots as underscores.
    public var environmentName: String {
        ConfigurationLoader.environmentPrefix + key.uppercased().replacingDots()
    }
}

extension ConfigurationKey {
    public static let dataDirectory = ConfigurationKey("data_dir", .path, default: "./data", "Directory for the embedded database, journal and recordings; created on first run.")
    public static let httpHost = ConfigurationKey("http.host", .string, default: "0.0.0.0", "Address the HTTP server (health, metrics, API, dashboard, internal WebSockets) binds.")
    public static let httpPort = ConfigurationKey("http.port", .port, default: "8080", "Port of the HTTP server; 0 picks a free port (printed at start).")
    public static let sipHost = ConfigurationKey("sip.host", .string, default: "0.0.0.0", "Address the SIP listeners bind.")
    public static let sipPort = ConfigurationKey("sip.port", .port, default: "5060", "SIP port for UDP and TCP.")
    public static let sipTLSPort = ConfigurationKey("sip.tls_port", .port, default: "0", "SIP over TLS port; 0 disables TLS.")
    public static let sipTLSCertificate = ConfigurationKey("sip.tls_certificate", .path, default: nil, "PEM certificate chain of the SIP over TLS listener; required when sip.tls_port is set.")
    public static let sipTLSPrivateKey = ConfigurationKey("sip.tls_private_key", .path, default: nil, "PEM private key of that certificate.")
    public static let sipPublicHost = ConfigurationKey("sip.public_host", .string, default: nil, "Host name or address advertised in Via/Contact/Record-Route when behind NAT or a load balancer.")
    public static let trunkRegistrar = ConfigurationKey("sip.trunk_registrar", .string, default: nil, "SIP URI of a trunk or edge to register with (sip:host:port, an IP address for now); unset means no registration.")
    public static let trunkUsername = ConfigurationKey("sip.trunk_username", .string, default: nil, "User name of the trunk registration (also the address-of-record user).")
    public static let trunkPassword = ConfigurationKey("sip.trunk_password", .secret, default: nil, "Digest password of the trunk registration; never printed.")
    public static let trunkExpires = ConfigurationKey("sip.trunk_expires", .duration, default: "300s", "Registration lifetime asked of the trunk; refreshed at 80 % of what it grants.")
    public static let trunkKeepalive = ConfigurationKey("sip.trunk_keepalive", .duration, default: "30s", "Interval of OPTIONS keep-alives to the trunk (its state is logged when it changes); 0s disables them.")
    public static let trunkRegister = ConfigurationKey("sip.trunk_register", .enumeration, default: "on", allowed: ["on", "off"], "on: register with sip.trunk_registrar. off behind an edge that registers for the gateways (deploy/kamailio's uac_reg): the trunk is then only where calls out go, its challenges answered with sip.trunk_username and sip.trunk_password.")
    public static let outboundProxy = ConfigurationKey("sip.outbound_proxy", .string, default: nil, "SIP URI (sip:host[:port][;transport=tcp]) of the proxy every request to the trunk goes through (REGISTER, keep-alives, calls out), with a Route naming it (RFC 3261 §8.1.2): an edge such as deploy/kamailio. Unset: straight to the trunk.")
    public static let calledNumberSource = ConfigurationKey("sip.called_number_source", .enumeration, default: "request_uri", allowed: ["request_uri", "to", "p_called_party_id", "diversion"], "Where the trunk puts the dialled number (the user's DID): the Request-URI, To, P-Called-Party-ID, or the number the call was forwarded from (Diversion, else History-Info).")
    public static let trustedSources = ConfigurationKey("sip.trusted_sources", .string, default: nil, "Comma-separated IP addresses and CIDR prefixes (10.42.0.0/16: the pod network of a Kubernetes edge) of trunks and edge proxies: their P-Asserted-Identity and verstat are believed (RFC 3325; from anyone else they are ignored) and they are not held to the per-source flood limit. The trunk registrar's addresses are always trusted (with sip.outbound_proxy, the proxy's: the trunk's requests come by it).")
    public static let minSessionExpires = ConfigurationKey("sip.min_session_expires", .duration, default: "90s", "Smallest session-timer interval accepted (RFC 4028 Min-SE); shorter requests get 422. RFC 4028 forbids less than 90s on the wire; lower values exist for tests.")
    public static let deviceAccounts = ConfigurationKey("sip.device_accounts", .secret, default: nil, "Users' softphones that may REGISTER with the gateway, as user:password pairs separated by commas (digest, SHA-256 or MD5); never printed. Unset: no registrar.")
    public static let deviceDigestAlgorithms = ConfigurationKey("sip.device_digest_algorithms", .string, default: "sha256,md5", "Digest algorithms the registrar challenges devices with, most preferred first (RFC 8760: a device answers the first it supports; some take the first whatever it is).")
    public static let sipIPv6Host = ConfigurationKey("sip.ipv6_host", .string, default: nil, "An IPv6 address of this host (such as ::1 or 2001:db8::5, not ::) on which SIP also listens, over UDP, TCP and TLS on the same ports, and from which IPv6 callers get their RTP and SDP. Unset: IPv4 only.")
    public static let dnsServer = ConfigurationKey("sip.dns_server", .string, default: nil, "IPv4 HOST:PORT of the DNS server for RFC 3263 lookups of the trunk (NAPTR, SRV, A/AAAA). Unset: /etc/resolv.conf's servers.")
    public static let trunkTLSCA = ConfigurationKey("sip.trunk_tls_ca", .path, default: nil, "PEM file of extra CAs trusted for TLS connections to the trunk (whose certificate must name the registrar's domain, RFC 5922); the system's roots are always trusted.")
    public static let stirTrustAnchors = ConfigurationKey("sip.stir_trust_anchors", .path, default: nil, "PEM file of the STIR/SHAKEN trust anchors (the STI-PA's list of CA certificates). When set, an INVITE's Identity header (RFC 8224/8588) is verified: the PASSporT's ES256 signature with the certificate fetched from its x5u, the chain to these anchors, freshness and both numbers. Unset: Identity headers are not verified. A failed verification is a hint for screening, never a reason to trust the caller.")
    public static let stirCertificateHosts = ConfigurationKey("sip.stir_certificate_hosts", .string, default: nil, "Comma-separated hosts an x5u may name (the STI certificate repositories you accept). Unset: any host but an address that is loopback, private or link-local, so that a caller cannot make the gateway fetch from inside its network.")
    public static let stirFetchCA = ConfigurationKey("sip.stir_fetch_ca", .path, default: nil, "PEM file of extra CAs trusted for the HTTPS fetch of x5u certificates (a private certificate repository); the system's roots are always trusted.")
    public static let deviceRingTimeout = ConfigurationKey("sip.device_ring_timeout", .duration, default: "30s", "How long a user's device may ring before the gateway cancels its INVITE.")
    public static let answerMode = ConfigurationKey("sip.answer_mode", .enumeration, default: "assistant", allowed: ["assistant", "greeting"], "What a screened caller gets: the assistant (speech recognition, the conversation engine, synthesis), or a fixed greeting and a recording (a diagnostic mode: a known signal for media tests).")
    public static let maxBridgedDuration = ConfigurationKey("sip.max_bridged_duration", .duration, default: "4h", "The longest a wanted caller bridged to the user's device may talk before the gateway hangs up (a drain waits for bridged calls up to this).")
    public static let learnAfter = ConfigurationKey("sip.learn_after", .duration, default: "30s", "A bridged call the user talks in for this long puts the caller on the user's whitelist as a learned entry.")
    public static let overloadShedding = ConfigurationKey("sip.overload_shedding", .enumeration, default: "on", allowed: ["on", "off"], "on: while the kernel drops SIP datagrams for want of buffer (the SIP UDP socket's receive queue more than half full), new INVITEs get 503 with Retry-After until it drains (docs/sip.md).")
    public static let maxCalls = ConfigurationKey("sip.max_calls", .integer, default: "1000", "Calls this gateway takes at once (being answered or in progress); a new INVITE beyond gets 503 with Retry-After, so that overload sheds calls instead of collapsing.")
    public static let rtpPortMin = ConfigurationKey("media.rtp_port_min", .port, default: "20000", "Lowest UDP port of the RTP range (even; RTP on even, RTCP on odd or muxed).")
    public static let rtpPortMax = ConfigurationKey("media.rtp_port_max", .port, default: "29999", "Highest UDP port of the RTP range.")
    public static let rtpPortSlot = ConfigurationKey("media.rtp_port_slot", .integer, default: "-1", "This process's slice of the RTP range: ports rtp_port_min + slot × rtp_port_slot_size onwards, rtp_port_slot_size of them (a StatefulSet's pod index, so that host-networked pods on one node never share a port); -1: the whole range.")
    public static let rtpPortSlotSize = ConfigurationKey("media.rtp_port_slot_size", .integer, default: "1000", "Ports in each slice of the RTP range (even), with media.rtp_port_slot.")
    public static let mediaCodecs = ConfigurationKey("media.codecs", .string, default: "pcmu,pcma,opus", "Codecs the gateway accepts and offers (pcmu, pcma, opus), most preferred first in its own offers; an answer takes the caller's first among them.")
    public static let srtpSuites = ConfigurationKey("media.srtp_suites", .string, default: "AEAD_AES_128_GCM,AEAD_AES_256_GCM,AES_CM_128_HMAC_SHA1_80,AES_CM_128_HMAC_SHA1_32", "SDES SRTP suites the gateway accepts and offers (RFC 4568, RFC 7714), most preferred first in its own offers; an answer takes the caller's first crypto line among them.")
    public static let rtpPortQuarantine = ConfigurationKey("media.rtp_port_quarantine", .duration, default: "30s", "How long a released RTP port rests before another call gets it (late packets of the old call never reach the new one).")
    public static let mediaPublicAddress = ConfigurationKey("media.public_address", .string, default: nil, "Address written into SDP c= lines; defaults to the address the media role binds.")
    public static let mediaControlURL = ConfigurationKey("media.control_url", .url, default: nil, "Where a gateway that does not run the media role itself reaches it (ws:// or wss://, path /internal/media-control): the calls the assistant screens then have their RTP, speech and assistant there. Several, separated by commas: each call goes to the reachable one holding the fewest of this gateway's calls. Unset: the gateway runs its calls' media itself.")
    public static let mediaControlCA = ConfigurationKey("media.control_tls_ca", .path, default: nil, "PEM file of extra CAs the gateway trusts for a wss:// media.control_url (whose certificate must name its host); the system's roots are always trusted.")
    public static let mediaControlClientCertificate = ConfigurationKey("media.control_tls_client_certificate", .path, default: nil, "PEM certificate chain the gateway presents to a wss:// media.control_url that asks for one.")
    public static let mediaControlClientPrivateKey = ConfigurationKey("media.control_tls_client_private_key", .path, default: nil, "PEM private key of that client certificate.")
    public static let mediaTLSPort = ConfigurationKey("media.tls_port", .port, default: "0", "The media role also serves its control channel over TLS (wss://) on this port, for gateways whose link no mesh encrypts; 0: not.")
    public static let mediaTLSCertificate = ConfigurationKey("media.tls_certificate", .path, default: nil, "PEM certificate chain of that TLS listener; required when media.tls_port is set.")
    public static let mediaTLSPrivateKey = ConfigurationKey("media.tls_private_key", .path, default: nil, "PEM private key of that certificate.")
    public static let mediaTLSClientCA = ConfigurationKey("media.tls_client_ca", .path, default: nil, "PEM CAs whose client certificates the media role's TLS listener requires (a gateway without one is refused); unset: no client certificate asked.")
    public static let conversationURL = ConfigurationKey("conversation.url", .url, default: "ws://127.0.0.1:8080/internal/conversation", "Where the media role opens one WebSocket per AI call.")
    public static let conversationCA = ConfigurationKey("conversation.tls_ca", .path, default: nil, "PEM file of extra CAs the media role trusts for a wss:// conversation.url (whose certificate must name its host); the system's roots are always trusted.")
    public static let conversationTLSPort = ConfigurationKey("conversation.tls_port", .port, default: "0", "The conversation role also serves its WebSocket over TLS (wss://) on this port, for media roles whose link no mesh encrypts; 0: not.")
    public static let conversationTLSCertificate = ConfigurationKey("conversation.tls_certificate", .path, default: nil, "PEM certificate chain of that TLS listener; required when conversation.tls_port is set.")
    public static let conversationTLSPrivateKey = ConfigurationKey("conversation.tls_private_key", .path, default: nil, "PEM private key of that certificate.")
    public static let conversationTLSClientCA = ConfigurationKey("conversation.tls_client_ca", .path, default: nil, "PEM CAs whose client certificates the conversation role's TLS listener requires (a media role without one is refused); unset: no client certificate asked.")
    public static let conversationClientCertificate = ConfigurationKey("conversation.tls_client_certificate", .path, default: nil, "PEM certificate chain the media role presents to a wss:// conversation.url that asks for one.")
    public static let conversationClientPrivateKey = ConfigurationKey("conversation.tls_client_private_key", .path, default: nil, "PEM private key of that client certificate.")
    public static let mediaLoopback = ConfigurationKey("media.loopback", .enumeration, default: "on", allowed: ["on", "off"], "on: in a process that runs both the gateway and the media role (serve), the calls the assistant screens go to this process's own media role over the control channel's WebSocket on loopback (guarded by a token only the process knows), as they would to a media role apart; off: the gateway runs their RTP sessions itself. A media.control_url set takes precedence.")
    public static let controlResumeGrace = ConfigurationKey("media.control_resume_grace", .duration, default: "10s", "How long a media session outlives a dropped control connection before it is released.")
    public static let mediaThreads = ConfigurationKey("media.threads", .integer, default: "0", "Threads of the media event loops (every call's RTP sockets, 20 ms clocks and relay, apart from SIP and HTTP); 0: one per core.")
    public static let mediaRealtimePriority = ConfigurationKey("media.realtime_priority", .integer, default: "10", "SCHED_FIFO priority (1-99) of the media threads, so that speech recognition and synthesis at normal priority never delay a 20 ms frame; needs CAP_SYS_NICE (root, or the binary's permitted file capability in a container given SYS_NICE: deploy/docker/Dockerfile), else the threads stay at normal priority and a warning says so. 0: not raised.")
    public static let intentThreshold = ConfigurationKey("conversation.intent_threshold", .number, default: "0.5", "Below this calibrated probability the caller's intent is unknown (never treated as spam). 0 to 1.")
    public static let maxTurns = ConfigurationKey("conversation.max_turns", .integer, default: "8", "A spam call ends, politely, after this many caller turns (the original's 8).")
    public static let maxCallDuration = ConfigurationKey("conversation.max_duration", .duration, default: "180s", "Any AI call ends at this length, spam or not (the safety net; the original's 180 s).")
    public static let persistenceLimit = ConfigurationKey("conversation.persistence_limit", .number, default: "0.8", "A spam call ends when the caller's persistence score reaches this (0 to 1).")
    public static let frustrationLimit = ConfigurationKey("conversation.frustration_limit", .number, default: "0.9", "A spam call ends when the caller's frustration score reaches this (0 to 1).")
    public static let effectivenessFloor = ConfigurationKey("conversation.effectiveness_floor", .number, default: "0.3", "A spam call ends when the AI's effectiveness score is below this after conversation.effectiveness_after turns.")
    public static let effectivenessAfter = ConfigurationKey("conversation.effectiveness_after", .integer, default: "4", "Turns after which a low effectiveness score ends a spam call.")
    public static let recordingSilence = ConfigurationKey("conversation.recording_silence", .duration, default: "8s", "A recorded spam message that has gone quiet this long is over.")
    public static let llmURL = ConfigurationKey("conversation.llm_url", .url, default: nil, "Base URL of an OpenAI-compatible chat completions API (OpenAI, Azure OpenAI, vLLM, llama.cpp server, Ollama) that words the replies; unset: the templates alone.")
    public static let llmModel = ConfigurationKey("conversation.llm_model", .string, default: "gpt-4o-mini", "Model name sent to the chat completions API.")
    public static let llmAPIKey = ConfigurationKey("conversation.llm_api_key", .secret, default: nil, "API key of the chat completions API (sent as a Bearer token and as api-key).")
    public static let llmBudget = ConfigurationKey("conversation.llm_budget", .duration, default: "600ms", "The LLM's first token must arrive within this, or the template reply is said.")
    public static let conversationResumeWindow = ConfigurationKey("conversation.resume_window", .duration, default: "30s", "How long a conversation outlives a dropped media connection, waiting for resume.")
    public static let sttProvider = ConfigurationKey("speech.stt_provider", .enumeration, default: "embedded", allowed: ["embedded", "openai", "azure"], "Speech recognition: embedded pocketsphinx, or a remote provider (with pocketsphinx as its fallback). The production path for PSTN calls is a provider (docs/conversation.md).")
    public static let ttsProvider = ConfigurationKey("speech.tts_provider", .enumeration, default: "embedded", allowed: ["embedded", "openai", "azure"], "Speech synthesis: embedded espeak-ng, or a remote provider (with espeak-ng as its fallback).")
    public static let speechProviderURL = ConfigurationKey("speech.provider_url", .url, default: nil, "Base URL of the remote speech provider: an OpenAI-compatible server (https://api.openai.com, a whisper server) or Azure's regional endpoint base.")
    public static let speechSynthesisURL = ConfigurationKey("speech.synthesis_url", .url, default: nil, "Base URL for synthesis when it differs from speech.provider_url (Azure: https://REGION.tts.speech.microsoft.com).")
    public static let speechProviderKey = ConfigurationKey("speech.provider_key", .secret, default: nil, "API key of the speech provider (OpenAI: Bearer token; Azure: Ocp-Apim-Subscription-Key).")
    public static let sttModel = ConfigurationKey("speech.stt_model", .string, default: "whisper-1", "Recognition model name for an OpenAI-compatible provider.")
    public static let ttsModel = ConfigurationKey("speech.tts_model", .string, default: "tts-1", "Synthesis model name for an OpenAI-compatible provider.")
    public static let ttsVoice = ConfigurationKey("speech.tts_voice", .string, default: "alloy", "Synthesis voice of the provider (Azure: a voice name such as en-US-JennyNeural).")
    public static let speechProviderTimeout = ConfigurationKey("speech.provider_timeout", .duration, default: "5s", "Per request to the speech provider; a timeout is retried once, then the embedded engine answers.")
    public static let sttDecoders = ConfigurationKey("speech.stt_decoders", .integer, default: "4", "pocketsphinx decoders, loaded with the first AI call (about 40 MB each): how many utterances are decoded at once, shared by every call (a decode waits its turn when all are busy).")
    public static let sttMode = ConfigurationKey("speech.stt_mode", .enumeration, default: "streaming", allowed: ["utterance", "streaming"], "How pocketsphinx decodes: streaming (fed as the caller speaks, live CMN: only the final search is left at the end point, and the endpointer can read the words so far) or utterance (each utterance whole at its end point, batch CMN; as accurate within the measurement's noise, docs/benchmarks.md).")
    public static let endpointing = ConfigurationKey("speech.endpointing", .enumeration, default: "words", allowed: ["words", "silence"], "How the end of a caller's turn is found: silence (a short wait when the speech fades, else a long one) or words (the same, but when the short wait runs out on speech that did not fade, the recogniser's hypothesis so far is read, and a turn that does not stop on a word like \"the\" or \"and\" ends then instead of at the long wait; needs a recogniser with a first pass: stt_mode streaming).")
    public static let storeBackend = ConfigurationKey("store.backend", .enumeration, default: "sqlite", allowed: ["sqlite", "postgres"], "Database: the embedded SQLite file in data_dir, or PostgreSQL.")
    public static let postgresURL = ConfigurationKey("store.postgres_url", .url, default: nil, "libpq connection URI, required when store.backend is postgres.")
    public static let redisURL = ConfigurationKey("cache.redis_url", .url, default: nil, "redis://host:port/db for shared caches and live events; unset means the in-process cache.")
    public static let storePoolSize = ConfigurationKey("store.pool_size", .integer, default: "4", "PostgreSQL connections (each with a thread of its own while it works).")
    public static let storeInstance = ConfigurationKey("store.instance", .string, default: nil, "This process's name in call records (its calls are marked interrupted if it dies); empty means the host name.")
    public static let profileKey = ConfigurationKey("store.profile_key", .secret, default: nil, "At least 32 bytes, hex: the HMAC key caller profiles are stored under. Unset: made once and kept in data_dir/secrets/profile.key.")
    public static let profileKeyVersion = ConfigurationKey("store.profile_key_version", .integer, default: "1", "The version of store.profile_key: raise it by one when the key is replaced (key rotation, docs/store.md).")
    public static let profileKeyPrevious = ConfigurationKey("store.profile_key_previous", .secret, default: nil, "During a key rotation, the key before store.profile_key (hex): a profile still under it moves to the new key when its caller is next seen.")
    public static let jwtSecret = ConfigurationKey("api.jwt_secret", .secret, default: nil, "At least 32 bytes, hex: signs access tokens (HS256). Unset: made once and kept in data_dir/secrets/jwt.key.")
    public static let bcryptCost = ConfigurationKey("api.bcrypt_cost", .integer, default: "12", "bcrypt cost of stored passwords (each step doubles the work).")
    public static let defaultRegion = ConfigurationKey("api.default_region", .string, default: "US", "Region (ISO 3166) for numbers written without a country code, unless a user sets their own.")
    public static let loginLimit = ConfigurationKey("api.login_limit", .integer, default: "5", "Failed sign-ins per account and per client address per minute before 429.")
    public static let webhookAllowPrivate = ConfigurationKey("api.webhook_allow_private", .enumeration, default: "off", allowed: ["on", "off"], "on: users' webhooks may point at loopback, private and link-local addresses (off: refused, so that a webhook cannot reach inside the network).")
    public static let webhookCA = ConfigurationKey("api.webhook_ca", .path, default: nil, "PEM file of extra CAs trusted for webhook HTTPS (a private receiver); the system's roots are always trusted.")
    public static let logLevel = ConfigurationKey("log.level", .enumeration, default: "info", allowed: ["trace", "debug", "info", "notice", "warning", "error", "critical"], "Lowest level logged.")
    public static let logFormat = ConfigurationKey("log.format", .enumeration, default: "json", allowed: ["json", "text"], "JSON lines (one object per line, with call_id) or text for a terminal.")
    public static let shutdownGrace = ConfigurationKey("shutdown.grace", .duration, default: "30s", "How long graceful shutdown waits for the calls in progress to end (meanwhile the gateway takes no new ones: /ready, OPTIONS and INVITEs answer 503) before it hangs up the rest.")
    public static let demoAlias = ConfigurationKey("demo.alias", .string, default: "demo", "Alias of the demo user created on first run; empty disables it.")

    /// Every setting, in the order docs/configuration.md lists them.
    public static let all: [ConfigurationKey] = [
        .dataDirectory, .httpHost, .httpPort, .sipHost, .sipPort, .sipTLSPort, .sipTLSCertificate, .sipTLSPrivateKey, .sipPublicHost,
        .trunkRegistrar, .trunkUsername, .trunkPassword, .trunkExpires, .trunkKeepalive, .trunkRegister, .outboundProxy, .calledNumberSource, .trustedSources, .minSessionExpires, .overloadShedding, .maxCalls, .deviceAccounts, .deviceDigestAlgorithms, .deviceRingTimeout, .answerMode, .maxBridgedDuration, .learnAfter,
        .sipIPv6Host, .dnsServer, .trunkTLSCA, .stirTrustAnchors, .stirCertificateHosts, .stirFetchCA,
        .rtpPortMin, .rtpPortMax, .rtpPortSlot, .rtpPortSlotSize, .mediaCodecs, .srtpSuites, .rtpPortQuarantine, .mediaPublicAddress, .mediaControlURL, .mediaLoopback, .mediaControlCA, .mediaControlClientCertificate, .mediaControlClientPrivateKey, .mediaTLSPort, .mediaTLSCertificate, .mediaTLSPrivateKey, .mediaTLSClientCA, .conversationURL, .conversationCA, .conversationTLSPort, .conversationTLSCertificate, .conversationTLSPrivateKey, .conversationTLSClientCA, .conversationClientCertificate, .conversationClientPrivateKey, .controlResumeGrace, .mediaThreads, .mediaRealtimePriority,
        .intentThreshold, .maxTurns, .maxCallDuration, .persistenceLimit, .frustrationLimit, .effectivenessFloor, .effectivenessAfter, .recordingSilence,
        .llmURL, .llmModel, .llmAPIKey, .llmBudget, .conversationResumeWindow,
        .sttProvider, .ttsProvider, .speechProviderURL, .speechSynthesisURL, .speechProviderKey, .sttModel, .ttsModel, .ttsVoice, .speechProviderTimeout, .sttDecoders, .sttMode, .endpointing,
        .storeBackend, .postgresURL, .redisURL, .storePoolSize, .storeInstance, .profileKey, .profileKeyVersion, .profileKeyPrevious, .jwtSecret, .bcryptCost, .defaultRegion, .loginLimit, .webhookAllowPrivate, .webhookCA, .logLevel, .logFormat, .shutdownGrace, .demoAlias,
    ]
}

extension String {
    fileprivate func replacingDots() -> String {
        String(map { $0 == "." ? "_" : $0 })
    }
}
