import AnswerNinjaCore
import Foundation
import Logging
import Prometheus
import Screening
import ServiceLifecycle
import Store

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The platform's data, opened once per process: the database (SQLite or PostgreSQL), its repositories, the shared
/// cache (Redis with the in-process fallback), the call journal and the keys.
public struct Platform: Sendable {
    public let database: any SQLDatabase
    public let users: UserDirectory
    public let tokens: RefreshTokenStore
    /// The dashboard's sign-in sessions.
    public let sessions: WebSessionStore
    public let whitelist: WhitelistStore
    public let profiles: CallerProfileStore
    public let records: CallRecordStore
    public let audit: AuditLog
    public let settings: SettingsStore
    public let cache: FallbackCache
    public let journal: CallJournal
    public let replayer: JournalReplayer
    public let callerKey: CallerKey
    /// The key before `callerKey`, during a key rotation.
    public let previousCallerKey: CallerKey?
    public let jwtSecret: [UInt8]
    /// Recordings, per user, under data_dir/recordings.
    public let recordings: RecordingFiles

    /// The key `number`'s profile is stored under. During a key rotation, a profile still under the previous key
    /// (with its users' views) moves to the current one first: callers move as they are seen.
    public func profileKey(for number: E164Number) async throws -> String {
        let key = callerKey.key(for: number)
        if let previousCallerKey {
            try await profiles.rekey(from: previousCallerKey.key(for: number), to: key, version: callerKey.version)
        }
        return key
    }
}

/// Opens the store at start-up (creating the data directory, applying migrations, creating the demo user, marking
/// calls a previous run left open as interrupted), reports readiness, carries the journal to the database while it
/// runs, keeps partitions and expired rows tidy, and closes everything after the services above it have stopped.
public final class StoreService: Service {
    public struct StartupReport: Sendable, Equatable {
        public var dataDirectory: String
        public var createdDataDirectory: Bool
        public var backend: String
        public var databasePath: String
        public var schemaVersion: Int
        public var appliedMigrations: [Int]
        public var demoUser: UserRecord?
        public var createdDemoUser: Bool
        public var interruptedCalls: Int
        /// The first-run setup's code while the install has no owner (an admin who can sign in), else nil.
        public var setupCode: String?
    }

    public let platform: Platform
    public let report: StartupReport
    private let context: ServiceContext

    /// The database, for tests and tools.
    public var database: any SQLDatabase { platform.database }

    /// Prepares the store before any service starts, so that a broken data directory or database fails `serve` at
    /// once with a clear message instead of a half-started process.
    public static func open(context: ServiceContext) async throws -> StoreService {
        let configuration = context.configuration
        context.readiness.expect("store")
        let created = try DataDirectory.ensure(configuration.dataDirectory)
        let database: any SQLDatabase
        let location: String
        switch configuration.store.backend {
        case .sqlite:
            database = try await SQLiteDatabase.open(path: configuration.sqlitePath)
            location = DataDirectory.absolute(configuration.sqlitePath)
        case .postgres:
            let url = configuration.store.postgresURL ?? ""
            database = try await PostgresDatabase.open(PostgresSettings(url: url, poolSize: configuration.store.poolSize))
            location = Self.redacted(url)
        }
        var cache: FallbackCache?
        var journal: CallJournal?
        do {
            let applied = try await database.migrate()
            let version = try await database.schemaVersion()
            let users = UserDirectory(database: database)
            var demoUser: UserRecord?
            var createdDemo = false
            if let alias = configuration.demoAlias {
                (demoUser, createdDemo) = try await users.ensureDemoUser(alias: alias)
            }
            let secrets = configuration.dataDirectory + "/secrets"
            let profileSecret = try configuration.store.profileKey.map([UInt8].init(hex:)) ?? SecretFile.loadOrCreate(secrets + "/profile.key")
            let jwtSecret = try configuration.api.jwtSecret.map([UInt8].init(hex:)) ?? SecretFile.loadOrCreate(secrets + "/jwt.key")
            let telemetry = context.telemetry
            let fallbacks = telemetry.counter(.cacheFallbacks, ["cache": "redis"])
            cache = FallbackCache(redis: try configuration.store.redisURL.map(RedisSettings.init(url:))) { fallbacks.increment() }
            journal = try await CallJournal.open(directory: configuration.dataDirectory + "/journal", instance: Self.instance(configuration))
            let records = CallRecordStore(database: database)
            let replayer = JournalReplayer(journal: journal!, records: records, logger: context.logger)
            let leftovers = try await journal!.interruptLeftovers(reason: "instance_restarted", at: unixMilliseconds())
            // A call whose start is in a journal segment already applied and deleted is not among the leftovers: once
            // the journal is in the database, this instance's calls still open there are from a previous run too.
            var orphans = 0
            if (try? await replayer.catchUp()) != nil {
                let open = Set(journal!.openCalls)
                for record in try await records.unfinished(instance: journal!.instance) where !open.contains(record.id) {
                    if try await records.markInterrupted(id: record.id, startedAt: record.startedAt, reason: "instance_restarted", at: unixMilliseconds()) { orphans += 1 }
                }
            }
            let platform = Platform(
                database: database, users: users, tokens: RefreshTokenStore(database: database), sessions: WebSessionStore(database: database), whitelist: WhitelistStore(database: database),
                profiles: CallerProfileStore(database: database), records: records, audit: AuditLog(database: database),
                settings: SettingsStore(database: database), cache: cache!, journal: journal!,
                replayer: replayer, callerKey: try CallerKey(secret: profileSecret, version: configuration.store.profileKeyVersion),
                previousCallerKey: try configuration.store.profileKeyPrevious.map { try CallerKey(secret: try [UInt8](hex: $0), version: configuration.store.profileKeyVersion - 1) },
                jwtSecret: jwtSecret, recordings: RecordingFiles(root: DataDirectory.absolute(configuration.dataDirectory) + "/recordings")
            )
            let report = StartupReport(
                dataDirectory: DataDirectory.absolute(configuration.dataDirectory), createdDataDirectory: created, backend: database.dialect.rawValue,
                databasePath: location, schemaVersion: version, appliedMigrations: applied, demoUser: demoUser, createdDemoUser: createdDemo,
                interruptedCalls: leftovers.count + orphans, setupCode: try await users.hasOwner() ? nil : OwnerSetup.code(secret: jwtSecret)
            )
            context.readiness.report("store", ready: true, detail: "\(database.dialect.rawValue) schema \(version)")
            return StoreService(platform: platform, report: report, context: context)
        } catch {
            try? await journal?.close()
            await cache?.close()
            try? await database.close()
            throw error
        }
    }

    private init(platform: Platform, report: StartupReport, context: ServiceContext) {
        self.platform = platform
        self.report = report
        self.context = context
    }

    public func run() async throws {
        let platform = self.platform
        let pending = context.telemetry.gauge(.storeJournalPending, [:])
        // The replayer and the upkeep run until shutdown; the journal keeps whatever they have not done yet.
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await platform.replayer.run() }
            group.addTask { await self.upkeep(pending: pending) }
            try? await gracefulShutdown()
            group.cancelAll()
        }
        context.readiness.report("store", ready: false, detail: "shutting down")
        try await close()
        context.logger.info("store closed", metadata: ["backend": "\(platform.database.dialect.rawValue)"])
    }

    /// Catches the journal up once more (a failure leaves the rest in the journal for the next start), then closes
    /// the journal, the cache and the database.
    public func close() async throws {
        _ = try? await platform.replayer.catchUp()
        try? await platform.journal.close()
        await platform.cache.close()
        await platform.recordings.close()
        try await platform.database.close()
    }

    /// Every second: the journal's backlog gauge. At start and then hourly: calls of dead instances marked
    /// interrupted, next month's partitions, retention, expired whitelist entries and refresh tokens removed.
    private func upkeep(pending: Prometheus.Gauge) async {
        var tick = 0
        while !Task.isCancelled {
            let applied = platform.replayer.statistics.applied
            pending.set(to: Double(max(0, platform.journal.statistics.appended - applied)))
            if tick % 3600 == 0 { await tidy() }
            tick += 1
            try? await Task.sleep(for: .seconds(1))
        }
    }

    func tidy() async {
        let now = unixMilliseconds()
        do {
            // A call is never longer than the maximum AI call duration; a bridged one is capped at 4 hours here.
            let stale = now - 4 * 3_600_000
            for record in try await platform.records.unfinished(startedBefore: stale) where record.instance != platform.journal.instance {
                try await platform.records.markInterrupted(id: record.id, startedAt: record.startedAt, reason: "instance_lost", at: now)
            }
            try await PostgresPartitions.ensure(on: platform.database)
            try await Self.applyRetention(platform, now: now)
            try await platform.whitelist.purgeExpired(before: now - 168 * 3_600_000)
            try await platform.tokens.purge(before: now)
            try await platform.sessions.purge(before: now)
        } catch {
            context.logger.warning("store upkeep failed", metadata: ["error": "\(error)"])
        }
    }

    /// Deletes each user's calls (and their recordings and transcripts) older than their `retention_days`; returns how many.
    @discardableResult
    static func applyRetention(_ platform: Platform, now: Int64) async throws -> Int {
        var deleted = 0
        var after: String?
        while true {
            let accounts = try await platform.users.accounts(limit: 100, after: after)
            for account in accounts {
                let settings = UserSettings(stored: account.settings)
                let result = try await platform.records.deleteOlder(than: now - Int64(settings.retentionDays) * 86_400_000, userId: account.id)
                await platform.recordings.remove(result.files)
                deleted += result.count
            }
            guard accounts.count == 100 else { return deleted }
            after = accounts.last?.id
        }
    }

    static func instance(_ configuration: NinjaConfiguration) -> String {
        if !configuration.store.instance.isEmpty { return configuration.store.instance }
        return ProcessInfo.processInfo.hostName
    }

    /// A libpq URI without its password, for messages.
    static func redacted(_ url: String) -> String {
        guard var components = URLComponents(string: url) else { return "postgresql://…" }
        if components.password != nil { components.password = "***" }
        return components.string ?? "postgresql://…"
    }
}

/// A key made once and kept in a file only its owner reads (0600), in a directory only its owner enters (0700).
enum SecretFile {
    static func loadOrCreate(_ path: String) throws -> [UInt8] {
        if let data = FileManager.default.contents(atPath: path) {
            let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            let bytes = try [UInt8](hex: text)
            guard bytes.count >= 32 else { throw CoreError.invalidValue("\(path) holds \(bytes.count) bytes; a key is at least 32") }
            return bytes
        }
        let directory = (path as NSString).deletingLastPathComponent
        try DataDirectory.ensure(directory)
        chmod(directory, 0o700)
        var bytes = [UInt8](repeating: 0, count: 32)
        for index in bytes.indices { bytes[index] = UInt8.random(in: 0 ... .max) }
        let text = bytes.hexString + "\n"
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        guard descriptor >= 0 else { throw CoreError.invalidValue("cannot create \(path): \(String(cString: strerror(errno)))") }
        defer { close(descriptor) }
        let written = text.utf8CString.withUnsafeBytes { write(descriptor, $0.baseAddress, text.utf8.count) }
        guard written == text.utf8.count, fsync(descriptor) == 0 else { throw CoreError.invalidValue("cannot write \(path)") }
        return bytes
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
        try DirectoryMaker.ensure(path, describing: "data directory ")
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
