import AnswerNinjaCore
import Crypto

/// The UAS/registrar side (RFC 3261 §22.4, RFC 7616 §3.3): issues challenges and verifies credentials, with
/// stateless nonces (a timestamp and an HMAC of it under a server secret, so any instance of the gateway can
/// check a nonce another issued) and nonce counts that must rise (a replayed request is refused; the counts are this
/// instance's). Instances that share a secret must share a clock too: `now` is then wall-clock time, and a nonce
/// stamped more than `clockSkew` ahead of it is stale, as one older than `nonceLifetime` is.
///
/// Time is given (`now`), never read.
public struct DigestServer: Sendable {
    public let realm: String
    public let algorithm: DigestAlgorithm
    /// How long a nonce is good for; after that a correct response is answered with a fresh challenge, `stale=true`.
    public let nonceLifetime: Duration
    private let secret: SymmetricKey
    private var lastCounts: [String: UInt32] = [:]

    public init(realm: String, algorithm: DigestAlgorithm = .sha256, secret: [UInt8], nonceLifetime: Duration = .seconds(300)) {
        self.realm = realm
        self.algorithm = algorithm
        self.secret = SymmetricKey(data: secret)
        self.nonceLifetime = nonceLifetime
    }

    /// A nonce secret the gateways behind one edge share, derived from a key they all have (the caller-profile key),
    /// so that a challenge one gateway issued is answered at another: the edge spreads a device's INVITEs round robin,
    /// and its answer to a 407 is a new INVITE. An HMAC under that key of a label used for nothing else: the nonces
    /// give nothing of the key away.
    public static func secret(sharedFrom key: [UInt8]) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: Array("answer-ninja: SIP digest nonces".utf8), using: SymmetricKey(data: key)))
    }

    /// A fresh challenge (for a 401's WWW-Authenticate or a 407's Proxy-Authenticate).
    public func challenge(now: MediaInstant, stale: Bool = false) -> DigestChallenge {
        DigestChallenge(realm: realm, nonce: nonce(issuedAt: now), algorithm: algorithm, qopAuth: true, stale: stale)
    }

    public enum Verdict: Sendable, Equatable {
        case accepted(username: String)
        /// Wrong user, password or digest: challenge again (or 403 after a few tries).
        case rejected(reason: String)
        /// A correct response on a nonce that is not good here (expired, stamped ahead of this clock, or made under
        /// another secret: an instance of another key, during a key's rotation): challenge again with `stale=true`.
        case stale
    }

    /// How far ahead of `now` a nonce's stamp may be (the clocks of the instances that share a secret differ).
    public static let clockSkew: Duration = .seconds(30)

    /// Checks `credentials` sent with `method`; `ha1` looks up H(username:realm:password) (nil: unknown user).
    public mutating func verify(_ credentials: DigestCredentials, method: String, now: MediaInstant, ha1: (String) -> String?) -> Verdict {
        guard credentials.realm == realm else { return .rejected(reason: "realm \(credentials.realm) is not \(realm)") }
        guard credentials.algorithm == algorithm else { return .rejected(reason: "algorithm \(credentials.algorithm.rawValue) was not offered") }
        guard let stored = ha1(credentials.username) else { return .rejected(reason: "unknown user") }
        let expected = DigestComputation.response(
            ha1: stored, algorithm: credentials.algorithm, nonce: credentials.nonce, method: method, uri: credentials.uri,
            qopAuth: credentials.qopAuth, nonceCount: credentials.nonceCount, cnonce: credentials.cnonce
        )
        guard ConstantTime.equal(expected, credentials.response) else { return .rejected(reason: "wrong digest") }
        // The password was right; the nonce must be one of ours, and fresh.
        guard let issued = issuedAt(credentials.nonce) else { return .stale }
        let age = issued.duration(to: now)
        if age > nonceLifetime || age < .zero - Self.clockSkew { return .stale }
        if let count = credentials.nonceCount {
            if let last = lastCounts[credentials.nonce], count <= last { return .rejected(reason: "nonce count \(count) was already used") }
            lastCounts[credentials.nonce] = count
            if lastCounts.count > 10_000 { lastCounts.removeAll() }  // bounded: old nonces expire anyway
        }
        return .accepted(username: credentials.username)
    }

    // MARK: Nonces

    private func nonce(issuedAt now: MediaInstant) -> String {
        var bytes: [UInt8] = []
        withUnsafeBytes(of: now.nanoseconds.bigEndian) { bytes.append(contentsOf: $0) }
        bytes += Array(HMAC<SHA256>.authenticationCode(for: bytes + Array(realm.utf8), using: secret)).prefix(16)
        return hex(bytes)
    }

    private func issuedAt(_ nonce: String) -> MediaInstant? {
        guard nonce.utf8.count == 48, let bytes = Self.unhex(nonce) else { return nil }
        let stamp = Array(bytes.prefix(8))
        let mac = Array(HMAC<SHA256>.authenticationCode(for: stamp + Array(realm.utf8), using: secret)).prefix(16)
        guard ConstantTime.equal(hex(mac), hex(bytes.suffix(16))) else { return nil }
        return MediaInstant(nanoseconds: stamp.reduce(0) { $0 << 8 | UInt64($1) })
    }

    private static func unhex(_ text: String) -> [UInt8]? {
        var bytes: [UInt8] = []
        var iterator = text.utf8.makeIterator()
        while let high = iterator.next() {
            guard let low = iterator.next(), let h = nibble(high), let l = nibble(low) else { return nil }
            bytes.append(h << 4 | l)
        }
        return bytes
    }

    private static func nibble(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 0x30...0x39: byte - 0x30
        case 0x61...0x66: byte - 0x61 + 10
        default: nil
        }
    }
}
