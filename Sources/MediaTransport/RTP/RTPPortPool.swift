import AnswerNinjaCore
import Synchronization

/// The RTP port range of the media side: even ports handed out round-robin, and a released port kept in quarantine
/// for a while (so that late packets of an ended call never reach the next call on that port).
public final class RTPPortPool: Sendable {
    public let range: ClosedRange<Int>
    public let quarantine: Duration
    private struct State {
        var next: Int
        var inUse: Set<Int> = []
        var released: [Int: MediaInstant] = [:]
    }
    private let state: Mutex<State>

    /// - Parameter spread: start the round-robin at a random even port of the range, not its first. Processes that
    ///   share a range on one host (tests running side by side, or a caller tool beside the gateway) then do not all
    ///   try the same few ports first, each finding them taken by the others.
    public init(range: ClosedRange<Int>, quarantine: Duration = .seconds(30), spread: Bool = false) {
        precondition(range.count >= 2, "the RTP range needs at least one even port")
        self.range = range
        self.quarantine = quarantine
        let first = range.lowerBound + range.lowerBound % 2
        capacity = (range.upperBound - first) / 2 + 1
        state = Mutex(State(next: spread ? first + 2 * Int.random(in: 0..<capacity) : first))
    }

    /// The calls the range can hold: its even ports (each call's RTCP takes the odd one beside).
    public let capacity: Int

    /// Even ports to try, in order, for a new call: those neither in use nor in quarantine. Round-robin hands out
    /// the port released longest ago first, so when `probes` ports in a row are busy the range is taken as full
    /// (none returned): a nearly full pool costs a bounded look, not a walk over the whole range per call.
    public func candidates(now: MediaInstant, count: Int = 8, probes: Int = 256) -> [Int] {
        state.withLock { state in
            var ports: [Int] = []
            let evens = min((range.count + 1) / 2, probes)
            for _ in 0..<evens where ports.count < count {
                let port = state.next
                state.next += 2
                if state.next > range.upperBound { state.next = range.lowerBound + range.lowerBound % 2 }
                if state.inUse.contains(port) { continue }
                if let released = state.released[port], released.duration(to: now) < quarantine { continue }
                ports.append(port)
            }
            return ports
        }
    }

    /// Ports held by open sessions.
    public var inUseCount: Int { state.withLock { $0.inUse.count } }

    public func markInUse(_ port: Int) {
        state.withLock { _ = $0.inUse.insert(port) }
    }

    public func release(_ port: Int, now: MediaInstant) {
        state.withLock { state in
            state.inUse.remove(port)
            state.released[port] = now
        }
    }
}
