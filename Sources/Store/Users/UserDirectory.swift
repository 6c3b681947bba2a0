import AnswerNinjaCore

/// A user of Answer Ninja, as far as the skeleton knows them: an id and a name. The platform issue adds the rest.
public struct UserRecord: Sendable, Equatable, Codable {
    public var id: String
    public var displayName: String
    public var aliases: [NumberAlias]
}

/// Users and the number aliases they own, on the embedded database.
public struct UserDirectory: Sendable {
    let database: SQLiteDatabase

    public init(database: SQLiteDatabase) { self.database = database }

    /// Creates the demo user owning `alias` unless someone already owns it; returns the owner and whether it was
    /// created now. Idempotent across restarts.
    public func ensureDemoUser(alias: NumberAlias) async throws -> (user: UserRecord, created: Bool) {
        let created = try await database.transaction { connection in
            let owner = try connection.query("SELECT user_id FROM number_aliases WHERE alias = ?1", [.text(alias.rawValue)])
            guard owner.isEmpty else { return false }
            let id = "user-" + alias.rawValue
            try _ = connection.query("INSERT OR IGNORE INTO users (id, display_name) VALUES (?1, ?2)", [.text(id), .text("Demo user")])
            try _ = connection.query("INSERT INTO number_aliases (alias, user_id) VALUES (?1, ?2)", [.text(alias.rawValue), .text(id)])
            return true
        }
        guard let user = try await user(owning: alias) else {
            throw StoreError(code: .init("missing_user"), message: "alias \(alias) has no owner after creating it")
        }
        return (user, created)
    }

    /// The user who owns `alias`, if any.
    public func user(owning alias: NumberAlias) async throws -> UserRecord? {
        let rows = try await database.query(
            """
            SELECT u.id, u.display_name, (SELECT group_concat(alias, ' ') FROM number_aliases WHERE user_id = u.id)
            FROM users u JOIN number_aliases a ON a.user_id = u.id WHERE a.alias = ?1
            """,
            [.text(alias.rawValue)]
        )
        guard let row = rows.first, let id = row[0].text, let name = row[1].text else { return nil }
        let aliases = (row[2].text ?? "").split(separator: " ").compactMap { try? NumberAlias(String($0)) }.sorted()
        return UserRecord(id: id, displayName: name, aliases: aliases)
    }

    public func userCount() async throws -> Int {
        Int(try await database.query("SELECT count(*) FROM users").first?.first?.integer ?? 0)
    }
}
