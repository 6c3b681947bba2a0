import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOSSL
import SIPIdentity
import SIPMessages
import X509

/// The gateway's STIR/SHAKEN verification service (RFC 8224 §6.2): examines an INVITE's Identity header, fetches the
/// signer's certificate chain from its x5u over HTTPS (cached), and checks signature and chain with `STIRVerifier`.
/// The result goes with the call to the screening decision; the call is never refused for it.
final class STIRIdentityService: Sendable {
    /// How long a fetch of a certificate may take: the INVITE waits for it.
    static let fetchTimeout: TimeAmount = .seconds(2)
    /// The largest certificate chain we read (a SHAKEN chain is two or three certificates, about 2 KiB).
    static let maximumChainBytes = 64 * 1024

    /// Certificate fetches under way at once, at most (an INVITE beyond gets 436 rather than a queue).
    static let maximumFetches = 8

    let verifier: STIRVerifier
    private let repository: STIRCertificateRepository
    /// Hosts an x5u may name; empty: any but loopback, private and link-local addresses.
    let allowedHosts: Set<String>

    /// Reads the trust anchors; `fetchCA` adds CAs for the HTTPS fetch.
    init(trustAnchors path: String, fetchCA: String?, allowedHosts: [String] = [], logger: Logger) throws {
        self.allowedHosts = Set(allowedHosts.map { $0.lowercased() })
        let anchors = try STIRVerifier.certificates(pem: String(contentsOfFile: path, encoding: .utf8))
        verifier = STIRVerifier(trustAnchors: anchors)
        var tls = TLSConfiguration.makeClientConfiguration()
        if let fetchCA { tls.additionalTrustRoots = [.file(fetchCA)] }
        let client = HTTPClient(
            eventLoopGroupProvider: .singleton,
            configuration: .init(tlsConfiguration: tls, redirectConfiguration: .disallow, timeout: .init(connect: Self.fetchTimeout, read: Self.fetchTimeout))
        )
        repository = STIRCertificateRepository(client: client, logger: logger)
    }

    /// Verifies `invite`'s Identity against the numbers of `identity` (From and a trusted P-Asserted-Identity; the
    /// called number and To).
    func verify(_ invite: SIPRequest, identity: SIPCallIdentity) async -> STIRVerification {
        let to = SIPMessage.request(invite).to.flatMap { SIPCallIdentity.number($0.uri) }
        let examination = verifier.examine(
            identity: invite.headers.list("Identity"), callers: [identity.caller, identity.asserted], called: [identity.called, to], now: Date()
        )
        switch examination {
        case .finished(let result): return result
        case .needsCertificate(let pending):
            if let refusal = Self.refusal(of: pending.certificateURL, allowedHosts: allowedHosts) {
                return pending.result(.failed(code: 436, reason: refusal))
            }
            do {
                let chain = try await repository.chain(at: pending.certificateURL)
                return await verifier.verify(pending, chain: chain, now: Date())
            } catch {
                return pending.result(.failed(code: 436, reason: "x5u not fetched: \(error)"))
            }
        }
    }

    func shutdown() async {
        await repository.shutdown()
    }

    /// Why the gateway will not fetch `url`, or nil: a host outside `sip.stir_certificate_hosts`, or, without that
    /// list, an address inside a network (loopback, private, link-local, unspecified), since the URL is the
    /// caller's and nothing is verified before the fetch.
    static func refusal(of url: String, allowedHosts: Set<String>) -> String? {
        guard let host = URL(string: url)?.host?.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "[]")), !host.isEmpty else {
            return "x5u has no host"
        }
        if !allowedHosts.isEmpty { return allowedHosts.contains(host) ? nil : "x5u host \(host) is not an accepted certificate repository" }
        guard let address = try? SocketAddress(ipAddress: host, port: 443) else { return nil }  // a name
        return Self.isInternal(address) ? "x5u names an internal address (\(host))" : nil
    }

    static func isInternal(_ address: SocketAddress) -> Bool {
        switch address {
        case .v4(let v4):
            let value = UInt32(bigEndian: v4.address.sin_addr.s_addr)
            let (a, b) = (value >> 24, (value >> 16) & 0xFF)
            return a == 0 || a == 10 || a == 127 || (a == 169 && b == 254) || (a == 172 && (16...31).contains(b)) || (a == 192 && b == 168)
                || (a == 100 && (64...127).contains(b))
        case .v6:
            let text = address.ipAddress?.lowercased() ?? ""
            return text == "::1" || text == "::" || text.hasPrefix("fe80:") || text.hasPrefix("fc") || text.hasPrefix("fd") || text.hasPrefix("::ffff:")
        default:
            return true
        }
    }
}

/// Certificate chains fetched from x5u URLs, cached for `STIRCertificateLifetime`; one fetch per URL at a time.
actor STIRCertificateRepository {
    static let maximumEntries = 1000

    private let client: HTTPClient
    private let logger: Logger
    private var cache: [String: (chain: [Certificate], expires: ContinuousClock.Instant)] = [:]
    private var inFlight: [String: Task<(chain: [Certificate], lifetime: Duration), any Error>] = [:]

    init(client: HTTPClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    func chain(at url: String) async throws -> [Certificate] {
        let now = ContinuousClock.now
        if let cached = cache[url], cached.expires > now { return cached.chain }
        if let running = inFlight[url] { return try await running.value.chain }
        guard inFlight.count < STIRIdentityService.maximumFetches else {
            throw SIPIdentityError.unsupported("too many certificate fetches at once")
        }
        let client = client
        let task = Task { try await Self.fetch(url, client: client) }
        inFlight[url] = task
        defer { inFlight[url] = nil }
        let (chain, lifetime) = try await task.value
        guard lifetime > .zero else { return chain }
        if cache.count >= Self.maximumEntries, let oldest = cache.min(by: { $0.value.expires < $1.value.expires })?.key { cache[oldest] = nil }
        cache[url] = (chain, ContinuousClock.now + lifetime)
        logger.info("stir certificate fetched", metadata: ["url": "\(url)", "certificates": "\(chain.count)", "cached_for": "\(lifetime)"])
        return chain
    }

    private static func fetch(_ url: String, client: HTTPClient) async throws -> (chain: [Certificate], lifetime: Duration) {
        var request = HTTPClientRequest(url: url)
        request.method = .GET
        request.headers.add(name: "Accept", value: "application/pem-certificate-chain")
        let response = try await client.execute(request, timeout: STIRIdentityService.fetchTimeout)
        guard response.status == .ok else { throw SIPIdentityError.malformed("x5u answered \(response.status.code)") }
        let body = try await response.body.collect(upTo: STIRIdentityService.maximumChainBytes)
        return (try STIRVerifier.certificates(pem: String(buffer: body)), STIRCertificateLifetime(cacheControl: response.headers["Cache-Control"]).duration)
    }

    func shutdown() async {
        try? await client.shutdown()
    }
}
