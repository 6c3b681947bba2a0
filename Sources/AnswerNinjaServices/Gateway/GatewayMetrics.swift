import AnswerNinjaCore
import MediaTransport
import SIPMessages
import SIPTransport

/// The gateway's metrics of `MetricDefinition.catalogue` (docs/metrics.md): SIP messages each way, refused messages,
/// calls in progress, and the media its calls hold.
struct GatewayMetrics: Sendable {
    let telemetry: Telemetry?

    /// `sip_messages_total{direction, method}`: a request's method, a response's CSeq method.
    func message(_ message: SIPMessage, direction: String) {
        guard let telemetry else { return }
        let method: String
        switch message {
        case .request(let request): method = request.method
        case .response: method = message.cseq?.method ?? "unknown"
        }
        telemetry.counter(.sipMessages, ["direction": direction, "method": method]).increment()
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
    }
}
