import AnswerNinjaCore
import Foundation
import Testing

@Suite struct ProtocolTests {
    static let callID = try! CallID("a84b4c76e66710")

    static let controlMessages: [MediaControlMessage] = [
        .hello(.init(instance: "gw", resume: .init(connectionId: "c1-gw", lastSeq: 3))),
        .welcome(.init(connectionId: "c1-gw", resumed: true, lastSeq: 2, sessions: [callID])),
        .ping(.init(nonce: 1)), .pong(.init(nonce: 1)),
        .offer(.init(requestId: "r1", callId: callID, fromTag: "f", sdp: "v=0\r\n", mode: .terminate, flags: ["record"])),
        .answer(.init(requestId: "r2", callId: callID, fromTag: "f", toTag: "t", sdp: "v=0\r\n")),
        .update(.init(requestId: "r3", callId: callID, fromTag: "f", toTag: "t", sdp: "v=0\r\n", mode: .relay)),
        .play(.init(requestId: "r4", callId: callID, tag: "f", playbackId: "p", source: .text("hi", voice: nil))),
        .play(.init(requestId: "r4b", callId: callID, tag: "f", playbackId: "p", source: .silence(milliseconds: 200))),
        .play(.init(requestId: "r4c", callId: callID, tag: "f", playbackId: "p", source: .file("prompts/bye.wav"))),
        .stopPlayback(.init(requestId: "r5", callId: callID, tag: "f")),
        .record(.init(requestId: "r6", callId: callID, enabled: false)),
        .bridge(.init(requestId: "r7", callId: callID, tag: "f", peerCallId: try! CallID("other"), peerTag: "x")),
        .startConversation(.init(requestId: "r8", callId: callID, tag: "f", start: .init(callId: callID, userId: "u", caller: .init(number: nil), persona: "polite"))),
        .digits(.init(requestId: "r8b", callId: callID, tag: "f", digits: "1#")),
        .delete(.init(requestId: "r9", callId: callID, reason: .shutdown)),
        .query(.init(requestId: "r10", callId: callID)),
        .result(.ok("r1", sdp: "v=0\r\n")),
        .result(.failure("r2", code: "no_codec", message: "none")),
        .event(.init(callId: callID, tag: "f", event: .dtmf(digit: "#", durationMilliseconds: 100))),
        .event(.init(callId: callID, event: .speechStarted)),
        .event(.init(callId: callID, event: .speechEnded)),
        .event(.init(callId: callID, event: .utterance(text: "hello", confidence: 0.5))),
        .event(.init(callId: callID, event: .srtpFailure(count: 3, reason: "auth"))),
        .event(.init(callId: callID, event: .statistics(.init(packetsReceived: 10, roundTripMilliseconds: 30)))),
        .event(.init(callId: callID, event: .transferRequested(target: nil))),
    ]

    @Test func everyControlMessageRoundTrips() throws {
        for (index, message) in Self.controlMessages.enumerated() {
            let frame = ProtocolFrame(seq: UInt64(index + 1), ack: index % 2 == 0 ? UInt64(index) : nil, message: message)
            let text = try ProtocolCodec.encode(frame)
            #expect(try ProtocolCodec.decode(MediaControlMessage.self, from: text) == frame, "\(text)")
            #expect(text.contains("\"type\":\"\(message.type)\""))
            #expect(!text.contains("callId") && !text.contains("requestId"), "wire keys are snake_case: \(text)")
        }
    }

    @Test func everyConversationMessageRoundTrips() throws {
        let messages: [ConversationMessage] = [
            .start(.init(callId: Self.callID, userId: "u", caller: .init(number: try E164Number("+14155550100"), displayName: "X", attestation: "A"), persona: "p")),
            .transcript(.init(utteranceId: "u1", text: "hi", final: true, confidence: 0.9, startMs: 1, endMs: 2)),
            .dtmf(.init(digit: "1", durationMs: 50)),
            .reply(.init(turnId: "t", text: "bye", action: .hangup, intent: "scam", confidence: 0.7)),
            .playbackStarted(.init(turnId: "t")), .playbackFinished(.init(turnId: "t")),
            .bargeIn(.init(turnId: "t", heardMs: 10)),
            .error(.init(code: "x", message: "y", recoverable: false)),
            .ping(.init(nonce: 2)), .pong(.init(nonce: 2)),
            .resume(.init(callId: Self.callID, lastSeq: 5)),
            .end(.init(reason: .callerHangup)),
        ]
        for (index, message) in messages.enumerated() {
            let frame = ProtocolFrame(seq: UInt64(index + 1), message: message)
            #expect(try ProtocolCodec.decode(ConversationMessage.self, from: ProtocolCodec.encode(frame)) == frame)
        }
    }

    @Test func liveEventsRoundTripWithStageLatencies() throws {
        var latency = TurnLatency()
        try latency.mark(.vadEnd, at: MediaInstant(nanoseconds: 0))
        try latency.mark(.sttFinal, at: MediaInstant(nanoseconds: 150_000_000))
        let turn = LiveEvent.turn(.init(
            callId: Self.callID, userId: "u", atMs: 1, turnId: "t", callerText: "a", replyText: "b", intent: nil, confidence: nil,
            latency: LiveEvent.StageLatency.list(latency)
        ))
        let frame = ProtocolFrame(seq: 1, message: turn)
        let text = try ProtocolCodec.encode(frame)
        #expect(text.contains(#"{"ms":150,"stage":"stt_final"}"#))
        #expect(try ProtocolCodec.decode(LiveEvent.self, from: text) == frame)
    }

    @Test func decodingErrorsNameTheWireField() {
        let missing = #expect(throws: CoreError.self) {
            try ProtocolCodec.decode(MediaControlMessage.self, from: #"{"v":1,"seq":1,"type":"query","request_id":"r"}"#)
        }
        #expect(missing?.message == #"media-control: missing field "call_id""#)
        let unknown = #expect(throws: CoreError.self) {
            try ProtocolCodec.decode(ConversationMessage.self, from: #"{"v":1,"seq":1,"type":"shout"}"#)
        }
        #expect(unknown?.message == #"conversation: unknown message type "shout""#)
        let version = #expect(throws: CoreError.self) {
            try ProtocolCodec.decode(LiveEvent.self, from: #"{"v":2,"seq":1,"type":"decision"}"#)
        }
        #expect(version?.code == .unsupportedVersion)
        let garbage = #expect(throws: CoreError.self) { try ProtocolCodec.decode(LiveEvent.self, from: "{nope") }
        #expect(garbage?.message.hasPrefix("live-events: not valid JSON") == true)
        let badCallID = #expect(throws: CoreError.self) {
            try ProtocolCodec.decode(MediaControlMessage.self, from: #"{"v":1,"seq":1,"type":"query","request_id":"r","call_id":"a b"}"#)
        }
        #expect(badCallID?.message.contains("call_id") == true)
        let badKind = #expect(throws: CoreError.self) {
            try ProtocolCodec.decode(MediaControlMessage.self, from: #"{"v":1,"seq":1,"type":"event","call_id":"c","event":{"kind":"sneeze"}}"#)
        }
        #expect(badKind?.message.contains("sneeze") == true)
    }
}

@Suite struct ProtocolDocumentationTests {
    @Test(arguments: ["media-control", "conversation", "live-events"])
    func everyExampleDecodesAndEveryTypeIsShown(page: String) throws {
        let blocks = DocumentationFiles.jsonBlocks(in: try DocumentationFiles.read("docs/protocols/\(page).md"))
        #expect(blocks.count >= 6)
        var types: Set<String> = []
        for block in blocks {
            switch page {
            case "media-control": types.insert(try ProtocolCodec.decode(MediaControlMessage.self, from: block).message.type)
            case "conversation": types.insert(try ProtocolCodec.decode(ConversationMessage.self, from: block).message.type)
            default: types.insert(try ProtocolCodec.decode(LiveEvent.self, from: block).message.type)
            }
        }
        let expected: Set<String>
        switch page {
        case "media-control":
            expected = ["hello", "welcome", "ping", "pong", "offer", "answer", "update", "play", "stop_playback", "record", "bridge",
                        "start_conversation", "digits", "delete", "query", "result", "event"]
        case "conversation":
            expected = ["start", "transcript", "dtmf", "reply", "playback_started", "playback_finished", "barge_in", "error", "ping", "pong", "resume", "end"]
        default:
            expected = ["call_started", "decision", "transcript_partial", "transcript_final", "turn", "call_ended"]
        }
        #expect(types == expected, "types without an example: \(expected.subtracting(types).sorted())")
    }

    @Test func releaseReasonsInTheDocsAreTheCodes() throws {
        let page = try DocumentationFiles.read("docs/protocols/media-control.md")
        for reason in ReleaseReason.allCases {
            #expect(page.contains("`\(reason.rawValue)`"), "\(reason.rawValue) is not documented")
        }
    }
}
