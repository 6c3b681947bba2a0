import Hummingbird

/// Counts every request in `http_requests_total{method,status}`, including the ones that end in an error.
struct RequestCounter<Context: RequestContext>: RouterMiddleware {
    let telemetry: Telemetry

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            let response = try await next(request, context)
            telemetry.countHTTPRequest(method: request.method.rawValue, status: response.status.code)
            return response
        } catch let error as any HTTPResponseError {
            telemetry.countHTTPRequest(method: request.method.rawValue, status: error.status.code)
            throw error
        } catch {
            telemetry.countHTTPRequest(method: request.method.rawValue, status: 500)
            throw error
        }
    }
}
