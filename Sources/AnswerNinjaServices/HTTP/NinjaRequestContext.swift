import Hummingbird
import NIOCore

/// The request context of the HTTP router: Hummingbird's basics, the client's address (for sign-in rate limits) and
/// the connection (for `QuiesceOnShutdown`).
public struct NinjaRequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?
    public let channel: any Channel

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
        channel = source.channel
    }

    /// The client's IP address, or "unknown".
    public var clientAddress: String { remoteAddress?.ipAddress ?? "unknown" }
}
