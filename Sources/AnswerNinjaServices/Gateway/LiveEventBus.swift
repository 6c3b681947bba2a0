import AnswerNinjaCore
import Foundation
import Store

/// The event bus of the live view (docs/protocols/live-events.md): each user's call events on the shared cache's
/// pub/sub, channel `live:<user id>` (Redis, so every API instance sees every gateway's; in-process without Redis).
/// Events travel as `live-events` frames with `seq` 0: each browser connection numbers what it receives.
struct LiveEventBus: Sendable {
    let cache: any SharedCache

    static func channel(for userId: String) -> String { "live:\(userId)" }

    func publish(_ event: LiveEvent, userId: String) async {
        guard let text = try? ProtocolCodec.encode(ProtocolFrame(seq: 0, message: event)) else { return }
        await cache.publish(Self.channel(for: userId), text)
    }

    /// `userId`'s events from now on; what does not decode as a live event is skipped.
    func events(of userId: String) -> AsyncCompactMapSequence<AsyncStream<String>, LiveEvent> {
        cache.subscribe(Self.channel(for: userId)).compactMap { text in try? ProtocolCodec.decode(LiveEvent.self, from: text).message }
    }
}

/// Publishes live events in the order they are handed over (one writer drains a queue): a call's `call_ended` never
/// overtakes its `decision`. Handing over never waits.
final class LiveEventPublisher: Sendable {
    private let continuation: AsyncStream<(LiveEvent, String)>.Continuation

    init(bus: LiveEventBus) {
        let (stream, continuation) = AsyncStream.makeStream(of: (LiveEvent, String).self)
        self.continuation = continuation
        Task {
            for await (event, userId) in stream { await bus.publish(event, userId: userId) }
        }
    }

    func publish(_ event: LiveEvent, userId: String) {
        continuation.yield((event, userId))
    }

    deinit { continuation.finish() }
}

/// What the API asks of the gateway that holds a call (`POST /calls/{id}/hangup`, `/takeover`), on the bus for
/// the gateway instance named in the call's record (channel `control:<instance>`): a process without the gateway
/// role reaches the gateway of another.
struct CallControlCommand: Codable, Sendable, Equatable {
    enum Action: String, Codable, Sendable { case hangup, takeover }
    var action: Action
    var callId: String
    var userId: String

    static func channel(for instance: String) -> String { "control:\(instance)" }
}
