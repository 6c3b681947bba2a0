import AnswerNinjaCore
import Foundation
import Hummingbird
import HummingbirdWebSocket
import Logging
import MediaTransport
import Synchronization

/// The media role inside `serve` (`media.loopback`): the control channel's route on this process's HTTP listener,
/// and the `MediaControlServer` the gateway attaches once it has made the engine (it shares the gateway's media
/// threads, port pool and assistant). The gateway reaches it over loopback with the same WebSocket, protocol and
/// client as a media role apart, so `serve`'s calls take the path a deployment takes.
///
/// The route is on the HTTP listener, which may face the world, and the channel starts sessions that send RTP wherever
/// an SDP says: it upgrades only a request carrying the token this process made at start (Hummingbird answers
/// a refused upgrade with 400).
final class LoopbackMedia: Sendable {
    static let tokenHeader = "X-Answer-Ninja-Media-Token"
    let token: String
    private let server = Mutex<MediaControlServer?>(nil)

    init() {
        var generator = SystemRandomNumberGenerator()
        token = (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
    }

    /// Adds the guarded route to `router`.
    func register(on router: Router<BasicWebSocketRequestContext>, logger: Logger) {
        let token = token
        router.ws(RouterPath(stringLiteral: MediaRoleService.path), shouldUpgrade: { [self] request, _ in
            guard let name = HTTPFields.Element.Name(Self.tokenHeader), let given = request.headers[name], Self.same(given, token) else {
                throw HTTPError(.forbidden, message: "the media control channel of this process is for its own gateway")
            }
            guard self.server.withLock({ $0 }) != nil else { throw HTTPError(.serviceUnavailable, message: "the media role is not up yet") }
            return .upgrade([:])
        }) { [self] inbound, outbound, _ in
            guard let server = self.server.withLock({ $0 }) else { return }
            logger.info("media control connection opened", metadata: ["where": "loopback"])
            await WebSocketControlConnection.serve(inbound: inbound, outbound: outbound) { await server.serve($0) }
        }
    }

    /// Compares in a time that does not depend on where the two differ.
    static func same(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count else { return false }
        return zip(x, y).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
    }

    func attach(_ server: MediaControlServer) { self.server.withLock { $0 = server } }

    /// The headers a connection needs.
    var headers: [String: String] { [Self.tokenHeader: token] }
}
