import AnswerNinjaCore
@testable import AnswerNinjaServices
import Foundation
import Screening
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
        // No one can sign in yet: the first-run setup's code is offered, and it is the install's own.
        let code = try #require(first.report.setupCode)
        #expect(code == OwnerSetup.code(secret: first.platform.jwtSecret))
        _ = try await UserDirectory(database: first.database).claimOwner(email: "owner@example.com", displayName: "Owner", passwordHash: "$2b$04$o", demoAlias: try NumberAlias("demo"), at: 1)
        try await first.close()

        let second = try await StoreService.open(context: context)
        #expect(!second.report.createdDataDirectory)
        #expect(second.report.appliedMigrations.isEmpty)
        #expect(!second.report.createdDemoUser)
        #expect(second.report.demoUser?.id == first.report.demoUser?.id)
        #expect(try await UserDirectory(database: second.database).userCount() == 1)
        #expect(second.report.setupCode == nil, "the install has its owner: setup is closed")
        try await second.close()
    }

    @Test func withoutADemoUserSetupMakesANewAdmin() async throws {
        var configuration = NinjaConfiguration.defaults
        configuration.dataDirectory = temporaryDirectory()
        configuration.demoAlias = nil
        defer { try? FileManager.default.removeItem(atPath: configuration.dataDirectory) }
        let store = try await StoreService.open(context: ServiceContext(configuration: configuration, roles: [.api], logger: Logger(label: "test")))
        let users = UserDirectory(database: store.database)
        #expect(store.report.demoUser == nil && store.report.setupCode != nil)
        _ = try await users.create(email: "taken@example.com", displayName: "Taken", passwordHash: "$2b$04$t")
        let taken = await #expect(throws: StoreError.self) {
            try await users.claimOwner(email: "TAKEN@example.com", displayName: "T", passwordHash: "x", demoAlias: nil, at: 1)
        }
        #expect(taken?.code.rawValue == "constraint")
        #expect(try await !users.hasOwner(), "a refused claim leaves setup open")
        let owner = try #require(try await users.claimOwner(email: "owner@example.com", displayName: "Owner", passwordHash: "$2b$04$o", demoAlias: nil, at: 2))
        #expect(owner.role == .admin && owner.numbers.isEmpty && owner.email == "owner@example.com")
        #expect(try await users.hasOwner())
        try await store.close()
    }

    @Test func theSetupCodeIsTypedAnyHowButOnlyThisInstallsOpensIt() throws {
        let secret = [UInt8](repeating: 7, count: 32)
        let code = OwnerSetup.code(secret: secret)
        #expect(code.range(of: "^[A-Z2-7]{4}(-[A-Z2-7]{4}){3}$", options: .regularExpression) != nil, "\(code)")
        #expect(OwnerSetup.matches(code, secret: secret))
        #expect(OwnerSetup.matches(" " + code.lowercased().replacingOccurrences(of: "-", with: " ") + "\n", secret: secret))
        #expect(!OwnerSetup.matches(code, secret: [UInt8](repeating: 8, count: 32)), "another install's code")
        #expect(!OwnerSetup.matches(String(code.dropLast()), secret: secret))
        #expect(!OwnerSetup.matches("", secret: secret) && !OwnerSetup.matches("----", secret: secret))
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

    @Test func callsThisInstanceLeftOpenInTheDatabaseAreInterruptedAtStart() async throws {
        var configuration = NinjaConfiguration.defaults
        configuration.dataDirectory = temporaryDirectory()
        configuration.store.instance = "gw-test"
        defer { try? FileManager.default.removeItem(atPath: configuration.dataDirectory) }
        let context = ServiceContext(configuration: configuration, roles: [.api], logger: Logger(label: "test"))
        let first = try await StoreService.open(context: context)
        // A call whose journal lines were applied and their segment deleted: only the database knows it is open.
        let records = CallRecordStore(database: first.database)
        try await records.apply([
            CallEvent(callId: "mine", sequence: 1, callStartedAt: 1000, at: 1000, instance: "gw-test", change: .started(userId: nil, caller: "+15550001111", callee: "demo")),
            CallEvent(callId: "other", sequence: 1, callStartedAt: 1000, at: 1000, instance: "gw-other", change: .started(userId: nil, caller: "+15550002222", callee: "demo")),
        ])
        try await first.close()
        let second = try await StoreService.open(context: context)
        #expect(second.report.interruptedCalls == 1)
        let after = CallRecordStore(database: second.database)
        #expect(try await after.record(id: "mine")?.state == .interrupted)
        #expect(try await after.record(id: "mine")?.endReason == "instance_restarted")
        #expect(try await after.record(id: "other")?.state == .screening, "another instance's call is the sweep's, after four hours")
        // The sweep marks without taking a sequence number: the owner's next change still applies, and its end wins.
        #expect(try await after.markInterrupted(id: "other", startedAt: 1000, reason: "instance_lost", at: 2000))
        try await after.apply([
            CallEvent(callId: "other", sequence: 2, callStartedAt: 1000, at: 3000, instance: "gw-other", change: .turn(CallTurn(turn: 1, at: 3000, callerText: "still here", replyText: "ok"))),
            CallEvent(callId: "other", sequence: 3, callStartedAt: 1000, at: 4000, instance: "gw-other", change: .ended(outcome: "caller_hung_up", reason: "bye")),
        ])
        let other = try #require(try await after.record(id: "other"))
        #expect(other.state == .ended && other.outcome == "caller_hung_up" && other.turns.count == 1 && other.lastSequence == 3)
        try await second.close()
    }
}

@Suite struct CallRecorderTranscriptTests {
    @Test(.timeLimit(.minutes(1)))
    func anAICallsTranscriptIsWrittenInItsOwnersFolderAndRecorded() async throws {
        var configuration = NinjaConfiguration.defaults
        configuration.dataDirectory = NSTemporaryDirectory() + "answer-ninja-transcript-\(UInt32.random(in: 0 ... .max))"
        defer { try? FileManager.default.removeItem(atPath: configuration.dataDirectory) }
        let context = ServiceContext(configuration: configuration, roles: [.gateway], logger: Logger(label: "test"))
        let store = try await StoreService.open(context: context)
        let platform = store.platform
        let recorder = CallRecorder(platform: platform, logger: Logger(label: "test"))
        let started = unixMilliseconds()
        recorder.started(callId: "t/1@gw", startedAt: started, caller: "+14155550123", callee: "demo", attestation: nil)
        // The owner is found by the dialled number in a task of its own; the transcript needs it.
        var owner: String?
        for _ in 0..<100 where owner == nil {
            try await Task.sleep(for: .milliseconds(50))
            _ = try await platform.replayer.catchUp()
            owner = try await platform.records.record(id: "t/1@gw")?.userId
        }
        #expect(owner == store.report.demoUser?.id)
        recorder.record(.answered, callId: "t/1@gw", startedAt: started)
        recorder.record(.turn(CallTurn(turn: 1, at: started + 1200, callerText: "", replyText: "Hello, this is an assistant.")), callId: "t/1@gw", startedAt: started)
        recorder.record(.turn(CallTurn(turn: 2, at: started + 65_000, callerText: "It's about your car's\nwarranty", replyText: "Please take this number off your list.")), callId: "t/1@gw", startedAt: started)
        recorder.record(.ended(outcome: "hung_up_by_ai", reason: "spam"), callId: "t/1@gw", startedAt: started, at: started + 70_000)
        await recorder.drain()
        _ = try await platform.replayer.catchUp()
        let record = try #require(try await platform.records.record(id: "t/1@gw"))
        let path = try #require(record.transcriptPath)
        // In its owner's folder, named by the call (and a random part: no two calls' files share a name).
        #expect(path.hasPrefix(platform.recordings.root + "/users/\(owner ?? "")/t_1_gw-") && path.hasSuffix(".txt"), "\(path)")
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map(String.init)
        #expect(lines.count == 4, "\(lines)")
        #expect(lines.first?.hasPrefix("Call t/1@gw from +14155550123 to demo, ") == true)
        #expect(Array(lines.dropFirst()) == [
            "[00:01] Assistant: Hello, this is an assistant.", "[01:05] Caller: It's about your car's warranty", "[01:05] Assistant: Please take this number off your list.",
        ])
        #expect(record.state == .ended && record.turns.count == 2)
        try await store.close()
    }
}

@Suite struct ProfileKeyRotationTests {
    @Test func aCallersProfileMovesToTheNewKeyWhenTheCallerIsNextSeen() async throws {
        var configuration = NinjaConfiguration.defaults
        configuration.dataDirectory = NSTemporaryDirectory() + "answer-ninja-rotation-\(UInt32.random(in: 0 ... .max))"
        defer { try? FileManager.default.removeItem(atPath: configuration.dataDirectory) }
        let oldKey = String(repeating: "ab", count: 32), newKey = String(repeating: "cd", count: 32)
        let number = try E164Number("+14155550123")
        configuration.store.profileKey = oldKey
        let first = try await StoreService.open(context: ServiceContext(configuration: configuration, roles: [.api], logger: Logger(label: "test")))
        let before = try await first.platform.profileKey(for: number)
        try await first.platform.profiles.record(.init(startedAt: 1000, durationSeconds: 4, answered: true), key: before, keyVersion: 1, userId: nil, now: 1000)
        try await first.close()

        configuration.store.profileKey = newKey
        configuration.store.profileKeyVersion = 2
        configuration.store.profileKeyPrevious = oldKey
        let second = try await StoreService.open(context: ServiceContext(configuration: configuration, roles: [.api], logger: Logger(label: "test")))
        let after = try await second.platform.profileKey(for: number)
        #expect(after != before)
        let profile = try #require(try await second.platform.profiles.profile(key: after))
        #expect(profile.calls == 1 && profile.keyVersion == 2)
        #expect(try await second.platform.profiles.profile(key: before) == nil, "nothing stays under the old key")
        try await second.close()
    }

    @Test func aPreviousKeyWithoutANewOneIsAConfigurationError() throws {
        let error = #expect(throws: CoreError.self) {
            try ConfigurationLoader(environment: ["ANSWER_NINJA_STORE_PROFILE_KEY_PREVIOUS": String(repeating: "ab", count: 32)]).load()
        }
        #expect(error?.message.contains("key rotation") == true, "\(String(describing: error))")
    }
}
