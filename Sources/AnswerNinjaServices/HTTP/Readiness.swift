import Synchronization

/// The readiness checks of this process (`/ready`): each component reports whether it can take traffic.
public final class Readiness: Sendable {
    public struct Check: Sendable, Equatable, Codable {
        public var ready: Bool
        public var detail: String
    }

    private let checks = Mutex<[String: Check]>([:])
    private let onChange: @Sendable (Bool) -> Void

    /// - Parameter onChange: called with the overall state after every report (for the `answer_ninja_ready` gauge).
    public init(onChange: @escaping @Sendable (Bool) -> Void = { _ in }) {
        self.onChange = onChange
    }

    /// Declares a check that is not ready yet.
    public func expect(_ name: String, detail: String = "starting") {
        report(name, ready: false, detail: detail)
    }

    public func report(_ name: String, ready: Bool, detail: String) {
        let overall = checks.withLock { checks in
            checks[name] = Check(ready: ready, detail: detail)
            return checks.values.allSatisfy(\.ready)
        }
        onChange(overall)
    }

    /// Every check, and whether all pass (false while none is declared: a process that declared nothing is not
    /// ready by accident).
    public func snapshot() -> (ready: Bool, checks: [String: Check]) {
        checks.withLock { checks in (!checks.isEmpty && checks.values.allSatisfy(\.ready), checks) }
    }
}
