import Synchronization

/// What the HTTP side of a process may ask of its gateway role: calling a user's registered devices, and the user's
/// controls on a live call. Set once the gateway's user agent exists; empty in processes without the gateway role
/// (the API then sends the command on the bus to the gateway instance that holds the call).
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

    /// Carries out `command` on this process's gateway; nil without one.
    func perform(_ command: CallControlCommand) async -> SIPUserAgent.ControlResult? {
        guard let agent = agent.withLock({ $0 }) else { return nil }
        switch command.action {
        case .hangup: return await agent.hangUp(callID: command.callId, userId: command.userId)
        case .takeover: return await agent.takeOver(callID: command.callId, userId: command.userId)
        }
    }
}
