import Foundation

/// Admin actions, appended, and global settings (values are JSON).
public struct AuditLog: Sendable {
    public let database: any SQLDatabase

    public init(database: any SQLDatabase) { self.database = database }

    public struct Entry: Sendable, Equatable, Codable {
        public var id: String
        public var at: Int64
        public var actor: String
        public var action: String
        public var target: String?
        public var detail: String
    }

    @discardableResult
    public func append(actor: String, action: String, target: String?, detail: String = "{}", at: Int64) async throws -> Entry {
        let entry = Entry(id: UUID().uuidString.lowercased(), at: at, actor: actor, action: action, target: target, detail: detail)
        try await database.query(
            "INSERT INTO audit_log (id, at, actor, action, target, detail) VALUES ($1, $2, $3, $4, $5, $6)",
            [.text(entry.id), .integer(at), .text(actor), .text(action), SQLValue(target), .text(detail)]
        )
        return entry
    }

    /// Newest first, `limit` before `before`.
    public func entries(limit: Int, before: Int64 = .max) async throws -> [Entry] {
        try await database.query("SELECT id, at, actor, action, target, detail FROM audit_log WHERE at < $1 ORDER BY at DESC, id LIMIT $2", [.integer(before), .integer(Int64(limit))]).map {
            Entry(id: $0[0].text ?? "", at: $0[1].integer ?? 0, actor: $0[2].text ?? "", action: $0[3].text ?? "", target: $0[4].text, detail: $0[5].text ?? "{}")
        }
    }
}

/// Global settings and feature flags (scope `global`), JSON values.
public struct SettingsStore: Sendable {
    public let database: any SQLDatabase

    public init(database: any SQLDatabase) { self.database = database }

    public func value(_ key: String, scope: String = "global") async throws -> String? {
        try await database.query("SELECT value FROM settings WHERE scope = $1 AND key = $2", [.text(scope), .text(key)]).first?.first?.text
    }

    public func all(scope: String = "global") async throws -> [String: String] {
        Dictionary(uniqueKeysWithValues: try await database.query("SELECT key, value FROM settings WHERE scope = $1", [.text(scope)]).compactMap { row in
            row[0].text.flatMap { key in row[1].text.map { (key, $0) } }
        })
    }

    public func set(_ key: String, to json: String, scope: String = "global", at: Int64) async throws {
        try await database.query(
            "INSERT INTO settings (scope, key, value, updated_at) VALUES ($1, $2, $3, $4) ON CONFLICT (scope, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            [.text(scope), .text(key), .text(json), .integer(at)]
        )
    }

    /// The newest change time in `scope`, so that running roles can see changes without a restart by polling it.
    public func version(scope: String = "global") async throws -> Int64 {
        try await database.query("SELECT coalesce(max(updated_at), 0) FROM settings WHERE scope = $1", [.text(scope)]).first?.first?.integer ?? 0
    }
}
