import AnswerNinjaCore
import Foundation

/// A user of Answer Ninja as the demo seeding and the gateway's lookup see them: an id, a name and their numbers.
public struct UserRecord: Sendable, Equatable, Codable {
    public var id: String
    public var displayName: String
    public var aliases: [NumberAlias]
}

/// A user's account: sign-in, role, two-factor, where wanted calls go, settings (JSON) and numbers. Numbers are
/// E.164 (`+14155550123`) or aliases (`demo`), each owned by one user.
public struct UserAccount: Sendable, Equatable, Codable {
    public enum Role: String, Sendable, Codable, CaseIterable { case user, admin }

    public var id: String
    public var email: String?
    public var displayName: String
    public var passwordHash: String?
    public var role: Role
    public var totpSecret: String?
    public var forwardingTarget: String?
    public var settings: String
    public var numbers: [String]
    public var createdAt: String
}

/// Users and the numbers they own, on either database.
public struct UserDirectory: Sendable {
    public let database: any SQLDatabase

    public init(database: any SQLDatabase) { self.database = database }

    static let accountColumns = "id, email, display_name, password_hash, role, totp_secret, forwarding_target, settings, created_at"

    /// Creates the demo user owning `alias` unless someone already owns it; returns the owner and whether it was
    /// created now. Idempotent across restarts.
    public func ensureDemoUser(alias: NumberAlias) async throws -> (user: UserRecord, created: Bool) {
        let created = try await database.transaction { connection in
            let owner = try connection.query("SELECT user_id FROM number_aliases WHERE alias = $1", [.text(alias.rawValue)])
            guard owner.isEmpty else { return false }
            let id = "user-" + alias.rawValue
            try connection.query("INSERT INTO users (id, display_name) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING", [.text(id), .text("Demo user")])
            // Two pods starting together: the second finds the alias taken and changes nothing.
            return !(try connection.query("INSERT INTO number_aliases (alias, user_id) VALUES ($1, $2) ON CONFLICT (alias) DO NOTHING RETURNING alias", [.text(alias.rawValue), .text(id)]).isEmpty)
        }
        guard let user = try await user(owning: alias.rawValue) else {
            throw StoreError(code: .init("missing_user"), message: "alias \(alias) has no owner after creating it")
        }
        return (user, created)
    }

    /// The user who owns `number` (an E.164 number or an alias), if any.
    public func user(owning number: String) async throws -> UserRecord? {
        let rows = try await database.query(
            "SELECT u.id, u.display_name FROM users u JOIN number_aliases a ON a.user_id = u.id WHERE a.alias = $1", [.text(number)]
        )
        guard let row = rows.first, let id = row[0].text, let name = row[1].text else { return nil }
        let numbers = try await self.numbers(of: id)
        return UserRecord(id: id, displayName: name, aliases: numbers.compactMap { try? NumberAlias($0) })
    }

    public func user(owning alias: NumberAlias) async throws -> UserRecord? { try await user(owning: alias.rawValue) }

    public func userCount() async throws -> Int {
        try await database.query("SELECT count(*) FROM users").first?.first?.int ?? 0
    }

    // MARK: Accounts

    /// Creates an account; throws `constraint` when the email is taken.
    public func create(email: String, displayName: String, passwordHash: String, role: UserAccount.Role = .user) async throws -> UserAccount {
        let id = "user-" + (0..<12).map { _ in UInt8.random(in: 0 ... .max) }.hexString
        try await database.query(
            "INSERT INTO users (id, email, display_name, password_hash, role) VALUES ($1, $2, $3, $4, $5)",
            [.text(id), .text(email.lowercased()), .text(displayName), .text(passwordHash), .text(role.rawValue)]
        )
        guard let account = try await account(id: id) else { throw StoreError(code: .init("missing_user"), message: "user \(id) vanished after creation") }
        return account
    }

    /// Whether the install has its owner: the first-run setup was done (once per install: it never opens again), or
    /// an admin who can sign in exists (made another way). Until then the dashboard offers the setup (`/setup`, with
    /// the code `serve` prints).
    public func hasOwner() async throws -> Bool {
        !(try await database.query(Self.ownerQuery).isEmpty)
    }

    static let ownerQuery = """
        SELECT 1 FROM settings WHERE scope = 'system' AND key = 'owner'
        UNION ALL SELECT 1 FROM users WHERE role = 'admin' AND password_hash IS NOT NULL LIMIT 1
        """

    /// Makes the install's owner, once: the demo user owning `demoAlias` (who has no password yet) takes the email,
    /// name and password and becomes an admin, keeping their numbers and calls; without a demo user a new admin
    /// account is created. The setup is marked done in the same transaction. Nil when the install has its owner
    /// already (someone set up first). Throws `constraint` when the email belongs to another account.
    public func claimOwner(email: String, displayName: String, passwordHash: String, demoAlias: NumberAlias?, at: Int64) async throws -> UserAccount? {
        let newId = "user-" + (0..<12).map { _ in UInt8.random(in: 0 ... .max) }.hexString
        let dialect = database.dialect
        let claimed: String? = try await database.transaction { connection in
            // SQLite's transaction is BEGIN IMMEDIATE (one writer); PostgreSQL's is READ COMMITTED: two setups at once
            // take turns on this lock, and the second finds the owner the first made.
            if dialect == .postgres { try connection.query("SELECT pg_advisory_xact_lock(7424601)") }
            guard try connection.query(Self.ownerQuery).isEmpty else { return nil }
            let owner: String
            if let demoAlias,
               let id = try connection.query(
                   "SELECT u.id FROM users u JOIN number_aliases a ON a.user_id = u.id WHERE a.alias = $1 AND u.password_hash IS NULL", [.text(demoAlias.rawValue)]
               ).first?.first?.text {
                try connection.query(
                    "UPDATE users SET email = $2, display_name = $3, password_hash = $4, role = 'admin' WHERE id = $1",
                    [.text(id), .text(email.lowercased()), .text(displayName), .text(passwordHash)]
                )
                owner = id
            } else {
                try connection.query(
                    "INSERT INTO users (id, email, display_name, password_hash, role) VALUES ($1, $2, $3, $4, 'admin')",
                    [.text(newId), .text(email.lowercased()), .text(displayName), .text(passwordHash)]
                )
                owner = newId
            }
            try connection.query(
                "INSERT INTO settings (scope, key, value, updated_at) VALUES ('system', 'owner', $1, $2)",
                [.text(#"{"user":"\#(owner)"}"#), .integer(at)]
            )
            return owner
        }
        guard let claimed else { return nil }
        return try await account(id: claimed)
    }

    public func account(id: String) async throws -> UserAccount? {
        try await account(where: "id = $1", .text(id))
    }

    public func account(email: String) async throws -> UserAccount? {
        try await account(where: "email = $1", .text(email.lowercased()))
    }

    /// The user whose wanted calls ring device account `device` (a forwarding target `sip:<device>@…`): the user a
    /// registered device calls out for. The oldest account, if several name it.
    public func account(forwardingToDevice device: String) async throws -> UserAccount? {
        let user = device.lowercased().replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "%", with: "\\%").replacingOccurrences(of: "_", with: "\\_")
        let rows = try await database.query(
            "SELECT \(Self.accountColumns) FROM users WHERE lower(forwarding_target) LIKE $1 ESCAPE '\\' OR lower(forwarding_target) LIKE $2 ESCAPE '\\' ORDER BY created_at, id LIMIT 1",
            [.text("sip:\(user)@%"), .text("sips:\(user)@%")]
        )
        guard let row = rows.first else { return nil }
        return try await account(row)
    }

    /// Accounts by id, `limit` after `after` (keyset pagination).
    public func accounts(limit: Int, after: String? = nil) async throws -> [UserAccount] {
        let rows = try await database.query(
            "SELECT \(Self.accountColumns) FROM users WHERE id > $1 ORDER BY id LIMIT $2", [.text(after ?? ""), .integer(Int64(limit))]
        )
        var accounts: [UserAccount] = []
        for row in rows { if let account = try await account(row) { accounts.append(account) } }
        return accounts
    }

    /// The fields that change after sign-up; nil leaves a field as it is (use `clearTOTP` to remove two-factor).
    public struct Changes: Sendable {
        public var displayName: String?
        public var passwordHash: String?
        public var role: UserAccount.Role?
        public var totpSecret: String?
        public var forwardingTarget: String?
        public var settings: String?
        public init(displayName: String? = nil, passwordHash: String? = nil, role: UserAccount.Role? = nil, totpSecret: String? = nil, forwardingTarget: String? = nil, settings: String? = nil) {
            self.displayName = displayName
            self.passwordHash = passwordHash
            self.role = role
            self.totpSecret = totpSecret
            self.forwardingTarget = forwardingTarget
            self.settings = settings
        }
    }

    @discardableResult
    public func update(id: String, _ changes: Changes) async throws -> UserAccount? {
        var assignments: [String] = []
        var values: [SQLValue] = [.text(id)]
        func set(_ column: String, _ value: String?) {
            guard let value else { return }
            values.append(.text(value))
            assignments.append("\(column) = $\(values.count)")
        }
        set("display_name", changes.displayName)
        set("password_hash", changes.passwordHash)
        set("role", changes.role?.rawValue)
        set("totp_secret", changes.totpSecret)
        set("forwarding_target", changes.forwardingTarget)
        set("settings", changes.settings)
        if !assignments.isEmpty {
            try await database.query("UPDATE users SET \(assignments.joined(separator: ", ")) WHERE id = $1", values)
        }
        return try await account(id: id)
    }

    public func clearTOTP(id: String) async throws {
        try await database.query("UPDATE users SET totp_secret = NULL WHERE id = $1", [.text(id)])
    }

    public func clearForwardingTarget(id: String) async throws {
        try await database.query("UPDATE users SET forwarding_target = NULL WHERE id = $1", [.text(id)])
    }

    /// Whether `id` is the only admin who can sign in (who must not delete their account: no one could
    /// administer the install, and its setup does not open again).
    public func isLastAdmin(id: String) async throws -> Bool {
        let admins = try await database.query("SELECT id FROM users WHERE role = 'admin' AND password_hash IS NOT NULL LIMIT 2")
        return admins.count == 1 && admins.first?.first?.text == id
    }

    // MARK: Numbers

    public func numbers(of userId: String) async throws -> [String] {
        try await database.query("SELECT alias FROM number_aliases WHERE user_id = $1 ORDER BY alias", [.text(userId)]).compactMap { $0.first?.text }
    }

    /// Gives `number` to the user; throws `constraint` when another user owns it (owning it already is fine).
    public func addNumber(_ number: String, to userId: String) async throws {
        try await database.transaction { connection in
            if let owner = try connection.query("SELECT user_id FROM number_aliases WHERE alias = $1", [.text(number)]).first?.first?.text {
                guard owner == userId else { throw StoreError.constraint("\(number) belongs to another user") }
                return
            }
            try connection.query("INSERT INTO number_aliases (alias, user_id) VALUES ($1, $2)", [.text(number), .text(userId)])
        }
    }

    /// Removes `number` from the user; false when they did not own it.
    @discardableResult
    public func removeNumber(_ number: String, from userId: String) async throws -> Bool {
        !(try await database.query("DELETE FROM number_aliases WHERE alias = $1 AND user_id = $2 RETURNING alias", [.text(number), .text(userId)]).isEmpty)
    }

    /// Deletes the user and everything of theirs: numbers, whitelist, tokens, verdicts (by cascade), call records
    /// and turns. Recordings on disk are the storage service's to remove.
    @discardableResult
    public func delete(id: String) async throws -> Bool {
        try await database.transaction { connection in
            try connection.query(
                "DELETE FROM call_turns WHERE call_id IN (SELECT id FROM call_records WHERE user_id = $1)", [.text(id)]
            )
            try connection.query("DELETE FROM call_records WHERE user_id = $1", [.text(id)])
            return !(try connection.query("DELETE FROM users WHERE id = $1 RETURNING id", [.text(id)]).isEmpty)
        }
    }

    private func account(where condition: String, _ value: SQLValue) async throws -> UserAccount? {
        guard let row = try await database.query("SELECT \(Self.accountColumns) FROM users WHERE \(condition)", [value]).first else { return nil }
        return try await account(row)
    }

    private func account(_ row: SQLRow) async throws -> UserAccount? {
        guard let id = row[0].text else { return nil }
        return UserAccount(
            id: id, email: row[1].text, displayName: row[2].text ?? "", passwordHash: row[3].text, role: row[4].text.flatMap(UserAccount.Role.init(rawValue:)) ?? .user,
            totpSecret: row[5].text, forwardingTarget: row[6].text, settings: row[7].text ?? "{}", numbers: try await numbers(of: id), createdAt: row[8].text ?? ""
        )
    }
}
