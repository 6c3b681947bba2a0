import AsyncHTTPClient
import NIOCore

/// `answer-ninja healthcheck`: the container HEALTHCHECK (the slim image has no curl). GETs `/health` and `/ready`.
public enum HealthProbe {
    public struct Result: Codable, Sendable {
        public var url: String
        public var healthy: Bool
        public var status: Int?
        public var body: String?
        public var error: String?
    }

    public static func check(url: String, timeout: TimeAmount = .seconds(3), limit: Int = 64 * 1024) async -> Result {
        do {
            var request = HTTPClientRequest(url: url)
            request.method = .GET
            let response = try await HTTPClient.shared.execute(request, timeout: timeout)
            let body = try await response.body.collect(upTo: limit)
            let status = Int(response.status.code)
            return Result(url: url, healthy: status == 200, status: status, body: String(buffer: body), error: nil)
        } catch {
            return Result(url: url, healthy: false, status: nil, body: nil, error: "\(error)")
        }
    }
}
