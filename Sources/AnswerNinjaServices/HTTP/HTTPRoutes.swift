import AnswerNinjaCore
import Hummingbird
import NIOCore

/// The HTTP endpoints every role serves: `/health` (liveness), `/ready` (readiness), `/metrics` (Prometheus) and `/`
/// (where everything listens). The API, dashboard and internal WebSockets join this router in later issues.
public enum HTTPRoutes {
    public struct Health: Encodable, Sendable {
        public var status: String
        public var version: String
        public var roles: [Role]
    }

    public struct ReadyBody: Encodable, Sendable {
        public var status: String
        public var checks: [String: Readiness.Check]
    }

    public static func makeRouter(context: ServiceContext) -> Router<BasicRequestContext> {
        let router = Router()
        router.add(middleware: RequestCounter(telemetry: context.telemetry))
        router.get("/health") { _, _ -> Response in
            try jsonResponse(Health(status: "ok", version: AnswerNinjaVersion.current, roles: context.roles), status: .ok)
        }
        router.get("/ready") { _, _ -> Response in
            let (ready, checks) = context.readiness.snapshot()
            let body = ReadyBody(status: ready ? "ready" : "not_ready", checks: checks)
            return try jsonResponse(body, status: ready ? .ok : .serviceUnavailable)
        }
        router.get("/metrics") { _, _ -> Response in
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: context.telemetry.render())))
        }
        router.get("/") { _, _ -> Response in
            var headers = HTTPFields()
            headers[.contentType] = "text/html; charset=utf-8"
            headers[.contentSecurityPolicy] = "default-src 'self'"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: StatusPage.html(context: context))))
        }
        return router
    }

    /// A JSON response with snake_case keys and any status (Hummingbird's encoder sets 200 for `ResponseEncodable`).
    static func jsonResponse<Body: Encodable>(_ body: Body, status: HTTPResponse.Status) throws -> Response {
        let text = try CommandOutputFormat.json(body)
        var headers = HTTPFields()
        headers[.contentType] = "application/json; charset=utf-8"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}
