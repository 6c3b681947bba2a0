import AnswerNinjaCore
import Store

/// Where an assistant's reports about one call go in the gateway, which keeps the record: the intent and the turns
/// to the call recorder, the caller's words and each turn to the owner's live view. The same for an assistant in
/// this process and for one in a media role, whose reports arrive as `assistant` events of the control channel.
struct AssistantReporting: Sendable {
    let recorder: CallRecorder?
    let events: LiveEventPublisher?
    let callId: String
    let userId: String?
    let startedAt: Int64

    func apply(_ report: AssistantReport) {
        switch report {
        case .intent(let name, let confidence):
            recorder?.record(.intent(name: name, confidence: confidence), callId: callId, startedAt: startedAt)
        case .heard(let turnId, let text, let atMs):
            publish { .transcriptFinal(.init(callId: $0, userId: $1, atMs: atMs, speaker: .caller, turnId: turnId, text: text)) }
        case .turn(let turn):
            let record = CallTurn(
                turn: turn.number, at: turn.atMs, callerText: turn.callerText, replyText: turn.replyText, intent: turn.intent, confidence: turn.confidence,
                latencies: turn.latencies
            )
            recorder?.record(.turn(record), callId: callId, startedAt: startedAt)
            if !turn.replyText.isEmpty {
                publish { .transcriptFinal(.init(callId: $0, userId: $1, atMs: turn.atMs, speaker: .assistant, turnId: turn.turnId, text: turn.replyText)) }
            }
            let stages = turn.latencies.compactMap { key, ms in LatencyStage(rawValue: key).map { LiveEvent.StageLatency(stage: $0, ms: ms) } }
                .sorted { $0.stage < $1.stage }
            publish {
                .turn(.init(
                    callId: $0, userId: $1, atMs: turn.atMs, turnId: turn.turnId, callerText: turn.callerText, replyText: turn.replyText,
                    intent: turn.intent, confidence: turn.confidence, latency: stages
                ))
            }
        }
    }

    /// An event for the owner's live view, made from the call's id and the user's; none for a call without an owner
    /// or with a Call-ID that is not a protocol call id (as the gateway's own events).
    private func publish(_ event: (CallID, String) -> LiveEvent) {
        guard let events, let userId, let callID = try? CallID(callId) else { return }
        events.publish(event(callID, userId), userId: userId)
    }
}
