import AnswerNinjaCore
import MediaTransport
import SIPMessages
import SIPTransport

/// The gateway's metrics of `MetricDefinition.catalogue` (docs/metrics.md): SIP messages each way, refused messages,
/// calls in progress, and the media its calls hold.
struct GatewayMetrics: Sendable {
    let telemetry: Telemetry?

    /// `sip_messages_total{direction, method}`: a request's method, a response's CSeq method; every message on the
    /// wire. `sip_responses_total{direction, code}`: a response we sent counts once, not again when it is resent
    /// (`retransmission`), so that a 503 repeated until its ACK does not weigh as several errors.
    func message(_ message: SIPMessage, direction: String, retransmission: Bool = false) {
        guard let telemetry else { return }
        let method: String
        switch message {
        case .request(let request): method = request.method
        case .response: method = message.cseq?.method ?? "unknown"
        }
        telemetry.counter(.sipMessages, ["direction": direction, "method": method]).increment()
        if case .response(let response) = message, !retransmission {
            telemetry.counter(.sipResponses, ["direction": direction, "code": String(response.statusCode)]).increment()
        }
    }

    /// `sip_parse_errors_total{transport}` for a malformed message.
    func transportEvent(_ event: SIPTransportEvent) {
        guard let telemetry, case .malformed(_, let transport, _) = event else { return }
        telemetry.counter(.sipParseErrors, ["transport": transport]).increment()
    }

    /// `sip_calls_rejected_total{reason}`: INVITEs refused before any media, by why.
    func rejected(_ reason: String) {
        telemetry?.counter(.sipCallsRejected, ["reason": reason]).increment()
    }

    /// `sip_udp_receive_drops_total`: datagrams the kernel dropped for want of buffer.
    func receiveDrops(_ count: Int) {
        telemetry?.counter(.sipReceiveDrops, [:]).increment(by: Int64(count))
    }

    /// `concurrent_calls{role=gateway}` and `media_sessions{mode=terminate}`: calls answered and not yet ended.
    func calls(_ count: Int) {
        telemetry?.gauge(.concurrentCalls, ["role": Role.gateway.rawValue]).set(to: Double(count))
        telemetry?.gauge(.mediaSessions, ["mode": "terminate"]).set(to: Double(count))
    }

    /// `rtp_ports_in_use`.
    func portsInUse(_ count: Int) {
        telemetry?.gauge(.rtpPortsInUse, [:]).set(to: Double(count))
    }

    /// `rtp_ports_total`: the calls the pool's range (or slice) can hold, counted as `rtp_ports_in_use` counts them.
    func portCapacity(_ pool: RTPPortPool) {
        telemetry?.gauge(.rtpPortsTotal, [:]).set(to: Double(pool.capacity))
    }

    /// `calls_total{decision, outcome}` for a caller's call that ended (answered or not).
    func callEnded(decision: String, outcome: String) {
        telemetry?.counter(.callsTotal, ["decision": decision, "outcome": outcome]).increment()
    }

    /// `call_stage_latency_seconds{stage}` for each stage of an AI turn (milliseconds, each from the one before), and
    /// `turn_latency_seconds`, their sum: what the caller waited, from the end of their speech to our first packet.
    func turn(_ latencies: [String: Double]) {
        guard let telemetry, !latencies.isEmpty else { return }
        for (stage, ms) in latencies {
            telemetry.histogram(.stageLatency, ["stage": stage]).record(.microseconds(Int64(ms * 1000)))
        }
        if latencies.count == 4 {
            telemetry.histogram(.turnLatency, [:]).record(.microseconds(Int64(latencies.values.reduce(0, +) * 1000)))
        }
    }

    static let jitterBuckets: [Duration] = [
        .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(20), .milliseconds(30), .milliseconds(50),
        .milliseconds(100), .milliseconds(200),
    ]

    static let latenessBuckets: [Duration] = [
        .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(20), .milliseconds(50), .milliseconds(100),
    ]

    /// Feeds `rtp_send_lateness_seconds` with each 20 ms tick of `session`.
    func watchPacing(_ session: RTPCallSession) {
        guard let telemetry else { return }
        let histogram = telemetry.histogram(.rtpSendLateness, [:], buckets: Self.latenessBuckets)
        session.observeLateness { histogram.record($0) }
    }

    /// `rtp_packets_total{direction}` and `rtp_packets_dropped_total{reason}` of an ended call.
    func packets(_ report: RTPCallSession.Report) {
        guard let telemetry else { return }
        telemetry.counter(.rtpPackets, ["direction": "sent"]).increment(by: Int64(report.packetsSent))
        telemetry.counter(.rtpPackets, ["direction": "received"]).increment(by: Int64(report.packetsReceived))
        let drops = [
            ("unknown_source", report.droppedFromOtherSources), ("malformed", report.malformed), ("srtp_auth", report.unauthenticated),
            ("other_payload_type", report.otherPayloadType),
        ]
        for (reason, count) in drops where count > 0 {
            telemetry.counter(.rtpPacketsDropped, ["reason": reason]).increment(by: Int64(count))
        }
        telemetry.counter(.rtpPacketsLost, [:]).increment(by: Int64(report.packetsLost))
        telemetry.counter(.rtpConcealedFrames, [:]).increment(by: Int64(report.concealedFrames))
        if report.packetsReceived > 0 {
            telemetry.histogram(.rtpJitter, [:], buckets: Self.jitterBuckets).record(.microseconds(Int64(report.jitterSeconds * 1_000_000)))
        }
    }
}
