import AnswerNinjaCore
import MediaControl
import Testing

@Suite struct MediaControlStateMachineTests {
    typealias Machine = MediaControlStateMachine
    let call = try! CallID("call-1")
    let t0 = MediaInstant(nanoseconds: 1_000_000_000)

    func offer(_ requestId: String, call: CallID? = nil) -> MediaControlMessage {
        .offer(.init(requestId: requestId, callId: call ?? self.call, fromTag: "f", sdp: "v=0\r\n", mode: .terminate))
    }

    func frame(_ seq: UInt64, _ message: MediaControlMessage, ack: UInt64? = nil) -> ProtocolFrame<MediaControlMessage> {
        ProtocolFrame(seq: seq, ack: ack, message: message)
    }

    /// Opens transport `transport`, says hello, and returns the connection id from the welcome.
    func connect(_ machine: inout Machine, transport: UInt64, resume: MediaControlMessage.Resume? = nil, at now: MediaInstant) -> (String, MediaControlMessage.Welcome, [Machine.Action]) {
        machine.transportOpened(transport)
        let actions = machine.received(frame(0, .hello(.init(instance: "gw", resume: resume))), on: transport, now: now)
        for case .send(_, let reply) in actions {
            if case .welcome(let welcome) = reply.message { return (welcome.connectionId, welcome, actions) }
        }
        Issue.record("no welcome in \(actions)")
        return ("", .init(connectionId: "", resumed: false, lastSeq: 0), actions)
    }

    func results(_ actions: [Machine.Action]) -> [MediaControlMessage.Result] {
        actions.compactMap { action in
            if case .send(_, let frame) = action, case .result(let result) = frame.message { return result }
            return nil
        }
    }

    @Test func theFirstFrameMustBeHello() {
        var machine = Machine()
        machine.transportOpened(1)
        let actions = machine.received(frame(1, offer("r1")), on: 1, now: t0)
        #expect(actions == [.close(transport: 1, reason: "the first frame must be hello, got offer")])
    }

    @Test func aCommandIsExecutedOnceAndItsResultIsCachedForRepeats() {
        var machine = Machine()
        _ = connect(&machine, transport: 1, at: t0)
        #expect(machine.received(frame(1, offer("r1")), on: 1, now: t0) == [.execute(offer("r1"))])
        // Repeated while running: not started again.
        #expect(machine.received(frame(2, offer("r1")), on: 1, now: t0).isEmpty)
        let done = machine.completed(requestId: "r1", result: .ok("r1", sdp: "answer"), command: offer("r1"))
        #expect(results(done) == [.ok("r1", sdp: "answer")])
        // Repeated after completion: the cached result, no execution.
        let repeated = machine.received(frame(3, offer("r1")), on: 1, now: t0)
        #expect(results(repeated) == [.ok("r1", sdp: "answer")])
        #expect(!repeated.contains { if case .execute = $0 { true } else { false } })
        #expect(machine.sessions == [call])
    }

    @Test func outOfOrderFramesAreDroppedOrCloseTheConnection() {
        var machine = Machine()
        _ = connect(&machine, transport: 1, at: t0)
        _ = machine.received(frame(1, .ping(.init(nonce: 1))), on: 1, now: t0)
        #expect(machine.received(frame(1, .ping(.init(nonce: 1))), on: 1, now: t0).isEmpty)
        let gap = machine.received(frame(5, .ping(.init(nonce: 2))), on: 1, now: t0)
        #expect(gap == [.close(transport: 1, reason: "sequence gap: expected 2, received 5; resume from 1")])
    }

    @Test func pingGetsPongWithTheSameNonceAndAnAck() {
        var machine = Machine()
        _ = connect(&machine, transport: 1, at: t0)
        let actions = machine.received(frame(1, .ping(.init(nonce: 42))), on: 1, now: t0)
        #expect(actions == [.send(transport: 1, ProtocolFrame(seq: 1, ack: 1, message: .pong(.init(nonce: 42))))])
    }

    @Test func aResumedChannelGetsItsSessionsAndTheFramesItMissed() {
        var machine = Machine()
        let (connectionId, _, _) = connect(&machine, transport: 1, at: t0)
        _ = machine.received(frame(1, offer("r1")), on: 1, now: t0)
        _ = machine.transportClosed(1, now: t0)
        // The result is produced while no transport is attached: kept for the resume.
        #expect(machine.completed(requestId: "r1", result: .ok("r1", sdp: "answer"), command: offer("r1")).isEmpty)
        let later = t0.advanced(by: .seconds(5))
        let (sameId, welcome, actions) = connect(&machine, transport: 2, resume: .init(connectionId: connectionId, lastSeq: 0), at: later)
        #expect(sameId == connectionId)
        #expect(welcome.resumed && welcome.sessions == [call] && welcome.lastSeq == 1)
        #expect(results(actions) == [.ok("r1", sdp: "answer")])
        // The sequence continues: the gateway's next frame is 2.
        #expect(machine.received(frame(2, .query(.init(requestId: "r2", callId: call))), on: 2, now: later) == [.execute(.query(.init(requestId: "r2", callId: call)))])
        #expect(machine.tick(now: later.advanced(by: .seconds(60))).isEmpty)
    }

    @Test func sessionsAreReleasedWhenTheGracePeriodEnds() {
        var machine = Machine(configuration: .init(resumeGrace: .seconds(10)))
        let (connectionId, _, _) = connect(&machine, transport: 1, at: t0)
        let second = try! CallID("call-2")
        for (index, callId) in [call, second].enumerated() {
            let request = offer("r\(index)", call: callId)
            _ = machine.received(frame(UInt64(index + 1), request), on: 1, now: t0)
            _ = machine.completed(requestId: "r\(index)", result: .ok("r\(index)", sdp: "a"), command: request)
        }
        machine.transportClosed(1, now: t0)
        #expect(machine.tick(now: t0.advanced(by: .seconds(9))).isEmpty)
        #expect(machine.tick(now: t0.advanced(by: .seconds(10))) == [.release(call, .controlLost), .release(second, .controlLost)])
        #expect(machine.sessions.isEmpty)
        // Too late to resume: a fresh channel, not resumed.
        let (newId, welcome, _) = connect(&machine, transport: 2, resume: .init(connectionId: connectionId, lastSeq: 2), at: t0.advanced(by: .seconds(11)))
        #expect(newId != connectionId && !welcome.resumed && welcome.sessions.isEmpty)
    }

    @Test func anotherChannelCannotDriveSomeoneElsesCall() {
        var machine = Machine()
        _ = connect(&machine, transport: 1, at: t0)
        _ = machine.received(frame(1, offer("r1")), on: 1, now: t0)
        _ = machine.completed(requestId: "r1", result: .ok("r1", sdp: "a"), command: offer("r1"))
        _ = connect(&machine, transport: 2, at: t0)
        let delete = MediaControlMessage.delete(.init(requestId: "r2", callId: call, reason: .error))
        let refused = results(machine.received(frame(1, delete), on: 2, now: t0))
        #expect(refused.first?.error?.code == "not_owner")
    }

    @Test func eventsGoToTheOwnerOfTheCall() {
        var machine = Machine()
        _ = connect(&machine, transport: 7, at: t0)
        _ = machine.received(frame(1, offer("r1")), on: 7, now: t0)
        _ = machine.completed(requestId: "r1", result: .ok("r1", sdp: "a"), command: offer("r1"))
        let event = MediaControlMessage.Event(callId: call, event: .rtpTimeout(afterMilliseconds: 30000))
        let actions = machine.event(event)
        #expect(actions == [.send(transport: 7, ProtocolFrame(seq: 2, ack: 1, message: .event(event)))])
        #expect(machine.event(.init(callId: try! CallID("unknown"), event: .speechStarted)).isEmpty)
    }

    @Test func deletingReleasesOwnership() {
        var machine = Machine()
        _ = connect(&machine, transport: 1, at: t0)
        _ = machine.received(frame(1, offer("r1")), on: 1, now: t0)
        _ = machine.completed(requestId: "r1", result: .ok("r1", sdp: "a"), command: offer("r1"))
        let delete = MediaControlMessage.delete(.init(requestId: "r2", callId: call, reason: .callerHangup))
        #expect(machine.received(frame(2, delete), on: 1, now: t0) == [.execute(delete)])
        _ = machine.completed(requestId: "r2", result: .ok("r2"), command: delete)
        #expect(machine.sessions.isEmpty)
    }
}
