/// A versioned schema change. The SQLite and PostgreSQL folders keep the same numbering (docs/store.md).
public struct Migration: Sendable {
    public let version: Int
    public let name: String
    public let sql: String
}

/// The embedded store's migrations, applied in order by `SQLiteDatabase.migrate()` at start-up.
public enum SQLiteMigrations {
    public static let all: [Migration] = [
        Migration(
            version: 1,
            name: "users_and_aliases",
            sql: """
                CREATE TABLE users (
                    id TEXT PRIMARY KEY,
                    display_name TEXT NOT NULL,
                    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
                );
                CREATE TABLE number_aliases (
                    alias TEXT PRIMARY KEY,
                    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE
                );
                CREATE INDEX number_aliases_user ON number_aliases(user_id);
                """
        ),
    ]
}

extension SQLiteDatabase {
    /// Applies every migration newer than the database's `user_version`, each in its own transaction; returns
    /// the versions applied.
    @discardableResult
    public func migrate(_ migrations: [Migration] = SQLiteMigrations.all) async throws -> [Int] {
        try await transaction { connection in
            let current = try connection.query("PRAGMA user_version").first?.first?.integer ?? 0
            var applied: [Int] = []
            for migration in migrations.sorted(by: { $0.version < $1.version }) where migration.version > current {
                try connection.execute(migration.sql)
                try connection.execute("PRAGMA user_version = \(migration.version)")
                applied.append(migration.version)
            }
            return applied
        }
    }

    /// The schema version (`PRAGMA user_version`).
    public func schemaVersion() async throws -> Int {
        Int(try await query("PRAGMA user_version").first?.first?.integer ?? 0)
    }
}
