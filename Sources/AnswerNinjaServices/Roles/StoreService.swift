import AnswerNinjaCore
import Logging
import ServiceLifecycle
import Store

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Opens the embedded store at start-up (creating the data directory, applying migrations, creating the demo
/// user), reports readiness, and closes it after everything above it has shut down.
public final class StoreService: Service {
    public struct StartupReport: Sendable, Equatable {
        public var dataDirectory: String
        public var createdDataDirectory: Bool
        public var databasePath: String
        public var schemaVersion: Int
        public var appliedMigrations: [Int]
        public var demoUser: UserRecord?
        public var createdDemoUser: Bool
    }

    public let database: SQLiteDatabase
    public let report: StartupReport
    private let context: ServiceContext

    /// Prepares the store before any service starts, so that a broken data directory fails `serve` at once with a
    /// clear message instead of a half-started process.
    public static func open(context: ServiceContext) async throws -> StoreService {
        let configuration = context.configuration
        context.readiness.expect("store")
        let created = try DataDirectory.ensure(configuration.dataDirectory)
        let database = try await SQLiteDatabase.open(path: configuration.sqlitePath)
        do {
            let applied = try await database.migrate()
            let version = try await database.schemaVersion()
            var demoUser: UserRecord?
            var createdDemo = false
            if let alias = configuration.demoAlias {
                let (user, createdNow) = try await UserDirectory(database: database).ensureDemoUser(alias: alias)
                demoUser = user
                createdDemo = createdNow
            }
            let report = StartupReport(
                dataDirectory: DataDirectory.absolute(configuration.dataDirectory), createdDataDirectory: created,
                databasePath: DataDirectory.absolute(configuration.sqlitePath), schemaVersion: version, appliedMigrations: applied,
                demoUser: demoUser, createdDemoUser: createdDemo
            )
            context.readiness.report("store", ready: true, detail: "sqlite schema \(version)")
            return StoreService(database: database, report: report, context: context)
        } catch {
            try? await database.close()
            throw error
        }
    }

    private init(database: SQLiteDatabase, report: StartupReport, context: ServiceContext) {
        self.database = database
        self.report = report
        self.context = context
    }

    public func run() async throws {
        try? await gracefulShutdown()
        context.readiness.report("store", ready: false, detail: "shutting down")
        try await database.close()
        context.logger.info("store closed", metadata: ["path": "\(database.path)"])
    }
}

/// The data directory: created on first run with mode 0750.
public enum DataDirectory {
    /// Creates `path` and its parents; returns true when it did not exist before.
    @discardableResult
    public static func ensure(_ path: String) throws(StoreError) -> Bool {
        var info = stat()
        if stat(path, &info) == 0 {
            guard (info.st_mode & S_IFMT) == S_IFDIR else {
                throw StoreError(code: .init("data_directory"), message: "data directory \(path) exists but is not a directory")
            }
            return false
        }
        var prefix = path.hasPrefix("/") ? "/" : ""
        for component in path.split(separator: "/") {
            prefix += component + "/"
            if mkdir(prefix, 0o750) != 0 && errno != EEXIST {
                throw StoreError(code: .init("data_directory"), message: "cannot create data directory \(prefix): \(String(cString: strerror(errno)))")
            }
        }
        return true
    }

    /// `path` made absolute against the working directory, for messages.
    public static func absolute(_ path: String) -> String {
        if path.hasPrefix("/") { return path }
        var buffer = [CChar](repeating: 0, count: 4096)
        guard getcwd(&buffer, buffer.count) != nil else { return path }
        let cwd = String(cString: buffer)
        let trimmed = path.hasPrefix("./") ? String(path.dropFirst(2)) : path
        return cwd + "/" + trimmed
    }
}
