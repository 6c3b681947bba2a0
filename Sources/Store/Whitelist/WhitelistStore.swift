import AnswerNinjaCore
import Screening

/// Users' whitelist and block-list entries, on either database.
public struct WhitelistStore: Sendable {
    public let database: any SQLDatabase

    public init(database: any SQLDatabase) { self.database = database }

    static let columns = "pattern, list, source, label, reason, expires_at, created_at"

    static let insert = """
        INSERT INTO whitelist_entries (user_id, pattern, list, source, label, reason, expires_at, created_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
        """

    /// `entry`'s columns in the order of `insert`.
    static func values(_ entry: WhitelistEntry, userId: String) -> [SQLValue] {
        [
            .text(userId), .text(entry.pattern.rawValue), .text(entry.list.rawValue), .text(entry.source.rawValue), SQLValue(entry.label),
            SQLValue(entry.reason), SQLValue(entry.expiresAt), .integer(entry.createdAt),
        ]
    }

    /// Adds or replaces the entry for the entry's pattern.
    public func save(_ entry: WhitelistEntry, userId: String) async throws {
        try await database.query(
            Self.insert + """

                ON CONFLICT (user_id, pattern) DO UPDATE SET list = excluded.list, source = excluded.source, label = excluded.label,
                    reason = excluded.reason, expires_at = excluded.expires_at, created_at = excluded.created_at
                """,
            Self.values(entry, userId: userId)
        )
    }

    /// Saves many entries in one transaction (a contacts import); returns how many were new.
    @discardableResult
    public func saveAll(_ entries: [WhitelistEntry], userId: String, replacing: Bool = false) async throws -> Int {
        try await database.transaction { connection in
            var added = 0
            for entry in entries {
                let values = Self.values(entry, userId: userId)
                let inserted = try connection.query(Self.insert + " ON CONFLICT (user_id, pattern) DO NOTHING RETURNING pattern", values)
                if !inserted.isEmpty { added += 1 } else if replacing {
                    try connection.query(
                        "UPDATE whitelist_entries SET list = $3, source = $4, label = $5, reason = $6, expires_at = $7, created_at = $8 WHERE user_id = $1 AND pattern = $2",
                        values
                    )
                }
            }
            return added
        }
    }

    /// Learns an allow entry (a number the user called, a call they accepted) unless the user has an entry for that
    /// exact number already: a learned entry never overrides what the user said. True when learned.
    @discardableResult
    public func learn(_ number: E164Number, userId: String, reason: String, now: Int64) async throws -> Bool {
        let entry = WhitelistEntry(pattern: try WhitelistPattern(number.rawValue), list: .allow, source: .learned, reason: reason, createdAt: now)
        return try await saveAll([entry], userId: userId) == 1
    }

    @discardableResult
    public func delete(pattern: String, userId: String) async throws -> Bool {
        !(try await database.query("DELETE FROM whitelist_entries WHERE user_id = $1 AND pattern = $2 RETURNING pattern", [.text(userId), .text(pattern)]).isEmpty)
    }

    /// Every entry of the user (the decision needs them all; a user has hundreds, not millions).
    public func entries(userId: String) async throws -> [WhitelistEntry] {
        try await database.query("SELECT \(Self.columns) FROM whitelist_entries WHERE user_id = $1 ORDER BY pattern", [.text(userId)]).compactMap(Self.entry)
    }

    /// A page of entries, by pattern, optionally of one list.
    public func page(userId: String, list: WhitelistEntry.List? = nil, limit: Int, offset: Int) async throws -> (entries: [WhitelistEntry], total: Int) {
        let filter = "user_id = $1 AND (CAST($2 AS TEXT) IS NULL OR list = CAST($2 AS TEXT))"
        let parameters: [SQLValue] = [.text(userId), SQLValue(list?.rawValue)]
        let total = try await database.query("SELECT count(*) FROM whitelist_entries WHERE \(filter)", parameters).first?.first?.int ?? 0
        let rows = try await database.query(
            "SELECT \(Self.columns) FROM whitelist_entries WHERE \(filter) ORDER BY pattern LIMIT $3 OFFSET $4", parameters + [.integer(Int64(limit)), .integer(Int64(offset))]
        )
        return (rows.compactMap(Self.entry), total)
    }

    /// The whitelist's decision for `number`.
    public func check(userId: String, number: E164Number, now: Int64) async throws -> WhitelistDecision {
        WhitelistRules.check(try await entries(userId: userId), number: number, now: now)
    }

    /// Removes entries expired more than `grace` ago (the original purged after 168 h); returns how many.
    @discardableResult
    public func purgeExpired(before cutoff: Int64) async throws -> Int {
        try await database.query("DELETE FROM whitelist_entries WHERE expires_at IS NOT NULL AND expires_at < $1 RETURNING pattern", [.integer(cutoff)]).count
    }

    static func entry(_ row: SQLRow) -> WhitelistEntry? {
        guard let pattern = row[0].text.flatMap({ try? WhitelistPattern($0) }), let list = row[1].text.flatMap(WhitelistEntry.List.init(rawValue:)),
            let source = row[2].text.flatMap(WhitelistEntry.Source.init(rawValue:))
        else { return nil }
        return WhitelistEntry(pattern: pattern, list: list, source: source, label: row[3].text, reason: row[4].text, expiresAt: row[5].integer, createdAt: row[6].integer ?? 0)
    }
}
