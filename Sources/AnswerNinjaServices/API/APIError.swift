import AnswerNinjaCore
import Hummingbird
import NIOCore
import Store

/// An API failure as the client sees it: a status and `{"error": {"code", "message"}}` (docs/api.md). Every handler
/// throws these; anything else thrown becomes a 500 with a generic message (the details go to the log).
public struct APIError: HTTPResponseError, Sendable {
    public let status: HTTPResponse.Status
    public let code: String
    public let message: String
    public var headers: HTTPFields = [:]

    public init(_ status: HTTPResponse.Status, _ code: String, _ message: String) {
        self.status = status
        self.code = code
        self.message = message
    }

    struct Body: Encodable {
        struct Detail: Encodable {
            var code: String
            var message: String
        }
        var error: Detail
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var response = try HTTPRoutes.jsonResponse(Body(error: .init(code: code, message: message)), status: status)
        for field in headers { response.headers.append(field) }
        return response
    }

    static func badRequest(_ message: String, code: String = "invalid_request") -> APIError { APIError(.badRequest, code, message) }
    static func notFound(_ what: String) -> APIError { APIError(.notFound, "not_found", "\(what) not found") }
    static let unauthorized = APIError(.unauthorized, "unauthorized", "sign in first: send Authorization: Bearer <access token>")
    static let forbidden = APIError(.forbidden, "forbidden", "this needs the admin role")
}

/// Turns errors that are not `APIError`s into one: bad JSON into 400, a constraint into 409, anything else into a
/// 500 that says nothing of the internals.
struct APIErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            throw error
        } catch let error as HTTPError {
            throw APIError(error.status, error.status == .notFound ? "not_found" : "invalid_request", error.body ?? error.status.reasonPhrase)
        } catch let error as DecodingError {
            throw APIError.badRequest(Self.describe(error), code: "invalid_json")
        } catch let error as StoreError where error.code.rawValue == "constraint" {
            throw APIError(.conflict, "conflict", error.message)
        } catch {
            context.logger.error("request failed", metadata: ["path": "\(request.uri.path)", "error": "\(error)"])
            throw APIError(.internalServerError, "internal", "something went wrong on our side; it has been logged")
        }
    }

    static func describe(_ error: DecodingError) -> String {
        func path(_ codingPath: [any CodingKey]) -> String {
            codingPath.isEmpty ? "the body" : codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
        }
        switch error {
        case .keyNotFound(let key, let context): return "\(path(context.codingPath + [key])) is required"
        case .typeMismatch(_, let context), .valueNotFound(_, let context): return "\(path(context.codingPath)) has the wrong type"
        case .dataCorrupted(let context): return "\(path(context.codingPath)): \(context.debugDescription)"
        @unknown default: return "the body is not valid JSON for this endpoint"
        }
    }
}
