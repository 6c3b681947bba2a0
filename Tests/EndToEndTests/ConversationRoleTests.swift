import AnswerNinjaCore
import AnswerNinjaTestSupport
import Foundation
import HummingbirdWSClient
import Logging
import Testing

/// `answer-ninja conversation` over a real WebSocket, as the media role speaks to it
/// (docs/protocols/conversation.md): replies with intents, errors with codes that keep the connection up,
/// heartbeats, resume after a dropped connection, and the metrics it exports.
@Suite(.serialized) struct ConversationRoleTests {
    typealias Frame = ProtocolFrame<ConversationMessage>
    static let logger = Logger(label: "conversation-test")

    static func url(_ role: AnswerNinjaProcess) -> String { "ws://127.0.0.1:\(role.httpPort)/internal/conversation" }

    static func send(_ outbound: WebSocketOutboundWriter, _ frame: Frame) async throws {
        try await outbound.write(.text(try ProtocolCodec.encode(frame)))
    }

    /// The next text frame, decoded; nil when the server closed the connection.
    static func next(_ iterator: inout WebSocketInboundMessageStream.AsyncIterator) async throws -> Frame? {
        while let message = try await iterator.next() {
            if case .text(let text) = message { return try ProtocolCodec.decode(ConversationMessage.self, from: text) }
        }
        return nil
    }

    static func start(_ callId: CallID, seq: UInt64 = 1) -> Frame {
        Frame(seq: seq, message: .start(.init(callId: callId, userId: "user-demo", caller: .init(number: nil), persona: "polite", userName: "Sam")))
    }

    static func transcript(_ seq: UInt64, _ text: String, ack: UInt64? = nil) -> Frame {
        Frame(seq: seq, ack: ack, message: .transcript(.init(utteranceId: "u\(seq)", text: text, final: true, confidence: 0.8, startMs: 1000, endMs: 2000)))
    }

    @Test(.timeLimit(.minutes(2)))
    func aCallIsAnsweredErrorsAreRecoverableAndADroppedConnectionResumes() async throws {
        let role = try await AnswerNinjaProcess.start(command: "conversation")
        try await withPeer(role) { role in
            let callId = try CallID("e2e-conversation-1")
            // First connection: start, a bad frame, a transcript, a ping; then it drops.
            let captured = Captured<[Frame]>([])
            try await WebSocketClient.connect(url: Self.url(role), logger: Self.logger) { inbound, outbound, _ in
                var frames = inbound.messages(maxSize: 1 << 16).makeAsyncIterator()
                var seen: [Frame] = []
                defer { captured.value = seen }
                try await Self.send(outbound, Self.start(callId))
                let opening = try #require(try await Self.next(&frames))
                seen.append(opening)
                guard case .reply(let greeting) = opening.message else { throw TestFailure("expected the greeting, got \(opening.message.type)") }
                #expect(greeting.text.contains("AI assistant"))
                #expect(opening.ack == 1)

                try await outbound.write(.text(#"{"v":1,"seq":2,"type":"transcript","text":42}"#))
                let error = try #require(try await Self.next(&frames))
                seen.append(error)
                guard case .error(let info) = error.message else { throw TestFailure("expected an error, got \(error.message.type)") }
                #expect(info.code == "bad_message")
                #expect(info.recoverable)

                // The connection is still up, and seq 2 was consumed by the bad frame.
                try await Self.send(outbound, Self.transcript(3, "your verification code is four eight two nine one six"))
                let listen = try #require(try await Self.next(&frames))
                seen.append(listen)
                guard case .reply(let reply) = listen.message else { throw TestFailure("expected a reply, got \(listen.message.type)") }
                #expect(reply.intent == "verification_code")
                #expect(reply.action == .listen)

                try await Self.send(outbound, Frame(seq: 4, message: .ping(.init(nonce: 7))))
                let pong = try #require(try await Self.next(&frames))
                #expect(pong.message == .pong(.init(nonce: 7)))
                seen.append(pong)

                let metrics = try await role.get("/metrics").body
                #expect(metrics.contains(#"websocket_connections{role="conversation"} 1"#), "\(metrics)")
                #expect(metrics.contains(#"conversation_stage_seconds_count{stage="classify"} 1"#))
                #expect(metrics.contains(#"conversation_protocol_errors_total{code="bad_message"} 1"#))
            }
            #expect(captured.value.map(\.seq) == [1, 2, 3, 4])

            // Second connection: resume after the greeting only; the server sends its resume, then what we missed.
            try await WebSocketClient.connect(url: Self.url(role), logger: Self.logger) { inbound, outbound, _ in
                var frames = inbound.messages(maxSize: 1 << 16).makeAsyncIterator()
                try await Self.send(outbound, Frame(seq: 0, message: .resume(.init(callId: callId, lastSeq: 1))))
                let resume = try #require(try await Self.next(&frames))
                guard case .resume(let theirs) = resume.message else { throw TestFailure("expected resume, got \(resume.message.type)") }
                #expect(theirs.lastSeq == 4)
                #expect(resume.seq == 0, "resume stands outside the sequence")
                var resent: [UInt64] = []
                for _ in 0..<3 { resent.append(try #require(try await Self.next(&frames)).seq) }
                #expect(resent == [2, 3, 4])

                try await Self.send(outbound, Frame(seq: 5, message: .end(.init(reason: .callerHangup))))
                #expect(try await Self.next(&frames) == nil, "the server closes after end")
            }

            // The call is over: resuming it again is refused, and the connection closed.
            try await WebSocketClient.connect(url: Self.url(role), logger: Self.logger) { inbound, outbound, _ in
                var frames = inbound.messages(maxSize: 1 << 16).makeAsyncIterator()
                try await Self.send(outbound, Frame(seq: 0, message: .resume(.init(callId: callId, lastSeq: 4))))
                let refused = try #require(try await Self.next(&frames))
                guard case .error(let info) = refused.message else { throw TestFailure("expected an error, got \(refused.message.type)") }
                #expect(info.code == "unknown_call")
                #expect(!info.recoverable)
                #expect(try await Self.next(&frames) == nil)
            }

            // A connection whose first frame is neither start nor resume is refused.
            try await WebSocketClient.connect(url: Self.url(role), logger: Self.logger) { inbound, outbound, _ in
                var frames = inbound.messages(maxSize: 1 << 16).makeAsyncIterator()
                try await Self.send(outbound, Self.transcript(1, "hello"))
                let refused = try #require(try await Self.next(&frames))
                guard case .error(let info) = refused.message else { throw TestFailure("expected an error, got \(refused.message.type)") }
                #expect(info.code == "no_session")
            }
            // The server counts a connection down when its reader has finished, just after the client's close.
            var metrics = try await role.get("/metrics").body
            for _ in 0..<50 where !metrics.contains(#"websocket_connections{role="conversation"} 0"#) {
                try await Task.sleep(for: .milliseconds(100))
                metrics = try await role.get("/metrics").body
            }
            #expect(metrics.contains(#"websocket_connections{role="conversation"} 0"#))
            #expect(metrics.contains(#"conversation_turns_total{action="listen"} 1"#))
        }
    }

    /// A rolling update drains the conversation role: after SIGTERM `/ready` is 503 (the Service sends new calls to
    /// other pods) while the conversation in progress still gets its replies over its WebSocket; when it ends, the
    /// process exits 0.
    @Test(.timeLimit(.minutes(2)))
    func sigtermDrainsTheConversationsInProgress() async throws {
        let role = try await AnswerNinjaProcess.start(command: "conversation", environment: ["ANSWER_NINJA_SHUTDOWN_GRACE": "30s"])
        try await withPeer(role) { role in
            #expect(try await role.get("/ready").status == 200)
            try await WebSocketClient.connect(url: Self.url(role), logger: Self.logger) { inbound, outbound, _ in
                var frames = inbound.messages(maxSize: 1 << 16).makeAsyncIterator()
                try await Self.send(outbound, Self.start(try CallID("e2e-conversation-drain")))
                _ = try #require(try await Self.next(&frames), "the greeting")
                kill(role.process.pid, SIGTERM)
                try await role.process.waitUntilReady(timeout: .seconds(10)) { (try? await role.get("/ready").status) == 503 }
                #expect(try await role.get("/metrics").body.contains("answer_ninja_draining 1"))
                try await Task.sleep(for: .seconds(1))
                #expect(role.process.isRunning, "the process waits for its conversation")
                try await Self.send(outbound, Self.transcript(2, "hi this is mark from the solar company about your electricity bill"))
                let reply = try #require(try await Self.next(&frames), "a reply while draining")
                guard case .reply(let answer) = reply.message else { throw TestFailure("expected a reply, got \(reply.message.type)") }
                #expect(!answer.text.isEmpty)
                try await Self.send(outbound, Frame(seq: 3, message: .end(.init(reason: .callerHangup))))
                #expect(try await Self.next(&frames) == nil, "the server closes after end")
            }
            let status = await role.process.waitForExit(timeout: .seconds(20))
            #expect(status == 0, "\(role.process.logTail())")
            #expect(role.process.log().contains(#""msg":"draining conversations""#))
        }
    }

    @Test(.timeLimit(.minutes(2)))
    func aSpamCallerIsDeclinedAndHungUpOnWithinPolicy() async throws {
        let role = try await AnswerNinjaProcess.start(command: "conversation", environment: ["ANSWER_NINJA_CONVERSATION_MAX_TURNS": "3"])
        try await withPeer(role) { role in
            let callId = try CallID("e2e-conversation-2")
            let captured = Captured<[ConversationMessage.Action]>([])
            try await WebSocketClient.connect(url: Self.url(role), logger: Self.logger) { inbound, outbound, _ in
                var frames = inbound.messages(maxSize: 1 << 16).makeAsyncIterator()
                try await Self.send(outbound, Self.start(callId))
                _ = try await Self.next(&frames)
                var actions: [ConversationMessage.Action] = []
                defer { captured.value = actions }
                for (index, text) in [
                    "hi this is mike calling about the extended warranty on your car",
                    "your vehicle warranty coverage is about to expire",
                    "I can lower the cost of your auto warranty today",
                    "let me just tell you about the warranty",
                ].enumerated() {
                    try await Self.send(outbound, Self.transcript(UInt64(index + 2), text))
                    guard let frame = try await Self.next(&frames), case .reply(let reply) = frame.message else { break }
                    actions.append(reply.action)
                    if reply.action == .hangup { break }
                }
            }
            #expect(captured.value.last == .hangup, "\(captured.value)")
            #expect(captured.value.count <= 3)
        }
    }
}

/// A value written inside a WebSocket handler and read after it.
final class Captured<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Value
    init(_ value: Value) { stored = value }
    var value: Value {
        get { lock.withLock { stored } }
        set { lock.withLock { stored = newValue } }
    }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
