import NIOPosix

/// The embedded database: one `SQLiteConnection` confined to one dedicated thread (SQLite calls block; they must
/// never run on an event loop or Swift's cooperative pool). Every call hops to that thread and back.
public final class SQLiteDatabase: SQLDatabase {
    public var dialect: SQLDialect { .sqlite }
    private let pool: NIOThreadPool
    // Touched only on the pool's single thread, inside `run`.
    private nonisolated(unsafe) let connection: SQLiteConnection
    public let path: String

    /// Opens the database at `path` on a new thread of its own.
    public static func open(path: String) async throws -> SQLiteDatabase {
        let pool = NIOThreadPool(numberOfThreads: 1)
        pool.start()
        do {
            let box = try await pool.runIfActive { try ConnectionBox(SQLiteConnection(path: path)) }
            return SQLiteDatabase(pool: pool, connection: box.connection, path: path)
        } catch {
            try? await pool.shutdownGracefully()
            throw error
        }
    }

    private init(pool: NIOThreadPool, connection: SQLiteConnection, path: String) {
        self.pool = pool
        self.connection = connection
        self.path = path
    }

    public func execute(_ sql: String) async throws {
        try await run { try $0.execute(sql) }
    }

    @discardableResult
    public func query(_ sql: String, _ bindings: [SQLValue]) async throws -> [SQLRow] {
        try await run { try $0.query(sql, bindings) }
    }

    /// Runs `body` in one transaction (BEGIN IMMEDIATE ... COMMIT, ROLLBACK on error), on the database thread.
    public func transaction<T: Sendable>(_ body: @escaping @Sendable (any SQLConnection) throws -> T) async throws -> T {
        try await run { connection in try connection.inTransaction(begin: "BEGIN IMMEDIATE", body) }
    }

    func run<T: Sendable>(_ body: @escaping @Sendable (SQLiteConnection) throws -> T) async throws -> T {
        try await pool.runIfActive { try body(self.connection) }
    }

    /// Stops the thread; the connection closes when the database is released.
    public func close() async throws {
        try await pool.shutdownGracefully()
    }

    /// Carries the connection from the thread that opened it; it is used only there afterwards.
    private struct ConnectionBox: @unchecked Sendable {
        let connection: SQLiteConnection
        init(_ connection: SQLiteConnection) { self.connection = connection }
    }
}
