import AnswerNinjaCore
import Codecs
import MediaDSP
import SRTP
import Speech
import Store

/// `answer-ninja selftest`: loads every C library the binary links and reports its version, and runs the embedded
/// store's migrations on a scratch database. The container tests run it under strace to list the files the image
/// must ship.
public struct SelfTest: Sendable {
    public struct Library: Codable, Sendable, Equatable {
        public var name: String
        public var version: String
        public var ok: Bool
    }

    public struct Report: Codable, Sendable, CommandOutput {
        public var ok: Bool
        public var libraries: [Library]

        public var humanReadable: String {
            libraries.map { "\($0.ok ? "ok  " : "FAIL") \($0.name): \($0.version)" }.joined(separator: "\n")
        }
    }

    public init() {}

    public func run(scratchDirectory: String) async -> Report {
        var libraries: [Library] = [
            Library(name: "libsrtp2", version: SRTPLibrary.version, ok: SRTPLibrary.version.contains("2.")),
            Library(name: "libopus", version: OpusLibrary.version, ok: OpusLibrary.version.hasPrefix("libopus")),
            Library(name: "libpq", version: StoreLibraries.postgresClientVersion, ok: true),
            Library(name: "hiredis", version: StoreLibraries.hiredisVersion, ok: true),
            Library(name: "espeak-ng", version: SpeechLibraries.espeakVersion, ok: SpeechLibraries.espeakVersion != "unknown"),
        ]
        do {
            libraries.append(Library(name: "libspeexdsp", version: try SpeexDSPLibrary.probe(), ok: true))
        } catch {
            libraries.append(Library(name: "libspeexdsp", version: error.message, ok: false))
        }
        let sphinx = SpeechLibraries.pocketsphinxProbe()
        libraries.append(
            Library(
                name: "pocketsphinx",
                version: "\(sphinx.arguments) arguments; en-us model \(sphinx.modelInstalled ? "installed" : "missing at \(SpeechLibraries.defaultAcousticModel)")",
                ok: sphinx.arguments > 0 && sphinx.modelInstalled
            )
        )
        do {
            let path = scratchDirectory + "/selftest-\(UInt32.random(in: 0 ... .max)).sqlite"
            let database = try await SQLiteDatabase.open(path: path)
            let applied = try await database.migrate()
            try await database.close()
            Self.remove(path)
            libraries.append(Library(name: "sqlite3", version: "\(StoreLibraries.sqliteVersion), \(applied.count) migrations applied", ok: true))
        } catch {
            libraries.append(Library(name: "sqlite3", version: "\(StoreLibraries.sqliteVersion): \(error)", ok: false))
        }
        return Report(ok: libraries.allSatisfy(\.ok), libraries: libraries)
    }

    private static func remove(_ path: String) {
        for suffix in ["", "-wal", "-shm"] { _ = unlinkFile(path + suffix) }
    }
}
