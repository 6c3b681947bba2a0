import Hummingbird
import NIOCore
import ServiceLifecycle

/// Closes a connection after its response once graceful shutdown has begun.
///
/// On shutdown the server tells every open connection to quiesce (close when idle, or after the response in
/// progress). With the WebSocket-upgrade server, a connection does not handle that event until its first request has
/// been read: a browser's preconnected socket that was idle at shutdown stays open, the browser sends its next request
/// on it (the live page's event stream reconnecting every 3 s), and the server's shutdown waits on it for as long as
/// the tab is open. So a request served during shutdown quiesces its own connection again, which the connection now
/// handles: it closes after this response, and the browser reconnects elsewhere.
struct QuiesceOnShutdown: RouterMiddleware {
    func handle(_ request: Request, context: NinjaRequestContext, next: (Request, NinjaRequestContext) async throws -> Response) async throws -> Response {
        let pipeline = context.channel.pipeline
        return try await withGracefulShutdownHandler {
            try await next(request, context)
        } onGracefulShutdown: {
            pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
        }
    }
}
