import Hummingbird
import NIOCore

/// The request context of the HTTP router: Hummingbird's basics and the client's address (for sign-in rate limits).
public struct NinjaRequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }

    /// The client's IP address, or "unknown".
    public var clientAddress: String { remoteAddress?.ipAddress ?? "unknown" }
}
