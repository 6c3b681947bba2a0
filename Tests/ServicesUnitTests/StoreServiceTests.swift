import AnswerNinjaCore
import AnswerNinjaServices
import Foundation
import Logging
import Store
import Testing

@Suite struct StoreServiceTests {
    func temporaryDirectory() -> String {
        NSTemporaryDirectory() + "answer-ninja-store-\(UInt32.random(in: 0 ... .max))/nested/data"
    }

    @Test func firstRunCreatesTheDataDirectoryAndTheDemoUserOnce() async throws {
        var configuration = NinjaConfiguration.defaults
        configuration.dataDirectory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: configuration.dataDirectory) }
        let context = ServiceContext(configuration: configuration, roles: [.api], logger: Logger(label: "test"))

        let first = try await StoreService.open(context: context)
        #expect(first.report.createdDataDirectory)
        let bundled = try Migration.bundled(.sqlite).map(\.version)
        #expect(first.report.appliedMigrations == bundled)
        #expect(first.report.createdDemoUser)
        #expect(first.report.demoUser?.aliases == [try NumberAlias("demo")])
        #expect(context.readiness.snapshot().checks["store"]?.ready == true)
        #expect(try await UserDirectory(database: first.database).userCount() == 1)
        try await first.close()

        let second = try await StoreService.open(context: context)
        #expect(!second.report.createdDataDirectory)
        #expect(second.report.appliedMigrations.isEmpty)
        #expect(!second.report.createdDemoUser)
        #expect(second.report.demoUser?.id == first.report.demoUser?.id)
        #expect(try await UserDirectory(database: second.database).userCount() == 1)
        try await second.close()
    }

    @Test func aDataDirectoryThatIsAFileIsAClearError() async throws {
        let path = NSTemporaryDirectory() + "answer-ninja-file-\(UInt32.random(in: 0 ... .max))"
        FileManager.default.createFile(atPath: path, contents: Data("x".utf8))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let error = #expect(throws: StoreError.self) { try DataDirectory.ensure(path) }
        #expect(error?.message == "data directory \(path) exists but is not a directory")
    }

    @Test func sqliteErrorsCarrySQLitesText() async throws {
        let database = try await SQLiteDatabase.open(path: ":memory:")
        let error = await #expect(throws: StoreError.self) { try await database.execute("SELEC 1") }
        #expect(error?.message.contains("syntax error") == true)
        #expect(try await database.query("SELECT ?1 + 1", [.integer(41)]) == [[.integer(42)]])
        try await database.close()
    }

    @Test func selfTestLoadsEveryCLibrary() async throws {
        let report = await SelfTest().run(scratchDirectory: NSTemporaryDirectory())
        #expect(report.ok, "\(report.humanReadable)")
        #expect(Set(report.libraries.map(\.name)) == ["libsrtp2", "libopus", "libspeexdsp", "libpq", "hiredis", "sqlite3", "pocketsphinx", "espeak-ng"])
    }
}
