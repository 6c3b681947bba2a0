import AnswerNinjaCore
import MediaControl

/// The media role's end of the control channel: runs `MediaControlStateMachine` over any number of
/// `ControlConnection`s and carries out its commands on a `MediaSessionProvider` (the media engine in process).
///
/// Commands run concurrently (each in its own task) and answer when done; frames that cannot be decoded close
/// their connection with the reason; provider events go to the channel that owns the call; sessions whose channel
/// stays away past the grace period are released with `control_lost` (`expire`, called by `run`).
public actor MediaControlServer {
    private var machine: MediaControlStateMachine
    private let provider: any MediaSessionProvider
    private let now: @Sendable () -> MediaInstant
    private var connections: [MediaControlStateMachine.TransportID: any ControlConnection] = [:]
    /// Each connection's frames in the order the machine numbered them, written by one task per connection: the
    /// gateway drops a frame that arrives after a later one (a gap), so sends must never overtake each other.
    private var writers: [MediaControlStateMachine.TransportID: AsyncStream<String>.Continuation] = [:]
    private var nextTransport: MediaControlStateMachine.TransportID = 1

    /// - Parameter now: the monotonic clock (a test passes a manual one).
    public init(provider: any MediaSessionProvider, configuration: MediaControlStateMachine.Configuration = .init(), now: @escaping @Sendable () -> MediaInstant) {
        self.machine = MediaControlStateMachine(configuration: configuration)
        self.provider = provider
        self.now = now
    }

    /// Open connections (for `websocket_connections` and tests).
    public var connectionCount: Int { connections.count }

    /// Serves one connection until it closes (by the peer, or by the server on a protocol violation).
    public func serve(_ connection: any ControlConnection) async {
        let transport = nextTransport
        nextTransport += 1
        connections[transport] = connection
        let (queue, writer) = AsyncStream.makeStream(of: String.self)
        writers[transport] = writer
        let writing = Task {
            // A failed send is not fatal: the frame stays in the channel's outbound buffer and is resent on resume.
            for await text in queue { try? await connection.send(text) }
        }
        defer {
            writer.finish()
            writing.cancel()
        }
        machine.transportOpened(transport)
        for await text in connection.inbound {
            let actions: [MediaControlStateMachine.Action]
            do {
                let frame = try ProtocolCodec.decode(MediaControlMessage.self, from: text)
                actions = machine.received(frame, on: transport, now: now())
            } catch {
                actions = [.close(transport: transport, reason: error.message)]
            }
            await perform(actions)
            if connections[transport] == nil { break }
        }
        connections[transport] = nil
        writers[transport] = nil
        machine.transportClosed(transport, now: now())
    }

    /// Forwards provider events and expires abandoned sessions every `tickInterval`, until cancelled.
    public func run(tickInterval: Duration = .seconds(1)) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for await event in self.provider.events { await self.forward(event) }
            }
            group.addTask {
                while !Task.isCancelled {
                    try? await Task.sleep(for: tickInterval)
                    await self.expire()
                }
            }
            await group.next()
            group.cancelAll()
        }
    }

    /// Releases the sessions of channels gone longer than the grace period.
    public func expire() async {
        await perform(machine.tick(now: now()))
    }

    /// Sends a provider event to the channel that owns its call.
    public func forward(_ event: MediaControlMessage.Event) async {
        await perform(machine.event(event))
    }

    private func perform(_ actions: [MediaControlStateMachine.Action]) async {
        // Closes last: they wait, and every frame numbered before them must be queued in order first.
        let ordered = actions.filter { if case .close = $0 { false } else { true } } + actions.filter { if case .close = $0 { true } else { false } }
        for action in ordered {
            switch action {
            case .send(let transport, let frame):
                guard let writer = writers[transport], let text = try? ProtocolCodec.encode(frame) else { continue }
                writer.yield(text)
            case .execute(let command):
                Task { await self.finish(command, result: await Self.execute(command, on: self.provider)) }
            case .release(let callId, let reason):
                let provider = self.provider
                Task { try? await provider.release(.init(requestId: "expired-\(callId)", callId: callId, reason: reason)) }
            case .close(let transport, let reason):
                if let connection = connections.removeValue(forKey: transport) {
                    writers.removeValue(forKey: transport)?.finish()
                    await connection.close(reason: reason)
                    machine.transportClosed(transport, now: now())
                }
            }
        }
    }

    private func finish(_ command: MediaControlMessage, result: MediaControlMessage.Result) async {
        await perform(machine.completed(requestId: result.requestId, result: result, command: command))
    }

    /// Carries out one command; every failure becomes an error result with the error's code and message.
    static func execute(_ command: MediaControlMessage, on provider: any MediaSessionProvider) async -> MediaControlMessage.Result {
        let requestId = command.requestId ?? ""
        do {
            switch command {
            case .offer(let offer): return .ok(requestId, sdp: try await provider.offer(offer).sdp)
            case .answer(let answer): return .ok(requestId, sdp: try await provider.answer(answer).sdp)
            case .update(let offer): return .ok(requestId, sdp: try await provider.update(offer).sdp)
            case .play(let play): try await provider.play(play)
            case .stopPlayback(let stop): try await provider.stopPlayback(stop)
            case .record(let record): try await provider.record(record)
            case .bridge(let bridge): try await provider.bridge(bridge)
            case .startConversation(let start): try await provider.startConversation(start)
            case .digits(let digits): try await provider.digits(digits)
            case .delete(let delete): try await provider.release(delete)
            case .query(let query): return .ok(requestId, statistics: try await provider.statistics(query))
            case .hello, .welcome, .ping, .pong, .result, .event:
                return .failure(requestId, code: "not_a_command", message: "\(command.type) is not a command")
            }
            return .ok(requestId)
        } catch let error as any CodedError {
            return .failure(requestId, code: error.codeName, message: error.message)
        } catch {
            return .failure(requestId, code: "error", message: "\(error)")
        }
    }
}
