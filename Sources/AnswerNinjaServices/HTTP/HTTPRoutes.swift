import AnswerNinjaCore
import Hummingbird
import NIOCore

/// The HTTP endpoints every role serves: `/health` (liveness), `/ready` (readiness), `/metrics` (Prometheus) and
/// `/status` (where everything listens, also at `/` in a process without the API). With the API role, the API under
/// `/api/v1` and the dashboard at `/` join it.
public enum HTTPRoutes {
    public struct Health: Encodable, Sendable {
        public var status: String
        public var version: String
        public var roles: [Role]
    }

    struct DeviceCalls: Encodable, Sendable {
        var user: String
        var calls: [SIPUserAgent.DeviceCallResult]
    }

    public struct ReadyBody: Encodable, Sendable {
        public var status: String
        public var checks: [String: Readiness.Check]
    }

    /// `/health`: alive, with the version and roles (the main listener's and the conversation role's TLS one).
    static func health(_ context: ServiceContext) throws -> Response {
        try jsonResponse(Health(status: "ok", version: AnswerNinjaVersion.current, roles: context.roles), status: .ok)
    }

    /// The router of the HTTP listener; with `api`, the platform API under `/api/v1` too, and with `dashboard` the
    /// dashboard at `/`.
    static func makeRouter(context: ServiceContext, api: APIRoutes? = nil, dashboard: DashboardRoutes? = nil) -> Router<NinjaRequestContext> {
        let router = Router(context: NinjaRequestContext.self)
        router.add(middleware: QuiesceOnShutdown())
        router.add(middleware: RequestCounter(telemetry: context.telemetry))
        api?.register(on: router)
        router.get("/health") { _, _ -> Response in try health(context) }
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
        // Rings a user's registered devices over the flows they registered on (the gateway's device leg); the
        // answered ones hear the greeting for `seconds` (1-300, 10 by default). Internal: not for the public API.
        router.post("/internal/devices/:user/call") { request, requestContext -> Response in
            guard context.gatewayControl.isAttached, let user = requestContext.parameters.get("user") else {
                return try jsonResponse(CommandOutputFormat.Failure(code: "not_found", message: "this process has no gateway role"), status: .notFound)
            }
            let secondsText = request.uri.queryParameters.get("seconds") ?? "10"
            guard let seconds = Int(secondsText), (1...300).contains(seconds) else {
                return try jsonResponse(CommandOutputFormat.Failure(code: "invalid_value", message: "seconds must be a whole number from 1 to 300"), status: .badRequest)
            }
            let calls = await context.gatewayControl.callDevices(of: user, hold: .seconds(seconds)) ?? []
            guard !calls.isEmpty else {
                return try jsonResponse(CommandOutputFormat.Failure(code: "not_registered", message: "\(user) has no registered device"), status: .notFound)
            }
            return try jsonResponse(DeviceCalls(user: user, calls: calls), status: .ok)
        }
        let status: @Sendable (Request, NinjaRequestContext) async throws -> Response = { _, _ in
            var headers = HTTPFields()
            headers[.contentType] = "text/html; charset=utf-8"
            headers[.contentSecurityPolicy] = "default-src 'self'"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: StatusPage.html(context: context))))
        }
        router.get("/status", use: status)
        // With the API, the dashboard takes `/`; without it, `/` is where everything listens.
        if let dashboard {
            dashboard.register(on: router)
        } else {
            router.get("/", use: status)
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
