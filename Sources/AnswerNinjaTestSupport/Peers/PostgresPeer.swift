import Foundation

/// A throwaway PostgreSQL server on a free loopback port: `initdb` into its own directory (as the `postgres`
/// system user when the tests run as root, since PostgreSQL refuses to run as root), trust auth on 127.0.0.1 only.
public struct PostgresPeer: StoppablePeer {
    public let process: PeerProcess
    public let port: Int
    public let user = "ninja"
    public let database = "postgres"
    let binDirectory: String

    /// libpq URI for the test database.
    public var url: String { "postgresql://\(user)@127.0.0.1:\(port)/\(database)" }

    public static var binDirectory: String? {
        let root = "/usr/lib/postgresql"
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: root))?.compactMap(Int.init).sorted() ?? []
        return versions.last.map { "\(root)/\($0)/bin" }
    }

    public static func start() async throws -> PostgresPeer {
        guard let bin = binDirectory, FileManager.default.isExecutableFile(atPath: bin + "/initdb") else {
            throw PeerError("PostgreSQL server binaries not found under /usr/lib/postgresql: install the Debian package postgresql")
        }
        // Under /tmp, not the artifacts folder: the postgres user must be able to reach it, whatever the
        // permissions of the folders above a CI checkout.
        let directory = try PeerEnvironment.makeDirectory(for: "answer-ninja-postgres", under: URL(fileURLWithPath: NSTemporaryDirectory()))
        let data = directory.appendingPathComponent("data").path
        let asRoot = getuid() == 0
        if asRoot {
            _ = try await PeerEnvironment.run("/bin/chown", ["postgres:postgres", directory.path])
        }
        let wrap: ([String]) -> (String, [String]) = { command in
            asRoot ? ("/usr/sbin/runuser", ["-u", "postgres", "--"] + command) : (command[0], Array(command.dropFirst()))
        }
        let (initExecutable, initArguments) = wrap([bin + "/initdb", "-D", data, "-U", "ninja", "-A", "trust", "-E", "UTF8", "--no-sync"])
        let initResult = try await PeerEnvironment.run(initExecutable, initArguments, timeout: .seconds(120))
        guard initResult.status == 0 else { throw PeerError("initdb failed (\(initResult.status)):\n\(initResult.output.suffix(2000))") }
        return try await PeerEnvironment.onFreePort { try await launch(bin: bin, directory: directory, port: $0) }
    }

    private static func launch(bin: String, directory: URL, port: Int) async throws -> PostgresPeer {
        let asRoot = getuid() == 0
        let command = [
            bin + "/postgres", "-D", directory.appendingPathComponent("data").path, "-p", String(port), "-k", directory.path,
            "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "shared_buffers=32MB",
        ]
        let (executable, arguments) = asRoot ? ("/usr/sbin/runuser", ["-u", "postgres", "--"] + command) : (command[0], Array(command.dropFirst()))
        let process = try PeerProcess(name: "postgres", executable: executable, arguments: arguments, directory: directory)
        if asRoot { _ = try? await PeerEnvironment.run("/bin/chown", ["postgres:postgres", process.logFile.path]) }
        let peer = PostgresPeer(process: process, port: port, binDirectory: bin)
        do {
            try await process.waitUntildReadyPG(bin: bin, port: port)
        } catch {
            await process.stop()
            throw error
        }
        return peer
    }

    /// The same server started again on its data and port, after `stop()` (a database restart or an outage ending).
    public func restarted() async throws -> PostgresPeer {
        if process.isRunning { await process.stop() }
        return try await Self.launch(bin: binDirectory, directory: process.directory, port: port)
    }

    /// Stops the server without removing its data, as an outage would.
    public func stopServer() async {
        await process.stop(signal: SIGINT)
    }

    /// Runs SQL through psql and returns the unaligned, tuples-only output.
    public func psql(_ sql: String) async throws -> String {
        let result = try await PeerEnvironment.run(binDirectory + "/psql", ["-h", "127.0.0.1", "-p", String(port), "-U", user, "-d", database, "-XAtc", sql])
        guard result.status == 0 else { throw PeerError("psql failed: \(result.output)") }
        return result.output.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

extension PeerProcess {
    fileprivate func waitUntildReadyPG(bin: String, port: Int) async throws {
        try await waitUntilReady(timeout: .seconds(60)) {
            try await PeerEnvironment.run(bin + "/pg_isready", ["-h", "127.0.0.1", "-p", String(port)], timeout: .seconds(5)).status == 0
        }
    }
}
