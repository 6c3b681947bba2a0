import AnswerNinjaCore
import AnswerNinjaTestSupport
import MediaTransport
import Synchronization
import Testing

/// The media session API across the control channel: gateway → `MediaControlClient` (a provider) → frames →
/// `MediaControlServer` → the media role's provider, over in-memory connections and a manual clock.
@Suite(.timeLimit(.minutes(1))) struct MediaControlChannelTests {
    let call = try! CallID("a84b4c76e66710")
    let clock = ManualClock()

    func offer(_ requestId: String) -> MediaControlMessage.Offer {
        .init(requestId: requestId, callId: call, fromTag: "f", sdp: "v=0\r\n", mode: .terminate)
    }

    /// A server on `provider`, a connected client, and the tasks serving them.
    func start(_ provider: RecordingMediaSessionProvider, grace: Duration = .seconds(10)) async throws -> (MediaControlServer, MediaControlClient, InMemoryControlConnection) {
        let clock = self.clock
        let server = MediaControlServer(provider: provider, configuration: .init(resumeGrace: grace), now: { clock.now.media })
        let (gatewayEnd, mediaEnd) = InMemoryControlConnection.pair()
        Task { await server.serve(mediaEnd) }
        Task { await server.run(tickInterval: .seconds(3600)) }
        let client = try await MediaControlClient.connect(gatewayEnd, instance: "gw-test")
        return (server, client, gatewayEnd)
    }

    @Test func everyCommandReachesTheProviderAndAnswers() async throws {
        let provider = RecordingMediaSessionProvider()
        let (_, client, _) = try await start(provider)
        #expect(try await client.offer(offer("r1")).sdp == "v=0\r\ns=answer for \(call)\r\n")
        #expect(try await client.answer(.init(requestId: "r2", callId: call, fromTag: "f", toTag: "t", sdp: "v=0\r\n")).sdp == "v=0\r\ns=relayed\r\n")
        try await client.play(.init(requestId: "r3", callId: call, tag: "f", playbackId: "p", source: .phrase("disclosure")))
        try await client.stopPlayback(.init(requestId: "r4", callId: call, tag: "f"))
        try await client.record(.init(requestId: "r5", callId: call, enabled: true))
        try await client.digits(.init(requestId: "r5b", callId: call, tag: "f", digits: "1"))
        #expect(try await client.statistics(.init(requestId: "r6", callId: call)).packetsReceived == 42)
        try await client.release(.init(requestId: "r7", callId: call, reason: .callerHangup))
        #expect(provider.received == [
            "offer \(call)", "answer \(call)", "play \(call)", "stop_playback \(call)", "record \(call)", "digits \(call)", "query \(call)",
            "delete caller_hangup \(call)",
        ])
    }

    @Test func providerErrorsArriveWithTheirCodeAndMessage() async throws {
        let provider = RecordingMediaSessionProvider()
        provider.fail("offer", code: "sdp.no_codec", message: "no common codec: offered G729 only")
        let (_, client, _) = try await start(provider)
        let error = await #expect(throws: MediaTransportError.self) { try await client.offer(offer("r1")) }
        #expect(error?.code.rawValue == "sdp.no_codec")
        #expect(error?.message == "no common codec: offered G729 only")
    }

    @Test func aRepeatedRequestIsCarriedOutOnce() async throws {
        let provider = RecordingMediaSessionProvider()
        let (_, client, _) = try await start(provider)
        let first = try await client.offer(offer("r1"))
        let second = try await client.offer(offer("r1"))
        #expect(first == second)
        #expect(provider.received == ["offer \(call)"])
    }

    @Test func eventsReachTheGatewayThatOwnsTheCall() async throws {
        let provider = RecordingMediaSessionProvider()
        let (_, client, _) = try await start(provider)
        _ = try await client.offer(offer("r1"))
        provider.emit(.init(callId: call, event: .dtmf(digit: "5", durationMilliseconds: 160)))
        var events = client.events.makeAsyncIterator()
        let event = await events.next()
        #expect(event == .init(callId: call, event: .dtmf(digit: "5", durationMilliseconds: 160)))
    }

    @Test func aResumedChannelKeepsItsSessionsAndNothingRunsTwice() async throws {
        let provider = RecordingMediaSessionProvider()
        let (server, client, firstConnection) = try await start(provider)
        _ = try await client.offer(offer("r1"))
        await firstConnection.close(reason: "network blip")
        while await server.connectionCount > 0 { await Task.yield() }
        clock.advance(by: .seconds(5))
        await server.expire()

        let (gatewayEnd, mediaEnd) = InMemoryControlConnection.pair()
        Task { await server.serve(mediaEnd) }
        #expect(try await client.resume(on: gatewayEnd))
        try await client.play(.init(requestId: "r2", callId: call, tag: "f", playbackId: "p", source: .text("Who is calling?", voice: nil)))
        // The repeated offer is answered from the cache, not carried out again.
        _ = try await client.offer(offer("r1"))
        #expect(provider.received == ["offer \(call)", "play \(call)"])
    }

    @Test func sessionsOfALostChannelAreReleasedAfterTheGracePeriod() async throws {
        let provider = RecordingMediaSessionProvider()
        let (server, client, connection) = try await start(provider, grace: .seconds(10))
        _ = try await client.offer(offer("r1"))
        await connection.close(reason: "gateway died")
        while await server.connectionCount > 0 { await Task.yield() }
        clock.advance(by: .seconds(9))
        await server.expire()
        #expect(provider.received == ["offer \(call)"])
        clock.advance(by: .seconds(1))
        await server.expire()
        for _ in 0..<1000 where provider.received.count < 2 { await Task.yield() }
        #expect(provider.received == ["offer \(call)", "delete control_lost \(call)"])
        // Resuming now is refused as a resume: the caller learns its sessions are gone.
        let (gatewayEnd, mediaEnd) = InMemoryControlConnection.pair()
        Task { await server.serve(mediaEnd) }
        #expect(try await client.resume(on: gatewayEnd) == false)
    }

    @Test func aMalformedFrameClosesTheConnectionWithTheReason() async throws {
        let provider = RecordingMediaSessionProvider()
        let server = MediaControlServer(provider: provider, now: { MediaInstant(nanoseconds: 0) })
        let (gatewayEnd, mediaEnd) = InMemoryControlConnection.pair()
        let served = Task { await server.serve(mediaEnd) }
        try await gatewayEnd.send(#"{"v":1,"seq":0,"type":"hello","instance":"gw"}"#)
        try await gatewayEnd.send(#"{"v":1,"seq":1,"type":"offer","request_id":"r1"}"#)
        await served.value
        #expect(mediaEnd.closedReason == #"media-control: missing field "call_id""#)
        #expect(provider.received.isEmpty)
    }

    /// Many commands and events at once over connections whose sends take varying time (a WebSocket's writes): every
    /// frame still arrives in sequence order, so none is dropped as a gap and every command gets its result. (Sends
    /// made from a task each overtook one another, and the channel stalled for good.)
    @Test func concurrentCommandsAndEventsKeepTheirOrderOnTheWire() async throws {
        let provider = RecordingMediaSessionProvider()
        let clock = self.clock
        let server = MediaControlServer(provider: provider, now: { clock.now.media })
        let (gatewayEnd, mediaEnd) = InMemoryControlConnection.pair()
        Task { await server.serve(JitteryConnection(mediaEnd)) }
        Task { await server.run(tickInterval: .seconds(3600)) }
        let client = try await MediaControlClient.connect(JitteryConnection(gatewayEnd), instance: "gw", timeout: .seconds(20))
        let calls = try (0..<30).map { try CallID("call\($0)") }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (index, call) in calls.enumerated() {
                group.addTask {
                    _ = try await client.offer(.init(requestId: "offer-\(index)", callId: call, fromTag: "f", sdp: "v=0\r\n", mode: .terminate))
                    provider.emit(.init(callId: call, event: .dtmf(digit: "1", durationMilliseconds: 100)))
                    try await client.record(.init(requestId: "record-\(index)", callId: call, enabled: true))
                }
            }
            try await group.waitForAll()
        }
        var events = client.events.makeAsyncIterator()
        var digits = 0
        while digits < calls.count, await events.next() != nil { digits += 1 }
        #expect(digits == calls.count)
        #expect(provider.received.count == 2 * calls.count)
    }

    @Test func aCommandWithoutAnAnswerTimesOut() async throws {
        // A media role that accepts the connection but never answers.
        let (gatewayEnd, mediaEnd) = InMemoryControlConnection.pair()
        Task {
            for await _ in mediaEnd.inbound {
                try? await mediaEnd.send(#"{"v":1,"seq":0,"type":"welcome","connection_id":"c1","resumed":false,"last_seq":0,"sessions":[]}"#)
            }
        }
        let client = try await MediaControlClient.connect(gatewayEnd, instance: "gw", timeout: .milliseconds(200))
        let error = await #expect(throws: MediaTransportError.self) { try await client.offer(offer("r1")) }
        #expect(error?.code.rawValue == "timeout")
    }
}

/// An in-memory end whose sends each take a random 0-3 ms before the frame leaves, as a socket's writes vary.
final class JitteryConnection: ControlConnection {
    let base: InMemoryControlConnection
    init(_ base: InMemoryControlConnection) { self.base = base }
    var inbound: AsyncStream<String> { base.inbound }
    func send(_ text: String) async throws {
        try await Task.sleep(for: .microseconds(Int.random(in: 0...3000)))
        try await base.send(text)
    }
    func close(reason: String) async { await base.close(reason: reason) }
}
