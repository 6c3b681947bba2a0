import AnswerNinjaCore
import Crypto
import Foundation
import Hummingbird
import HummingbirdBcrypt
import HummingbirdOTP
import JWTKit
import NIOConcurrencyHelpers
import NIOPosix
import Store

/// Who made a request: the user and their role, from a verified access token.
struct Principal: Sendable {
    var userId: String
    var role: UserAccount.Role
}

/// Access tokens (HS256 JWTs, 15 minutes), refresh tokens (random, stored hashed, 7 days, rotated with reuse
/// detection), passwords (bcrypt on threads of its own: a hash at cost 12 takes a quarter of a second of CPU) and
/// TOTP (RFC 6238).
final class APIAuth: Sendable {
    static let accessLifetime: Int64 = 15 * 60
    static let refreshLifetime: Int64 = 7 * 24 * 3600

    struct AccessClaims: JWTPayload {
        var sub: SubjectClaim
        var exp: ExpirationClaim
        var iat: IssuedAtClaim
        var role: String

        func verify(using algorithm: some JWTAlgorithm) async throws {
            try exp.verifyNotExpired()
        }
    }

    struct Tokens: Encodable {
        var accessToken: String
        var tokenType = "Bearer"
        var expiresIn = APIAuth.accessLifetime
        var refreshToken: String
    }

    let keys = JWTKeyCollection()
    let platform: Platform
    /// Tokens verified already, until they expire: a client sends the same token for its 15 minutes, and verifying
    /// it (an actor hop, base64, JSON and an HMAC) cost more than the rest of a cached whitelist check. Bounded:
    /// emptied when full. Only a token whose signature was verified gets in.
    private let verified = NIOLockedValueBox<[String: (principal: Principal, expires: Date)]>([:])
    static let verifiedLimit = 10_000
    let bcryptCost: UInt8
    private let hashing: NIOThreadPool

    init(platform: Platform, bcryptCost: Int) async {
        self.platform = platform
        self.bcryptCost = UInt8(bcryptCost)
        hashing = NIOThreadPool(numberOfThreads: 2)
        hashing.start()
        await keys.add(hmac: HMACKey(from: platform.jwtSecret), digestAlgorithm: .sha256)
    }

    func hash(_ password: String) async throws -> String {
        try await hashing.runIfActive { [bcryptCost] in Bcrypt.hash(password, cost: bcryptCost) }
    }

    func verify(_ password: String, hash: String) async throws -> Bool {
        try await hashing.runIfActive { Bcrypt.verify(password, hash: hash) }
    }

    /// A new access token and a refresh token of `family` (a new family at sign-in, the same one on rotation).
    func issue(for account: UserAccount, family: String? = nil) async throws -> Tokens {
        let now = Date()
        let claims = AccessClaims(sub: .init(value: account.id), exp: .init(value: now.addingTimeInterval(TimeInterval(Self.accessLifetime))), iat: .init(value: now), role: account.role.rawValue)
        let access = try await keys.sign(claims)
        let refresh = Self.randomToken()
        let issuedAt = unixMilliseconds(now)
        try await platform.tokens.issue(hash: Self.digest(refresh), userId: account.id, family: family ?? Self.randomToken(), issuedAt: issuedAt, expiresAt: issuedAt + Self.refreshLifetime * 1000)
        return Tokens(accessToken: access, refreshToken: refresh)
    }

    /// The principal of a request with a valid `Authorization: Bearer` access token.
    func principal(_ request: Request) async throws -> Principal {
        guard let header = request.headers[.authorization], header.lowercased().hasPrefix("bearer ") else { throw APIError.unauthorized }
        let token = String(header.dropFirst(7)).trimmingCharacters(in: .whitespaces)
        let now = Date()
        if let known = verified.withLockedValue({ $0[token] }), known.expires > now { return known.principal }
        guard let claims = try? await keys.verify(token, as: AccessClaims.self) else {
            throw APIError(.unauthorized, "invalid_token", "the access token is invalid or expired: refresh it or sign in again")
        }
        let principal = Principal(userId: claims.sub.value, role: UserAccount.Role(rawValue: claims.role) ?? .user)
        verified.withLockedValue { cache in
            if cache.count >= Self.verifiedLimit { cache.removeAll(keepingCapacity: true) }
            cache[token] = (principal, claims.exp.value)
        }
        return principal
    }

    /// RFC 6238 with SHA-1 and 6 digits, accepting the step before and after (clock drift).
    static func totpMatches(_ code: String, secret: String, at date: Date = Date()) -> Bool {
        guard code.count == 6, let value = Int(code) else { return false }
        let totp = TOTP(secret: secret)
        return (-1...1).contains { totp.compute(date: date.addingTimeInterval(Double($0 * 30))) == value }
    }

    static func randomToken() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: 0 ... .max, using: &generator) }
        return base64URL(Data(bytes))
    }

    /// Base64url without padding (RFC 4648 §5): tokens that go in cookies, forms and JSON as they are.
    static func base64URL(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    /// SHA-256 hex: how refresh tokens are stored.
    static func digest(_ token: String) -> String {
        SHA256.hash(data: Array(token.utf8)).hexString
    }

    func close() async {
        try? await hashing.shutdownGracefully()
    }
}

/// RFC 4648 base32 without padding, as authenticator apps take a typed-in secret.
enum Base32 {
    static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")

    static func encode(_ bytes: [UInt8]) -> String {
        var output = ""
        var buffer = 0, bits = 0
        for byte in bytes {
            buffer = (buffer << 8) | Int(byte)
            bits += 8
            while bits >= 5 {
                output.append(alphabet[(buffer >> (bits - 5)) & 31])
                bits -= 5
            }
        }
        if bits > 0 { output.append(alphabet[(buffer << (5 - bits)) & 31]) }
        return output
    }
}
