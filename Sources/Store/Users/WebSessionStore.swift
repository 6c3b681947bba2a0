/// The dashboard's sign-in sessions, stored as hashes of the cookie's token (the token itself is only ever in the
/// browser's cookie jar). A session lasts until it expires or is revoked (sign-out, password change, account
/// deletion); it is not rotated, so a session read on every page costs one primary-key lookup.
public struct WebSessionStore: Sendable {
    public let database: any SQLDatabase

    public init(database: any SQLDatabase) { self.database = database }

    public func create(hash: String, userId: String, createdAt: Int64, expiresAt: Int64) async throws {
        try await database.query(
            "INSERT INTO web_sessions (session_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
            [.text(hash), .text(userId), .integer(createdAt), .integer(expiresAt)]
        )
    }

    /// The user of a live session (not expired at `now`, not revoked), or nil.
    public func user(hash: String, now: Int64) async throws -> String? {
        try await database.query(
            "SELECT user_id FROM web_sessions WHERE session_hash = $1 AND expires_at > $2 AND revoked_at IS NULL", [.text(hash), .integer(now)]
        ).first?[0].text
    }

    public func revoke(hash: String, now: Int64) async throws {
        try await database.query("UPDATE web_sessions SET revoked_at = $2 WHERE session_hash = $1 AND revoked_at IS NULL", [.text(hash), .integer(now)])
    }

    public func revokeAll(userId: String, now: Int64) async throws {
        try await database.query("UPDATE web_sessions SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL", [.text(userId), .integer(now)])
    }

    /// Removes sessions expired before `now`; returns how many.
    @discardableResult
    public func purge(before now: Int64) async throws -> Int {
        try await database.query("DELETE FROM web_sessions WHERE expires_at < $1 RETURNING session_hash", [.integer(now)]).count
    }
}
