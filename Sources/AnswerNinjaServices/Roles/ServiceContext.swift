import AnswerNinjaCore
import Logging
import Synchronization

/// What the services of one process share: configuration, roles, telemetry, readiness, and the list of listeners
/// (what `serve` prints and the status page shows).
public final class ServiceContext: Sendable {
    public struct Listener: Sendable, Equatable, Codable {
        public var name: String
        public var address: String
        public var detail: String
        public init(name: String, address: String, detail: String) {
            self.name = name
            self.address = address
            self.detail = detail
        }
    }

    public let configuration: NinjaConfiguration
    public let roles: [Role]
    public let telemetry: Telemetry
    public let readiness: Readiness
    public let logger: Logger
    /// The gateway role's user agent, for the HTTP endpoints that act on calls and devices.
    public let gatewayControl = GatewayControl()
    private let listenerList = Mutex<[Listener]>([])

    public init(configuration: NinjaConfiguration, roles: [Role], logger: Logger, telemetry: Telemetry? = nil) {
        self.configuration = configuration
        self.roles = roles.sorted()
        let telemetry = telemetry ?? Telemetry(roles: roles)
        self.telemetry = telemetry
        self.readiness = Readiness { telemetry.setReady($0) }
        self.logger = logger
    }

    public func addListener(_ listener: Listener) {
        listenerList.withLock { $0.append(listener) }
    }

    public func listeners() -> [Listener] {
        listenerList.withLock { $0 }
    }
}
