import NIOConcurrencyHelpers
import NIOPosix

/// A pool of libpq connections, each used on a thread of the database's own pool (libpq blocks: never on an event
/// loop or Swift's cooperative pool). There are as many threads as connections, so a job that reaches a thread
/// always finds a connection; connections are made on first need and remade after a restart of the server.
public final class PostgresDatabase: SQLDatabase {
    public var dialect: SQLDialect { .postgres }
    public let settings: PostgresSettings
    private let threads: NIOThreadPool
    private let idle = NIOLockedValueBox<[ConnectionBox]>([])

    /// Starts the pool and checks the server with one connection, so that a wrong URL fails start-up at once.
    public static func open(_ settings: PostgresSettings) async throws -> PostgresDatabase {
        let database = PostgresDatabase(settings: settings)
        do {
            try await database.query("SELECT 1")
        } catch {
            try? await database.close()
            throw error
        }
        return database
    }

    private init(settings: PostgresSettings) {
        self.settings = settings
        threads = NIOThreadPool(numberOfThreads: max(1, settings.poolSize))
        threads.start()
    }

    @discardableResult
    public func query(_ sql: String, _ parameters: [SQLValue]) async throws -> [SQLRow] {
        try await withConnection { try $0.query(sql, parameters) }
    }

    public func execute(_ sql: String) async throws {
        try await withConnection { try $0.execute(sql) }
    }

    public func transaction<T: Sendable>(_ body: @escaping @Sendable (any SQLConnection) throws -> T) async throws -> T {
        try await withConnection { connection in try connection.inTransaction(begin: "BEGIN", canRollBack: { connection.isHealthy }, body) }
    }

    public func close() async throws {
        try await threads.shutdownGracefully()
        idle.withLockedValue { $0.removeAll() }
    }

    private func withConnection<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) throws -> T) async throws -> T {
        try await threads.runIfActive { [settings, idle] in
            let box = try idle.withLockedValue { $0.popLast() } ?? ConnectionBox(PostgresConnection(settings: settings))
            defer { idle.withLockedValue { $0.append(box) } }
            return try body(box.connection)
        }
    }

    /// Moves a connection between the pool's threads: only one thread uses it at a time (taken from and returned to
    /// `idle` under its lock).
    private struct ConnectionBox: @unchecked Sendable {
        let connection: PostgresConnection
        init(_ connection: PostgresConnection) { self.connection = connection }
    }
}
