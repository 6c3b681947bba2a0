/// One metric the code exports: its Prometheus name, type, labels, unit and meaning. `MetricDefinition.catalogue`
/// is the list docs/metrics.md shows and the deploy manifests (HPAs, alerts, dashboards) may use; a test keeps
/// the two equal, and every metric the services register comes from here.
public struct MetricDefinition: Hashable, Sendable, Codable {
    public enum Kind: String, Sendable, Codable { case counter, gauge, histogram }

    public let name: String
    public let kind: Kind
    public let labels: [String]
    /// The unit, spelled as in the name's suffix (`seconds`, `bytes`) or `1` for a count.
    public let unit: String
    public let help: String
    /// The issue that starts to move this metric; nil for those live from the skeleton on.
    public let since: String?

    public init(_ name: String, _ kind: Kind, labels: [String] = [], unit: String = "1", since: String? = nil, _ help: String) {
        self.name = name
        self.kind = kind
        self.labels = labels
        self.unit = unit
        self.help = help
        self.since = since
    }
}

extension MetricDefinition {
    /// Open WebSocket connections, per role. On the media role it counts the per-call conversation connections:
    /// the media HPA scales on it.
    public static let websocketConnections = MetricDefinition(
        "websocket_connections", .gauge, labels: ["role"],
        "Open WebSocket connections of this process by role; on the media role, one per AI call (the autoscaling metric)."
    )
    public static let concurrentCalls = MetricDefinition(
        "concurrent_calls", .gauge, labels: ["role"], since: "SIP",
        "Calls in progress on this process (the gateway HPA's metric)."
    )
    public static let roleUp = MetricDefinition(
        "answer_ninja_role_up", .gauge, labels: ["role"],
        "1 for each role this process runs."
    )
    public static let draining = MetricDefinition(
        "answer_ninja_draining", .gauge, since: "deploy",
        "1 while the process shuts down gracefully: the gateway answers OPTIONS and new INVITEs with 503 and waits for its calls (up to shutdown.grace)."
    )
    public static let ready = MetricDefinition(
        "answer_ninja_ready", .gauge,
        "1 when /ready answers 200 (every readiness check passes), else 0."
    )
    public static let httpRequests = MetricDefinition(
        "http_requests_total", .counter, labels: ["method", "status"],
        "HTTP requests served, by method and status code."
    )
    public static let callsTotal = MetricDefinition(
        "calls_total", .counter, labels: ["decision", "outcome"], since: "pipeline",
        "Calls ended, by screening decision (allow, block, screen) and outcome."
    )
    public static let stageLatency = MetricDefinition(
        "call_stage_latency_seconds", .histogram, labels: ["stage"], unit: "seconds", since: "pipeline",
        "Time from the previous stage to this one per AI turn; stage is vad_end, stt_final, reply, tts_first or rtp_first."
    )
    public static let turnLatency = MetricDefinition(
        "turn_latency_seconds", .histogram, unit: "seconds", since: "pipeline",
        "What the caller waits per AI turn: rtp_first - vad_end."
    )
    public static let rtpSendLateness = MetricDefinition(
        "rtp_send_lateness_seconds", .histogram, unit: "seconds", since: "pipeline",
        "How late each 20 ms RTP send ran after its deadline (the send-interval error; beyond 20 ms a frame is late)."
    )
    public static let sipMessages = MetricDefinition(
        "sip_messages_total", .counter, labels: ["direction", "method"], since: "SIP",
        "SIP requests and responses sent and received; method is the request method or the response's CSeq method."
    )
    public static let sipResponses = MetricDefinition(
        "sip_responses_total", .counter, labels: ["direction", "code"], since: "deploy",
        "SIP responses sent (out; each once, not its retransmissions) and received (in; as they arrive), by status code: the SIP error ratio is the 5xx share of final responses sent."
    )
    public static let sipParseErrors = MetricDefinition(
        "sip_parse_errors_total", .counter, labels: ["transport"], since: "SIP",
        "Malformed SIP messages refused (answered 400 when a response was possible)."
    )
    public static let sipCallsRejected = MetricDefinition(
        "sip_calls_rejected_total", .counter, labels: ["reason"], since: "SIP",
        "INVITEs refused before any media: overload (503, the SIP socket's receive queue is backed up), at_capacity (503, sip.max_calls reached), draining (503, shutting down), no_rtp_port (503, the RTP range is in use or resting), unknown_number (404), blocked (603)."
    )
    public static let sipReceiveDrops = MetricDefinition(
        "sip_udp_receive_drops_total", .counter, labels: [], since: "SIP",
        "Datagrams the kernel dropped because the SIP UDP socket's receive buffer was full (SO_MEMINFO)."
    )
    public static let rtpPackets = MetricDefinition(
        "rtp_packets_total", .counter, labels: ["direction"], since: "media",
        "RTP packets received and sent."
    )
    public static let rtpPacketsDropped = MetricDefinition(
        "rtp_packets_dropped_total", .counter, labels: ["reason"], since: "media",
        "Inbound packets counted and dropped: malformed (not RTP), srtp_auth (failed SRTP authentication or replay), other_payload_type, unknown_source (not the latched source)."
    )
    public static let rtpPacketsLost = MetricDefinition(
        "rtp_packets_lost_total", .counter, since: "deploy",
        "Inbound RTP packets lost (expected from the sequence numbers, never received), counted when each call ends (RFC 3550 A.3)."
    )
    public static let rtpConcealedFrames = MetricDefinition(
        "rtp_concealed_frames_total", .counter, since: "deploy",
        "20 ms frames concealed (G.711 waveform repetition, Opus PLC) because their packet was lost or late, counted when each call ends; not the frames played while the caller's phone paused sending (DTX or its VAD: the next packet came in sequence, after them)."
    )
    public static let rtpJitter = MetricDefinition(
        "rtp_jitter_seconds", .histogram, unit: "seconds", since: "deploy",
        "Interarrival jitter of each call's inbound RTP (RFC 3550 §6.4.1) when it ends."
    )
    public static let mediaSessions = MetricDefinition(
        "media_sessions", .gauge, labels: ["mode"], since: "media",
        "Media sessions open, by mode (terminate, relay)."
    )
    public static let rtpPortsInUse = MetricDefinition(
        "rtp_ports_in_use", .gauge, since: "media",
        "RTP ports allocated from this process's range."
    )
    public static let rtpPortsTotal = MetricDefinition(
        "rtp_ports_total", .gauge, since: "deploy",
        "Calls this process's RTP range can hold: its even ports (its slot's slice, with media.rtp_port_slot; RTCP takes the odd one beside); what rtp_ports_in_use is measured against."
    )
    public static let mediaRoles = MetricDefinition(
        "answer_ninja_media_roles", .gauge, labels: ["state"], since: "pipeline",
        "Media roles a gateway sends the assistant's calls to (state configured; serve's own counts, over loopback) and those its control channel is up to (state connected); both 0 on a gateway that runs its calls' media itself."
    )
    public static let processResidentMemory = MetricDefinition(
        "process_resident_memory_bytes", .gauge, unit: "bytes", since: "deploy",
        "Resident memory of this process (/proc/self/statm), read at each scrape."
    )
    public static let processMemoryLimit = MetricDefinition(
        "process_memory_limit_bytes", .gauge, unit: "bytes", since: "deploy",
        "The memory this process may use: its cgroup's limit (a container's, cgroup v2 memory.max or v1 memory.limit_in_bytes), else the machine's memory; what process_resident_memory_bytes is measured against."
    )
    public static let processCPULimit = MetricDefinition(
        "process_cpu_limit_cores", .gauge, unit: "cores", since: "deploy",
        "The CPU this process may use, in cores: its cgroup's quota over its period (cpu.max, or v1 cfs_quota_us), else the online cores; what the rate of process_cpu_seconds_total is measured against."
    )
    public static let processOpenFDs = MetricDefinition(
        "process_open_fds", .gauge, since: "deploy",
        "Open file descriptors of this process (each call holds RTP and RTCP sockets), read at each scrape."
    )
    public static let processMaxFDs = MetricDefinition(
        "process_max_fds", .gauge, since: "deploy",
        "The soft limit on open file descriptors (RLIMIT_NOFILE), read at each scrape."
    )
    public static let processCPU = MetricDefinition(
        "process_cpu_seconds_total", .counter, unit: "seconds", since: "deploy",
        "User and system CPU time of this process, read at each scrape."
    )
    public static let processStart = MetricDefinition(
        "process_start_time_seconds", .gauge, unit: "seconds", since: "deploy",
        "When this process started, in Unix seconds (a change is a restart)."
    )
    public static let storeJournalPending = MetricDefinition(
        "store_journal_pending", .gauge, since: "platform",
        "Call-record journal entries not yet written to the database."
    )
    public static let cacheFallbacks = MetricDefinition(
        "cache_fallback_total", .counter, labels: ["cache"], since: "platform",
        "Cache operations served by the in-process fallback because Redis failed or timed out."
    )
    public static let webhooks = MetricDefinition(
        "webhook_deliveries_total", .counter, labels: ["outcome"], since: "pipeline",
        "Users' webhooks after their call ended: delivered (2xx), refused (not https, or an internal address), failed (after four tries)."
    )
    public static let conversationStageLatency = MetricDefinition(
        "conversation_stage_seconds", .histogram, labels: ["stage"], unit: "seconds", since: "speech",
        "Conversation role work per caller event: classify (the intent model), dialog (the policy and persona), llm (the optional LLM responder, until it answered or its budget ran out), reply (frame received to reply queued for the socket)."
    )
    public static let conversationTurns = MetricDefinition(
        "conversation_turns_total", .counter, labels: ["action"], since: "speech",
        "Replies the conversation role sent, by action (continue, hangup, transfer, listen)."
    )
    public static let conversationLLM = MetricDefinition(
        "conversation_llm_total", .counter, labels: ["outcome"], since: "speech",
        "LLM responder attempts by outcome: rewritten (its wording was used), over_budget (no first token within conversation.llm_budget; the template was used), failed."
    )
    public static let conversationFallbacks = MetricDefinition(
        "conversation_fallbacks_total", .counter, since: "deploy",
        "AI calls whose conversation ran in the media process because the conversation role was not reached, did not answer in time or failed TLS verification (logged with the reason)."
    )
    public static let conversationProtocolErrors = MetricDefinition(
        "conversation_protocol_errors_total", .counter, labels: ["code"], since: "speech",
        "Frames refused on the conversation WebSocket, by the error code sent back (bad_message, sequence_gap, no_session, ...)."
    )

    /// Every metric, in the order docs/metrics.md lists them.
    public static let catalogue: [MetricDefinition] = [
        .websocketConnections, .concurrentCalls, .roleUp, .draining, .ready, .httpRequests, .callsTotal, .stageLatency, .turnLatency, .rtpSendLateness,
        .sipMessages, .sipResponses, .sipParseErrors, .sipCallsRejected, .sipReceiveDrops, .rtpPackets, .rtpPacketsDropped, .rtpPacketsLost,
        .rtpConcealedFrames, .rtpJitter, .mediaSessions, .rtpPortsInUse, .rtpPortsTotal, .mediaRoles,
        .processResidentMemory, .processMemoryLimit, .processCPULimit, .processOpenFDs, .processMaxFDs, .processCPU, .processStart,
        .storeJournalPending, .cacheFallbacks, .webhooks, .conversationStageLatency, .conversationTurns, .conversationLLM, .conversationProtocolErrors,
        .conversationFallbacks,
    ]
}
