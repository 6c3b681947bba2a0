import AnswerNinjaCore
import AsyncHTTPClient
import Crypto
import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL

/// The user's webhook (`webhook_url` in their settings), called when each of their calls ends with a JSON summary,
/// off the hangup path (the recorder hands it over and goes on):
///
/// - signed: `X-Answer-Ninja-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`, the secret
///   being the user's own (`GET /api/v1/me/webhook`), derived from the server's key and the user id;
/// - retried on a connection failure, a timeout, 429 or 5xx, after 1, 4 and 16 seconds (four tries in all);
/// - refused when the host is, or resolves to, a loopback, private, link-local or unspecified address, unless
///   `api.webhook_allow_private` is on: a user's URL must not reach inside the network. (The name is resolved once
///   for the check and again by the client: a DNS answer that changes in between is not caught.)
final class WebhookNotifier: Sendable {
    struct Summary: Codable, Sendable, Equatable {
        struct Turn: Codable, Sendable, Equatable {
            var callerText: String
            var replyText: String
        }

        var event = "call.ended"
        var callId: String
        var caller: String
        var callee: String
        var decision: String?
        var reasons: [String]
        var outcome: String
        var endReason: String
        var intent: String?
        var intentConfidence: Double?
        var startedAt: Int64
        var endedAt: Int64
        var turns: [Turn]
        /// Everything the caller said, for a call the user wants or a recorded message (a courier, a pharmacy, a
        /// one-time code, a robocall listened to in full): the message to read. Nil for the rest.
        var message: String?
    }

    static let retryDelays: [Duration] = [.seconds(1), .seconds(4), .seconds(16)]
    static let timeout = TimeAmount.seconds(5)

    private let client: HTTPClient
    private let serverKey: [UInt8]
    private let allowPrivate: Bool
    private let logger: Logger
    private let telemetry: Telemetry

    init(serverKey: [UInt8], allowPrivate: Bool, caFile: String?, telemetry: Telemetry, logger: Logger) {
        var tls = TLSConfiguration.makeClientConfiguration()
        if let caFile { tls.additionalTrustRoots = [.file(caFile)] }
        client = HTTPClient(
            eventLoopGroupProvider: .shared(MultiThreadedEventLoopGroup.singleton),
            configuration: .init(tlsConfiguration: tls, redirectConfiguration: .disallow, timeout: .init(connect: Self.timeout, read: Self.timeout))
        )
        self.serverKey = serverKey
        self.allowPrivate = allowPrivate
        self.logger = logger
        self.telemetry = telemetry
    }

    /// The key a user's webhooks are signed with (hex): theirs alone, and the same on every instance.
    static func secret(for userId: String, serverKey: [UInt8]) -> String {
        HMAC<SHA256>.authenticationCode(for: Array("webhook:\(userId)".utf8), using: SymmetricKey(data: serverKey)).hexString
    }

    /// The signature header's value for `body` sent at `time` (Unix seconds).
    static func signature(_ body: [UInt8], secret: String, time: Int64) -> String {
        let signed = Array("\(time).".utf8) + body
        return "t=\(time),v1=" + HMAC<SHA256>.authenticationCode(for: signed, using: SymmetricKey(data: Array(secret.utf8))).hexString
    }

    /// Why `url` may not be called, or nil: not https, no host, or an internal address (unless allowed).
    func refusal(of url: String) async -> String? {
        guard let components = URLComponents(string: url), components.scheme == "https", let host = components.host, !host.isEmpty else {
            return "not an https URL with a host"
        }
        guard !allowPrivate else { return nil }
        let bare = host.trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        let addresses: [SocketAddress]
        if let literal = try? SocketAddress(ipAddress: bare, port: 443) {
            addresses = [literal]
        } else {
            addresses = (try? await NIOThreadPool.singleton.runIfActive { try Self.resolve(bare) }) ?? []
            guard !addresses.isEmpty else { return "\(bare) does not resolve" }
        }
        if let inside = addresses.first(where: STIRIdentityService.isInternal) { return "\(bare) is an internal address (\(inside.ipAddress ?? ""))" }
        return nil
    }

    /// getaddrinfo, on a thread of the pool (it blocks).
    static func resolve(_ host: String) throws -> [SocketAddress] {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, "443", &hints, &result) == 0, let first = result else { return [] }
        defer { freeaddrinfo(first) }
        var addresses: [SocketAddress] = []
        var next: UnsafeMutablePointer<addrinfo>? = first
        while let entry = next {
            if let address = entry.pointee.ai_addr {
                switch Int32(address.pointee.sa_family) {
                case AF_INET: address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { addresses.append(SocketAddress($0.pointee, host: host)) }
                case AF_INET6: address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { addresses.append(SocketAddress($0.pointee, host: host)) }
                default: break
                }
            }
            next = entry.pointee.ai_next
        }
        return addresses
    }

    /// Sends `summary` to `url` for `userId`, retrying as above; returns the outcome (`delivered`, `refused`,
    /// `failed`), also counted in `webhook_deliveries_total{outcome}`.
    @discardableResult
    func deliver(_ summary: Summary, to url: String, userId: String) async -> String {
        if let reason = await refusal(of: url) {
            logger.warning("webhook refused", metadata: ["call_id": "\(summary.callId)", "reason": "\(reason)"])
            telemetry.counter(.webhooks, ["outcome": "refused"]).increment()
            return "refused"
        }
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = .sortedKeys
        guard let body = try? Array(encoder.encode(summary)) else { return "failed" }
        let secret = Self.secret(for: userId, serverKey: serverKey)
        for attempt in 0...Self.retryDelays.count {
            if attempt > 0 { try? await Task.sleep(for: Self.retryDelays[attempt - 1]) }
            var request = HTTPClientRequest(url: url)
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/json")
            request.headers.add(name: "User-Agent", value: "Answer Ninja \(AnswerNinjaVersion.current)")
            request.headers.add(name: "X-Answer-Ninja-Signature", value: Self.signature(body, secret: secret, time: Int64(Date().timeIntervalSince1970)))
            request.body = .bytes(ByteBuffer(bytes: body))
            do {
                let response = try await client.execute(request, timeout: Self.timeout)
                _ = try? await response.body.collect(upTo: 64 * 1024)
                if (200..<300).contains(response.status.code) {
                    telemetry.counter(.webhooks, ["outcome": "delivered"]).increment()
                    logger.info("webhook delivered", metadata: ["call_id": "\(summary.callId)", "attempt": "\(attempt + 1)", "status": "\(response.status.code)"])
                    return "delivered"
                }
                guard response.status.code == 429 || response.status.code >= 500 else {
                    logger.warning("webhook rejected", metadata: ["call_id": "\(summary.callId)", "status": "\(response.status.code)"])
                    break
                }
                logger.notice("webhook failed, retrying", metadata: ["call_id": "\(summary.callId)", "attempt": "\(attempt + 1)", "status": "\(response.status.code)"])
            } catch {
                logger.notice("webhook failed, retrying", metadata: ["call_id": "\(summary.callId)", "attempt": "\(attempt + 1)", "error": "\(error)"])
            }
        }
        telemetry.counter(.webhooks, ["outcome": "failed"]).increment()
        return "failed"
    }

    func shutdown() async {
        try? await client.shutdown()
    }
}
