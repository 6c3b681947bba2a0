import AnswerNinjaCore
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

    /// `concurrent_calls{role=gateway}` and `media_sessions{mode=terminate}`: calls answered and not yet ended.
    func calls(_ count: Int) {
        telemetry?.gauge(.concurrentCalls, ["role": Role.gateway.rawValue]).set(to: Double(count))
        telemetry?.gauge(.mediaSessions, ["mode": "terminate"]).set(to: Double(count))
    }

    /// `rtp_ports_in_use`.
    func portsInUse(_ count: Int) {
        telemetry?.gauge(.rtpPortsInUse, [:]).set(to: Double(count))
    }

    /// `rtp_packets_total{direction}` and `rtp_packets_dropped_total{reason=unknown_source}` of an ended call.
    func packets(sent: Int, received: Int, droppedFromOtherSources: Int) {
        guard let telemetry else { return }
        telemetry.counter(.rtpPackets, ["direction": "sent"]).increment(by: Int64(sent))
        telemetry.counter(.rtpPackets, ["direction": "received"]).increment(by: Int64(received))
        if droppedFromOtherSources > 0 {
            telemetry.counter(.rtpPacketsDropped, ["reason": "unknown_source"]).increment(by: Int64(droppedFromOtherSources))
        }
    }
}
