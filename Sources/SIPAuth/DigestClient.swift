import SIPMessages

/// The UAC side (RFC 3261 §22.2, §22.3): answers a 401/407 challenge with credentials for a request, counting its
/// uses of each nonce (`nc`) so that a registrar that remembers them sees them rise.
public struct DigestClient: Sendable {
    public let username: String
    private let password: String
    private var nonceCounts: [String: UInt32] = [:]

    public init(username: String, password: String) {
        self.username = username
        self.password = password
    }

    /// Credentials for `method` on `uri` (the Request-URI as sent) under `challenge`. `cnonce` is random unless a
    /// test gives one.
    public mutating func credentials(for challenge: DigestChallenge, method: String, uri: String, cnonce: String? = nil) -> DigestCredentials {
        let count = (nonceCounts[challenge.nonce] ?? 0) + 1
        nonceCounts[challenge.nonce] = count
        let clientNonce = challenge.qopAuth ? (cnonce ?? hex((0..<16).map { _ in UInt8.random(in: 0...255) })) : nil
        let ha1 = DigestComputation.ha1(username: username, realm: challenge.realm, password: password, algorithm: challenge.algorithm)
        let response = DigestComputation.response(
            ha1: ha1, algorithm: challenge.algorithm, nonce: challenge.nonce, method: method, uri: uri, qopAuth: challenge.qopAuth,
            nonceCount: challenge.qopAuth ? count : nil, cnonce: clientNonce
        )
        return DigestCredentials(
            username: username, realm: challenge.realm, nonce: challenge.nonce, uri: uri, response: response, algorithm: challenge.algorithm,
            cnonce: clientNonce, nonceCount: challenge.qopAuth ? count : nil, qopAuth: challenge.qopAuth, opaque: challenge.opaque
        )
    }
}

extension DigestClient {
    /// `request` again, answering the challenge of `response` (a 401's WWW-Authenticate, a 407's Proxy-Authenticate)
    /// with credentials in the matching header, CSeq one higher and `via` (a new branch): RFC 3261 §22.2. Nil when
    /// `response` carries no challenge that parses, or `request` has no CSeq.
    public mutating func authorize(_ request: SIPRequest, answering response: SIPResponse, via: SIPVia) -> SIPRequest? {
        let proxy = response.statusCode == 407
        guard let challenge = response.headers.first(proxy ? "Proxy-Authenticate" : "WWW-Authenticate").flatMap({ try? DigestChallenge(parsing: $0) }),
              let sequence = request.headers.cseq?.sequence
        else { return nil }
        var retry = request
        retry.headers.set("Via", via.serialized)
        retry.headers.set("CSeq", "\(sequence + 1) \(request.method)")
        retry.headers.set(proxy ? "Proxy-Authorization" : "Authorization", credentials(for: challenge, method: request.method, uri: request.uri.description).headerValue)
        return retry
    }
}
