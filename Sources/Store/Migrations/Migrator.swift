import Foundation

/// A versioned schema change. The `sqlite` and `postgres` resource folders hold one file per version,
/// `NNNN_name.sql`, with the same numbering and the same tables and columns (a test compares the two schemas).
public struct Migration: Sendable, Equatable {
    public let version: Int
    public let name: String
    public let sql: String

    public init(version: Int, name: String, sql: String) {
        self.version = version
        self.name = name
        self.sql = sql
    }

    /// The bundled migrations of `dialect`, in order.
    public static func bundled(_ dialect: SQLDialect) throws(StoreError) -> [Migration] {
        guard let folder = Bundle.module.url(forResource: dialect.rawValue, withExtension: nil),
            let files = try? FileManager.default.contentsOfDirectory(atPath: folder.path)
        else { throw StoreError(code: .init("migrations"), message: "the \(dialect.rawValue) migrations are missing from the Store bundle") }
        var migrations: [Migration] = []
        for file in files.sorted() where file.hasSuffix(".sql") {
            let stem = file.dropLast(4)
            guard let separator = stem.firstIndex(of: "_"), let version = Int(stem[..<separator]),
                let sql = try? String(contentsOf: folder.appendingPathComponent(file), encoding: .utf8)
            else { throw StoreError(code: .init("migrations"), message: "migration file \(file) is not NNNN_name.sql or cannot be read") }
            migrations.append(Migration(version: version, name: String(stem[stem.index(after: separator)...]), sql: sql))
        }
        return migrations
    }
}

extension SQLDatabase {
    /// Applies every bundled migration newer than the database's version, in one transaction, and returns the
    /// versions applied. SQLite keeps its version in `PRAGMA user_version`; PostgreSQL in `schema_migrations`,
    /// under an advisory lock so that pods starting together migrate once.
    @discardableResult
    public func migrate(_ migrations: [Migration]? = nil) async throws -> [Int] {
        let migrations = try (migrations ?? Migration.bundled(dialect)).sorted { $0.version < $1.version }
        let dialect = self.dialect
        let applied = try await transaction { connection in
            let current: Int
            switch dialect {
            case .sqlite:
                current = try connection.query("PRAGMA user_version").first?.first?.int ?? 0
            case .postgres:
                try connection.query("SELECT pg_advisory_xact_lock(7286476)")
                try connection.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())")
                current = try connection.query("SELECT coalesce(max(version), 0) FROM schema_migrations").first?.first?.int ?? 0
            }
            var applied: [Int] = []
            for migration in migrations where migration.version > current {
                try connection.execute(migration.sql)
                switch dialect {
                case .sqlite: try connection.execute("PRAGMA user_version = \(migration.version)")
                case .postgres: try connection.query("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", [.integer(Int64(migration.version)), .text(migration.name)])
                }
                applied.append(migration.version)
            }
            return applied
        }
        if dialect == .postgres { try await PostgresPartitions.ensure(on: self) }
        return applied
    }

    /// The schema version: the newest migration applied.
    public func schemaVersion() async throws -> Int {
        switch dialect {
        case .sqlite: try await query("PRAGMA user_version").first?.first?.int ?? 0
        case .postgres: try await query("SELECT coalesce(max(version), 0) FROM schema_migrations").first?.first?.int ?? 0
        }
    }
}

/// Monthly partitions of `call_records` and `call_turns` on PostgreSQL, as the original schema had them: the month
/// of now and the next are made ahead (at migration and by the store's hourly upkeep). A partition made for a month
/// that already has rows in the DEFAULT partition adopts them, in the same transaction.
public enum PostgresPartitions {
    public static let tables = [(table: "call_records", key: "started_at"), (table: "call_turns", key: "call_started_at")]

    /// The months to keep ready around `now`: this one and the next.
    public static func months(around now: Date) -> [(name: String, start: Int64, end: Int64)] {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let first = calendar.date(from: calendar.dateComponents([.year, .month], from: now))!
        return (0..<2).map { offset in
            let start = calendar.date(byAdding: .month, value: offset, to: first)!
            let end = calendar.date(byAdding: .month, value: 1, to: start)!
            let parts = calendar.dateComponents([.year, .month], from: start)
            let name = String(format: "y%04dm%02d", parts.year!, parts.month!)
            return (name, Int64(start.timeIntervalSince1970 * 1000), Int64(end.timeIntervalSince1970 * 1000))
        }
    }

    /// Makes the partitions of the months around `now` that do not exist yet; returns the names made.
    @discardableResult
    public static func ensure(on database: any SQLDatabase, now: Date = Date()) async throws -> [String] {
        guard database.dialect == .postgres else { return [] }
        var made: [String] = []
        for month in months(around: now) {
            for (table, key) in tables {
                let partition = "\(table)_\(month.name)"
                let exists = try await database.query("SELECT to_regclass($1) IS NOT NULL", [.text(partition)]).first?.first?.integer == 1
                if exists { continue }
                try await database.transaction { connection in
                    try connection.query("SELECT pg_advisory_xact_lock(7286477)")
                    guard try connection.query("SELECT to_regclass($1) IS NOT NULL", [.text(partition)]).first?.first?.integer != 1 else { return }
                    let range = "\(key) >= \(month.start) AND \(key) < \(month.end)"
                    try connection.execute(
                        """
                        CREATE TEMP TABLE adopted ON COMMIT DROP AS SELECT * FROM \(table)_default WHERE \(range);
                        DELETE FROM \(table)_default WHERE \(range);
                        CREATE TABLE \(partition) PARTITION OF \(table) FOR VALUES FROM (\(month.start)) TO (\(month.end));
                        INSERT INTO \(table) SELECT * FROM adopted;
                        """
                    )
                }
                made.append(partition)
            }
        }
        return made
    }
}
