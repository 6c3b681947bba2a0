import Synchronization

/// What the HTTP side of a process may ask of its gateway role: for now, calling a user's registered devices.
/// Set once the gateway's user agent exists; empty in processes without the gateway role.
public final class GatewayControl: Sendable {
    private let agent = Mutex<SIPUserAgent?>(nil)

    public init() {}

    func attach(_ agent: SIPUserAgent) {
        self.agent.withLock { $0 = agent }
    }

    public var isAttached: Bool { agent.withLock { $0 != nil } }

    /// Rings every registered device of `user`; nil without a gateway.
    func callDevices(of user: String, hold: Duration) async -> [SIPUserAgent.DeviceCallResult]? {
        guard let agent = agent.withLock({ $0 }) else { return nil }
        return await agent.callDevices(of: user, hold: hold)
    }
}
