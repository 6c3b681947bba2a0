/// A value bound to or read from a database, the same for SQLite and PostgreSQL: statements are written once with
/// `$1, $2, ...` placeholders and run on either (`SQLDatabase`).
public enum SQLValue: Sendable, Equatable, Hashable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
    case blob([UInt8])

    public var text: String? { if case .text(let value) = self { value } else { nil } }
    public var integer: Int64? { if case .integer(let value) = self { value } else { nil } }
    public var int: Int? { integer.map { Int($0) } }
    /// A real, or an integer read as one (SQLite stores 1.0 as an integer in a REAL column when asked to).
    public var real: Double? {
        switch self {
        case .real(let value): value
        case .integer(let value): Double(value)
        default: nil
        }
    }
    public var blob: [UInt8]? { if case .blob(let value) = self { value } else { nil } }
    public var isNull: Bool { self == .null }

    public init(_ text: String?) { self = text.map { .text($0) } ?? .null }
    public init(_ integer: Int?) { self = integer.map { .integer(Int64($0)) } ?? .null }
    public init(_ integer: Int64?) { self = integer.map { .integer($0) } ?? .null }
    public init(_ real: Double?) { self = real.map { .real($0) } ?? .null }
    public init(_ flag: Bool) { self = .integer(flag ? 1 : 0) }
}

/// One row of a result, by column position.
public typealias SQLRow = [SQLValue]

/// The SQL dialect a database speaks, for the few statements that differ (DDL, partition upkeep).
public enum SQLDialect: String, Sendable {
    case sqlite, postgres
}

/// A connection inside a transaction or a single call: synchronous, used only on its database's own thread.
public protocol SQLConnection {
    /// Runs one or more statements without parameters or results (DDL, migrations).
    func execute(_ sql: String) throws(StoreError)
    /// Runs one statement with `$1, $2, ...` bound to `parameters`, returning its rows.
    @discardableResult
    func query(_ sql: String, _ parameters: [SQLValue]) throws(StoreError) -> [SQLRow]
}

extension SQLConnection {
    @discardableResult
    public func query(_ sql: String) throws(StoreError) -> [SQLRow] { try query(sql, []) }

    /// `begin`, then `body`, then COMMIT; ROLLBACK when `body` throws (unless `canRollBack` says the connection is
    /// gone, when there is nothing to roll back).
    func inTransaction<T>(begin: String, canRollBack: () -> Bool = { true }, _ body: (any SQLConnection) throws -> T) throws -> T {
        try execute(begin)
        do {
            let result = try body(self)
            try execute("COMMIT")
            return result
        } catch {
            if canRollBack() { try? execute("ROLLBACK") }
            throw error
        }
    }
}

/// A database the repositories run on: the embedded SQLite file or a PostgreSQL pool. Every call runs its blocking C
/// work on the database's own threads, never on an event loop or Swift's cooperative pool.
public protocol SQLDatabase: Sendable {
    var dialect: SQLDialect { get }
    /// Runs one statement outside any explicit transaction.
    @discardableResult
    func query(_ sql: String, _ parameters: [SQLValue]) async throws -> [SQLRow]
    /// Runs `body` in one transaction on one connection: committed when it returns, rolled back when it throws.
    func transaction<T: Sendable>(_ body: @escaping @Sendable (any SQLConnection) throws -> T) async throws -> T
    func close() async throws
}

extension SQLDatabase {
    @discardableResult
    public func query(_ sql: String) async throws -> [SQLRow] { try await query(sql, []) }
}
