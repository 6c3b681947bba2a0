import AnswerNinjaCore
import Testing

@Suite struct SequencingTests {
    typealias Message = ConversationMessage

    @Test func outboundNumbersFromOneAndForgetsWhatIsAcknowledged() throws {
        var outbound = OutboundSequencer<Message>(capacity: 8)
        let frames = (0..<5).map { outbound.send(.ping(.init(nonce: UInt64($0)))) }
        #expect(frames.map(\.seq) == [1, 2, 3, 4, 5])
        outbound.acknowledge(upTo: 3)
        #expect(outbound.pendingCount == 2)
        #expect(try outbound.resend(after: 3).map(\.seq) == [4, 5])
        #expect(try outbound.resend(after: 5).isEmpty)
        #expect(outbound.pendingCount == 0)
    }

    @Test func resumeFromBeforeTheKeptFramesFailsLoudly() {
        var outbound = OutboundSequencer<Message>(capacity: 2)
        for nonce in 0..<5 { _ = outbound.send(.ping(.init(nonce: UInt64(nonce)))) }
        let error = #expect(throws: CoreError.self) { try outbound.resend(after: 1) }
        #expect(error?.message.contains("no longer kept") == true)
        #expect(throws: CoreError.self) { try outbound.resend(after: 9) }
    }

    @Test func inboundAcceptsInOrderDropsRepeatsAndReportsGaps() {
        var inbound = InboundSequencer()
        #expect(inbound.receive(seq: 1) == .accept)
        #expect(inbound.receive(seq: 2) == .accept)
        #expect(inbound.receive(seq: 2) == .duplicate)
        #expect(inbound.receive(seq: 1) == .duplicate)
        #expect(inbound.receive(seq: 4) == .gap(expected: 3, received: 4))
        #expect(inbound.lastSeq == 2)
    }

    @Test func twoPeersResumeWithoutLossOrRepeat() throws {
        // A sends 1...6; B receives 1...3, the connection drops, B resumes from 3 and gets 4...6 exactly once.
        var sender = OutboundSequencer<Message>()
        var receiver = InboundSequencer()
        var delivered: [UInt64] = []
        let frames = (1...6).map { sender.send(.dtmf(.init(digit: String($0), durationMs: 40))) }
        for frame in frames.prefix(3) where receiver.receive(seq: frame.seq) == .accept { delivered.append(frame.seq) }
        for frame in try sender.resend(after: receiver.lastSeq) + frames.suffix(2) where receiver.receive(seq: frame.seq) == .accept {
            delivered.append(frame.seq)
        }
        #expect(delivered == [1, 2, 3, 4, 5, 6])
    }
}
