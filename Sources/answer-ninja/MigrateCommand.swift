import AnswerNinjaCore
import AnswerNinjaServices
import ArgumentParser
import Foundation
import Store

/// `answer-ninja migrate`: applies the schema migrations to the configured database (also done at start-up; this
/// is for a release job that migrates before the new pods start).
struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Apply the database migrations (SQLite in data_dir, or PostgreSQL with store.backend=postgres) and print the schema version."
    )

    @OptionGroup var options: ConfigurationOptions
    @OptionGroup var output: OutputOptions

    struct Report: CommandOutput {
        var backend: String
        var applied: [Int]
        var schemaVersion: Int
        var partitionsMade: [String]

        var humanReadable: String {
            "\(backend): schema \(schemaVersion)" + (applied.isEmpty ? ", up to date" : ", applied \(applied.map(String.init).joined(separator: ", "))")
                + (partitionsMade.isEmpty ? "" : "; partitions made: \(partitionsMade.joined(separator: ", "))")
        }
    }

    func run() async throws {
        let configuration = try options.load()
        let database: any SQLDatabase
        switch configuration.store.backend {
        case .sqlite:
            try DataDirectory.ensure(configuration.dataDirectory)
            database = try await SQLiteDatabase.open(path: configuration.sqlitePath)
        case .postgres:
            database = try await PostgresDatabase.open(PostgresSettings(url: configuration.store.postgresURL ?? "", poolSize: 1))
        }
        do {
            let applied = try await database.migrate()
            let report = Report(
                backend: database.dialect.rawValue, applied: applied, schemaVersion: try await database.schemaVersion(),
                partitionsMade: try await PostgresPartitions.ensure(on: database)
            )
            try await database.close()
            try output.emit(report)
        } catch {
            try? await database.close()
            throw error
        }
    }
}
