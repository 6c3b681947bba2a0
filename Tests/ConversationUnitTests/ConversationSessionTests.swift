import AnswerNinjaCore
import Conversation
import Testing

/// The conversation protocol's rules around the engine (docs/protocols/conversation.md), without a socket.
@Suite struct ConversationSessionTests {
    typealias Frame = ProtocolFrame<ConversationMessage>
    static let classifier = Result { try IntentClassifier.bundled() }
    static let callId = try! CallID("a84b4c76e66710")

    static func start(persona: String = "polite", challenge: Bool? = nil) -> Frame {
        Frame(seq: 1, message: .start(.init(
            callId: callId, userId: "user-demo", caller: .init(number: nil), persona: persona, reasons: ["not_whitelisted"], userName: "Sam", challenge: challenge
        )))
    }

    static func transcript(_ seq: UInt64, _ text: String, final: Bool = true, id: String = "u1") -> Frame {
        Frame(seq: seq, message: .transcript(.init(utteranceId: id, text: text, final: final, confidence: 0.8, startMs: 1000, endMs: 3000)))
    }

    static func session(_ start: Frame = start()) throws -> ConversationSession {
        try ConversationSession(start: start, classifier: try classifier.get(), settings: DialogSettings())
    }

    static func replies(_ output: ConversationSession.Output) -> [ConversationMessage.Reply] {
        output.frames.compactMap { if case .reply(let reply) = $0.message { reply } else { nil } }
    }

    static func errors(_ output: ConversationSession.Output) -> [ConversationMessage.ErrorInfo] {
        output.frames.compactMap { if case .error(let error) = $0.message { error } else { nil } }
    }

    /// What the media role needs of a reply to act alone: which utterance it answers, why a hang-up, and the line
    /// the user hears before a transfer; and `offer_connect` false takes a message instead of offering a transfer.
    @Test func repliesSayWhatTheyAnswerWhyTheyHangUpAndWhatTheUserHearsBeforeATransfer() throws {
        var session = try Self.session()
        let opening = try #require(Self.replies(session.open()).first)
        #expect(opening.inReplyTo == nil && opening.endReason == nil && opening.summary == nil)
        let scam = try #require(Self.replies(session.receive(
            Self.transcript(2, "this is the internal revenue service there is a warrant for your arrest pay with gift cards", id: "u7"), at: .seconds(5)
        )).first)
        #expect(scam.inReplyTo == "u7" && scam.action == .hangup && scam.endReason != nil, "\(scam)")

        let caller = try E164Number("+14155550142")
        var wanted = try Self.session(Frame(seq: 1, message: .start(.init(callId: Self.callId, userId: "user-demo", caller: .init(number: caller), persona: "polite"))))
        _ = wanted.open()
        var seq: UInt64 = 1
        var replies: [ConversationMessage.Reply] = []
        for line in ["hi it's your sister calling about mum's birthday dinner", "yes please put me through", "yes"] {
            seq += 1
            replies += Self.replies(wanted.receive(Self.transcript(seq, line, id: "u\(seq)"), at: .seconds(Int64(seq * 5))))
            if replies.last?.action == .transfer { break }
        }
        let transfer = try #require(replies.first { $0.action == .transfer }, "\(replies)")
        #expect(transfer.summary?.contains("1 4 1 5 5 5 5 0 1 4 2") == true && transfer.summary?.contains("sister") == true, "\(transfer)")

        var messageOnly = try Self.session(Frame(seq: 1, message: .start(.init(
            callId: Self.callId, userId: "user-demo", caller: .init(number: caller), persona: "polite", offerConnect: false
        ))))
        _ = messageOnly.open()
        seq = 1
        replies = []
        for line in ["hi it's your sister calling about mum's birthday dinner", "yes please put me through", "yes"] {
            seq += 1
            replies += Self.replies(messageOnly.receive(Self.transcript(seq, line, id: "u\(seq)"), at: .seconds(Int64(seq * 5))))
        }
        #expect(!replies.contains { $0.action == .transfer }, "\(replies)")
    }

    @Test func startOpensWithTheGreetingInThePersonaAndOptionsOfTheStartFrame() throws {
        var session = try Self.session(Self.start(persona: "direct", challenge: true))
        let output = session.open()
        let reply = try #require(Self.replies(output).first)
        #expect(reply.action == .continue)
        #expect(reply.text.contains("Sam"))
        #expect(reply.text.contains("1"), "the challenge is offered")
        #expect(output.frames.first?.seq == 1)
        #expect(output.frames.first?.ack == 1, "acknowledges start")
        #expect(session.engine.dialog.settings.persona == .direct)
    }

    @Test func refusesAStartThatIsNotFirstOrNamesAnUnknownPersona() throws {
        #expect(throws: ConversationSession.Refusal.self) {
            _ = try ConversationSession(start: Self.transcript(1, "hi"), classifier: try Self.classifier.get(), settings: DialogSettings())
        }
        #expect(throws: ConversationSession.Refusal(code: "bad_value", message: "unknown persona \"pirate\" (polite, direct, humorous, professional, friendly, time_waster)", recoverable: false)) {
            _ = try Self.session(Self.start(persona: "pirate"))
        }
        var late = Self.start()
        late.seq = 4
        #expect(throws: ConversationSession.Refusal.self) { _ = try Self.session(late) }
    }

    @Test func aFinalTranscriptGetsAReplyWithTheIntentAndPartialsGetNothing() throws {
        var session = try Self.session()
        _ = session.open()
        #expect(session.receive(Self.transcript(2, "your verification", final: false), at: .seconds(3)).frames.isEmpty)
        let output = session.receive(Self.transcript(3, "your verification code is four eight two nine one six"), at: .seconds(5))
        let reply = try #require(Self.replies(output).first)
        #expect(reply.intent == "verification_code")
        #expect(reply.action == .listen)
        #expect(output.classification?.intent == .verificationCode)
        #expect(output.frames.first?.ack == 3)
        #expect(output.frames.first?.seq == 2)
    }

    @Test func pingIsAnsweredAndDuplicatesAreDroppedAndAGapIsFatal() throws {
        var session = try Self.session()
        _ = session.open()
        let pong = session.receive(Frame(seq: 2, message: .ping(.init(nonce: 99))), at: .seconds(1))
        #expect(pong.frames.map(\.message) == [.pong(.init(nonce: 99))])
        #expect(session.receive(Frame(seq: 2, message: .ping(.init(nonce: 99))), at: .seconds(1)).frames.isEmpty, "a retransmission is dropped")
        let gap = session.receive(Frame(seq: 9, message: .ping(.init(nonce: 1))), at: .seconds(2))
        #expect(Self.errors(gap).map(\.code) == ["sequence_gap"])
        #expect(gap.finished)
    }

    @Test func recoverableErrorsKeepTheSessionGoing() throws {
        var session = try Self.session()
        _ = session.open()
        let wrongWay = session.receive(Frame(seq: 2, message: .reply(.init(turnId: "t9", text: "hi", action: .continue))), at: .seconds(1))
        #expect(Self.errors(wrongWay).map(\.code) == ["unexpected_message"])
        #expect(!wrongWay.finished)
        let badDigit = session.receive(Frame(seq: 3, message: .dtmf(.init(digit: "x", durationMs: 100))), at: .seconds(1))
        #expect(Self.errors(badDigit).first?.recoverable == true)
        let unreadable = session.refusal(.init(code: "bad_message", message: "not JSON", recoverable: true), seq: 4)
        #expect(!unreadable.finished)
        // seq 4 was consumed by the unreadable frame, so 5 is in order.
        #expect(!Self.replies(session.receive(Self.transcript(5, "hello this is the pharmacy your prescription is ready"), at: .seconds(4))).isEmpty)
    }

    @Test func resumeRetransmitsWhatThePeerMissedAfterOurOwnResume() throws {
        var session = try Self.session()
        let opening = session.open()
        let first = session.receive(Self.transcript(2, "hello is anyone there"), at: .seconds(4))
        let second = session.receive(Self.transcript(3, "hello?", id: "u2"), at: .seconds(8))
        #expect(Self.replies(first).count == 1 && Self.replies(second).count == 1)
        // The media role saw only the opening (seq 1) before its connection dropped.
        let resent = try session.resume(after: opening.frames[0].seq)
        guard case .resume(let resume) = resent.first?.message else {
            Issue.record("the first frame after resume is our resume")
            return
        }
        #expect(resume.lastSeq == 3)
        #expect(resent.dropFirst().map(\.seq) == [2, 3])
        #expect(resent.dropFirst().map(\.message) == [first.frames[0].message, second.frames[0].message])
        #expect(throws: ConversationSession.Refusal.self) { _ = try session.resume(after: 99) }
    }

    @Test func endFinishesTheSession() throws {
        var session = try Self.session()
        _ = session.open()
        let output = session.receive(Frame(seq: 2, message: .end(.init(reason: .callerHangup))), at: .seconds(9))
        #expect(output.finished)
        #expect(session.ended == .callerHangup)
    }

    @Test func theClockEndsAnyCallAtTheMaximumDuration() throws {
        var session = try Self.session()
        _ = session.open()
        #expect(session.tick(at: .seconds(100)).frames.isEmpty)
        let end = session.tick(at: .seconds(181))
        #expect(Self.replies(end).map(\.action) == [.hangup])
    }
}
