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

    public init(range: ClosedRange<Int>, quarantine: Duration = .seconds(30)) {
        precondition(range.count >= 2, "the RTP range needs at least one even port")
        self.range = range
        self.quarantine = quarantine
        let first = range.lowerBound + range.lowerBound % 2
        state = Mutex(State(next: first))
    }

    /// Even ports to try, in order, for a new call: those neither in use nor in quarantine.
    public func candidates(now: MediaInstant, count: Int = 8) -> [Int] {
        state.withLock { state in
            var ports: [Int] = []
            let evens = (range.count + 1) / 2
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
