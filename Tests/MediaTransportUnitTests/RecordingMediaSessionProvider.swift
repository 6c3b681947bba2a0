import AnswerNinjaCore
import MediaTransport
import Synchronization

/// A test double of our own media engine, for the control channel's unit tests only: it records the commands it
/// receives, answers offers with an SDP naming the call, fails calls it is told to fail, and emits events on
/// demand. The real provider is the media engine (issue 3).
final class RecordingMediaSessionProvider: MediaSessionProvider {
    struct Failure: CodedError {
        var codeName: String
        var message: String
    }

    let events: AsyncStream<MediaControlMessage.Event>
    private let sink: AsyncStream<MediaControlMessage.Event>.Continuation
    private let log = Mutex<[String]>([])
    private let failures = Mutex<[String: Failure]>([:])

    init() {
        (events, sink) = AsyncStream.makeStream(of: MediaControlMessage.Event.self)
    }

    /// Every command received, as "type call_id".
    var received: [String] { log.withLock { $0 } }

    func fail(_ type: String, code: String, message: String) {
        failures.withLock { $0[type] = Failure(codeName: code, message: message) }
    }

    func emit(_ event: MediaControlMessage.Event) {
        sink.yield(event)
    }

    private func record(_ type: String, _ callId: CallID) throws {
        log.withLock { $0.append("\(type) \(callId)") }
        if let failure = failures.withLock({ $0[type] }) { throw failure }
    }

    func offer(_ offer: MediaControlMessage.Offer) async throws -> MediaSessionDescription {
        try record("offer", offer.callId)
        return MediaSessionDescription(sdp: "v=0\r\ns=answer for \(offer.callId)\r\n")
    }

    func answer(_ answer: MediaControlMessage.Answer) async throws -> MediaSessionDescription {
        try record("answer", answer.callId)
        return MediaSessionDescription(sdp: "v=0\r\ns=relayed\r\n")
    }

    func update(_ offer: MediaControlMessage.Offer) async throws -> MediaSessionDescription {
        try record("update", offer.callId)
        return MediaSessionDescription(sdp: "v=0\r\ns=updated\r\n")
    }

    func play(_ request: MediaControlMessage.Play) async throws { try record("play", request.callId) }
    func stopPlayback(_ request: MediaControlMessage.StopPlayback) async throws { try record("stop_playback", request.callId) }
    func record(_ request: MediaControlMessage.Record) async throws { try record("record", request.callId) }
    func bridge(_ request: MediaControlMessage.Bridge) async throws { try record("bridge", request.callId) }
    func startConversation(_ request: MediaControlMessage.StartConversation) async throws { try record("start_conversation", request.callId) }
    func digits(_ request: MediaControlMessage.Digits) async throws { try record("digits", request.callId) }
    func release(_ request: MediaControlMessage.Delete) async throws { try record("delete \(request.reason.rawValue)", request.callId) }

    func statistics(_ request: MediaControlMessage.Query) async throws -> MediaStatistics {
        try record("query", request.callId)
        return MediaStatistics(packetsReceived: 42, codec: "PCMU")
    }
}
