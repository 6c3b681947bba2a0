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

    let verifier: STIRVerifier
    private let repository: STIRCertificateRepository

    /// Reads the trust anchors; `fetchCA` adds CAs for the HTTPS fetch.
    init(trustAnchors path: String, fetchCA: String?, logger: Logger) throws {
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
            do {
                let chain = try await repository.chain(at: pending.certificateURL)
                return await verifier.verify(pending, chain: chain, now: Date())
            } catch {
                return STIRVerification(
                    outcome: .failed(code: 436, reason: "x5u not fetched: \(error)"), claimedAttestation: pending.passport.claims.attest,
                    origid: pending.passport.claims.origid, certificateURL: pending.certificateURL
                )
            }
        }
    }

    func shutdown() async {
        await repository.shutdown()
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
