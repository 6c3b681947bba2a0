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
