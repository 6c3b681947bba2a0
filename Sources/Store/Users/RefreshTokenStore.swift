/// Refresh tokens, stored as hashes (the token itself is only ever in the client's hands). Each use rotates: the
/// used token is marked and a new one of the same family issued. A token used twice means it was stolen (one of the
/// two uses is an attacker's): the whole family is revoked, and both the thief and the user must sign in again.
public struct RefreshTokenStore: Sendable {
    public let database: any SQLDatabase

    public init(database: any SQLDatabase) { self.database = database }

    public enum Redemption: Sendable, Equatable {
        case valid(userId: String, family: String)
        case unknown
        case expired
        case revoked
        /// Used before: the family is now revoked.
        case reused(userId: String, family: String)
    }

    public func issue(hash: String, userId: String, family: String, issuedAt: Int64, expiresAt: Int64) async throws {
        try await database.query(
            "INSERT INTO refresh_tokens (token_hash, user_id, family, issued_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
            [.text(hash), .text(userId), .text(family), .integer(issuedAt), .integer(expiresAt)]
        )
    }

    /// Marks the token used if it may be. The conditional UPDATE comes first: on PostgreSQL two racing uses of one
    /// token serialise on its row, and the second finds it used (and revokes the family) instead of both passing.
    public func redeem(hash: String, now: Int64) async throws -> Redemption {
        try await database.transaction { connection in
            if let row = try connection.query(
                "UPDATE refresh_tokens SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > $2 RETURNING user_id, family",
                [.text(hash), .integer(now)]
            ).first, let userId = row[0].text, let family = row[1].text {
                return .valid(userId: userId, family: family)
            }
            guard let row = try connection.query(
                "SELECT user_id, family, expires_at, used_at, revoked_at FROM refresh_tokens WHERE token_hash = $1", [.text(hash)]
            ).first, let userId = row[0].text, let family = row[1].text else { return .unknown }
            if !row[4].isNull { return .revoked }
            if !row[3].isNull {
                try connection.query("UPDATE refresh_tokens SET revoked_at = $2 WHERE family = $1 AND revoked_at IS NULL", [.text(family), .integer(now)])
                return .reused(userId: userId, family: family)
            }
            return .expired
        }
    }

    public func revokeFamily(_ family: String, now: Int64) async throws {
        try await database.query("UPDATE refresh_tokens SET revoked_at = $2 WHERE family = $1 AND revoked_at IS NULL", [.text(family), .integer(now)])
    }

    public func revokeAll(userId: String, now: Int64) async throws {
        try await database.query("UPDATE refresh_tokens SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL", [.text(userId), .integer(now)])
    }

    /// Removes tokens expired before `now`; returns how many.
    @discardableResult
    public func purge(before now: Int64) async throws -> Int {
        try await database.query("DELETE FROM refresh_tokens WHERE expires_at < $1 RETURNING token_hash", [.integer(now)]).count
    }
}
