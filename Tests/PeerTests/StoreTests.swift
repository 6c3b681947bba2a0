import AnswerNinjaCore
import AnswerNinjaTestSupport
import Foundation
import Screening
import Store
import Testing

/// The store on a real PostgreSQL (started per test on a loopback port) and on SQLite: the two schemas match, the
/// same repository tests pass on both, partitions are kept, and a database outage loses no call record.
@Suite(.serialized) struct StoreTests {
    enum Backend: String, CaseIterable, Sendable { case sqlite, postgres }

    static let postgresAvailable = PostgresPeer.binDirectory != nil || PeerEnvironment.isCI

    /// Runs `body` on a migrated database of `backend`; the PostgreSQL server is passed for tests that stop it.
    static func withDatabase(_ backend: Backend, _ body: (any SQLDatabase, PostgresPeer?) async throws -> Void) async throws {
        switch backend {
        case .sqlite:
            let path = NSTemporaryDirectory() + "answer-ninja-store-\(UInt32.random(in: 0 ... .max)).sqlite"
            defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
            let database = try await SQLiteDatabase.open(path: path)
            try await database.migrate()
            try await body(database, nil)
            try await database.close()
        case .postgres:
            let peer = try await PostgresPeer.start()
            try await withPeer(peer) { peer in
                let database = try await PostgresDatabase.open(PostgresSettings(url: peer.url, poolSize: 3, connectTimeoutSeconds: 2))
                do {
                    try await database.migrate()
                    try await body(database, peer)
                } catch {
                    try? await database.close()
                    throw error
                }
                try await database.close()
            }
        }
    }

    @Test(.enabled(if: postgresAvailable), .timeLimit(.minutes(2)))
    func theTwoSchemasMatch() async throws {
        #expect(try Migration.bundled(.sqlite).map(\.version) == Migration.bundled(.postgres).map(\.version))
        var sqlite: [String: [String]] = [:]
        try await Self.withDatabase(.sqlite) { database, _ in
            let tables = try await database.query("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
            for table in tables.compactMap({ $0.first?.text }) {
                // cid, name, type, notnull, default, pk
                sqlite[table] = try await database.query("SELECT name, lower(type), \"notnull\", pk FROM pragma_table_info($1) ORDER BY cid", [.text(table)]).map { row in
                    // SQLite leaves primary-key columns nullable unless told; PostgreSQL makes them NOT NULL.
                    "\(row[0].text!) \(row[1].text!) \(row[2].int == 1 || row[3].int! > 0 ? "not null" : "null") \(row[3].int! > 0 ? "pk" : "")"
                }
            }
        }
        var postgres: [String: [String]] = [:]
        try await Self.withDatabase(.postgres) { database, _ in
            let tables = try await database.query(
                """
                SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition AND c.relname <> 'schema_migrations'
                ORDER BY c.relname
                """
            )
            for table in tables.compactMap({ $0.first?.text }) {
                postgres[table] = try await database.query(
                    """
                    SELECT c.column_name, c.data_type, c.is_nullable,
                        EXISTS (SELECT 1 FROM information_schema.key_column_usage k JOIN information_schema.table_constraints t
                            ON t.constraint_name = k.constraint_name AND t.table_name = k.table_name
                            WHERE t.constraint_type = 'PRIMARY KEY' AND k.table_name = c.table_name AND k.column_name = c.column_name)
                    FROM information_schema.columns c WHERE c.table_schema = 'public' AND c.table_name = $1 ORDER BY c.ordinal_position
                    """,
                    [.text(table)]
                ).map { row in "\(row[0].text!) \(row[1].text!) \(row[2].text == "NO" ? "not null" : "null") \(row[3].integer == 1 ? "pk" : "")" }
            }
            // Monthly partitions of this month and the next, and a DEFAULT one, for both partitioned tables.
            let partitions = try await database.query(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'call_records' ORDER BY 1"
            ).compactMap { $0.first?.text }
            let months = PostgresPartitions.months(around: Date()).map { "call_records_\($0.name)" }
            #expect(partitions == (["call_records_default"] + months).sorted())
        }
        #expect(!sqlite.isEmpty && sqlite.keys.sorted() == postgres.keys.sorted())
        for table in sqlite.keys.sorted() {
            #expect(sqlite[table] == postgres[table], "table \(table)")
        }
        #expect(sqlite["call_records"]?.contains("started_at bigint not null pk") == true)
    }

    @Test(.enabled(if: postgresAvailable), .timeLimit(.minutes(2)), arguments: Backend.allCases)
    func callRecordsAreWrittenOnceWhateverTheReplay(backend: Backend) async throws {
        try await Self.withDatabase(backend) { database, _ in
            let directory = NSTemporaryDirectory() + "answer-ninja-journal-\(UInt32.random(in: 0 ... .max))"
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let journal = try await CallJournal.open(directory: directory, instance: "gw-1")
            let start: Int64 = 1_700_000_000_000
            for call in 0..<5 {
                let id = "call-\(call)", at = start + Int64(call) * 60_000
                try await journal.record(.started(userId: "user-\(call % 2)", caller: "+1555000000\(call)", callee: "demo"), callId: id, startedAt: at, at: at)
                try await journal.record(.decided(decision: "screen", reasons: ["whitelist:none"]), callId: id, startedAt: at, at: at + 3)
                for turn in 1...3 {
                    try await journal.record(
                        .turn(CallTurn(turn: turn, at: at + Int64(turn) * 4000, callerText: "caller says \(turn)", replyText: "reply \(turn)", intent: "survey", confidence: 0.8, latencies: ["reply": 1.5])),
                        callId: id, startedAt: at, at: at + Int64(turn) * 4000
                    )
                }
                try await journal.record(.latency(name: "turn_p50_ms", milliseconds: 420), callId: id, startedAt: at, at: at + 13_000)
                try await journal.record(.latency(name: "setup_ms", milliseconds: 2.25), callId: id, startedAt: at, at: at + 13_000)
                if call < 4 { try await journal.record(.ended(outcome: "hung_up_by_ai", reason: "survey_declined"), callId: id, startedAt: at, at: at + 14_000) }
            }
            let everything = try await journal.read(from: .start, limit: 1000).events
            let records = CallRecordStore(database: database)
            let replayer = JournalReplayer(journal: journal, records: records, batchSize: 9)
            #expect(try await replayer.catchUp() == everything.count)
            // The same events again, and again in one batch: nothing changes.
            #expect(try await records.apply(everything) == 0)
            #expect(try await records.apply(Array(everything.reversed())) == 0)
            #expect(try await records.count() == 5)
            let one = try #require(try await records.record(id: "call-1"))
            #expect(one.turns.map(\.turn) == [1, 2, 3] && one.turns.map(\.callerText) == ["caller says 1", "caller says 2", "caller says 3"])
            #expect(one.latencies == ["turn_p50_ms": 420, "setup_ms": 2.25])
            #expect(one.state == .ended && one.endedAt == start + 60_000 + 14_000 && one.lastSequence == 8)
            let user1 = try await records.records(userId: "user-1")
            #expect(user1.map(\.id) == ["call-3", "call-1"], "newest first, one user's only")
            #expect(try await records.records(userId: "user-1", before: start + 3 * 60_000).map(\.id) == ["call-1"])
            // The history's filters (the dashboard's): by words said in either side's text whatever their case, part of
            // the number, outcome, intent and time; LIKE's wildcards in what is searched for are taken as text.
            func ids(_ filter: CallRecordFilter, user: String = "user-1") async throws -> [String] {
                try await records.records(userId: user, matching: filter).map(\.id)
            }
            #expect(try await ids(.init(text: "CALLER SAYS 2")) == ["call-3", "call-1"])
            #expect(try await ids(.init(text: "REPLY 3")).count == 2)
            #expect(try await ids(.init(text: "nobody said this")).isEmpty)
            #expect(try await ids(.init(text: "%")).isEmpty)
            #expect(try await ids(.init(text: "_")).isEmpty)
            #expect(try await ids(.init(number: "5550000003")) == ["call-3"])
            #expect(try await ids(.init(number: "555%")).isEmpty)
            #expect(try await ids(.init(outcome: "hung_up_by_ai")) == ["call-3", "call-1"])
            #expect(try await ids(.init(outcome: "blocked")).isEmpty)
            #expect(try await ids(.init(from: start + 2 * 60_000)) == ["call-3"])
            #expect(try await ids(.init(until: start + 2 * 60_000)) == ["call-1"])
            #expect(try await ids(.init(text: "caller"), user: "user-0") == ["call-4", "call-2", "call-0"])
            #expect(try await records.outcomes(userId: "user-1") == ["hung_up_by_ai"])
            // The admin page's figures: calls per hour (all five started in one hour) and every turn's latencies.
            let hours = try await records.callsPerHour(since: start)
            #expect(hours.count == 1 && hours[0].hour == start / 3_600_000 * 3_600_000 && hours[0].calls == 5, "\(hours)")
            #expect(try await records.callsPerHour(since: start + 3_600_000).isEmpty)
            let latencies = try await records.turnLatencies(since: start)
            #expect(latencies.count == 15 && latencies.allSatisfy { $0 == ["reply": 1.5] })
            // The unfinished call, interrupted by a sweep, stays interrupted even if its owner's last words come later.
            #expect(try await records.unfinished(instance: "gw-1").map(\.id) == ["call-4"])
            #expect(try await records.unfinished(instance: "gw-2").isEmpty)
            let late = CallEvent(callId: "call-4", sequence: 9, callStartedAt: start + 240_000, at: start + 300_000, instance: "gw-1", change: .interrupted(reason: "instance_lost"))
            let later = CallEvent(callId: "call-4", sequence: 10, callStartedAt: start + 240_000, at: start + 301_000, instance: "gw-1", change: .answered)
            #expect(try await records.apply([late, later]) == 2)
            #expect(try await records.record(id: "call-4")?.state == .interrupted)
            // A change whose start never arrived is kept under a record that says so.
            let orphan = CallEvent(callId: "orphan", sequence: 3, callStartedAt: start, at: start + 1, instance: "gw-1", change: .intent(name: "scam", confidence: 0.7))
            #expect(try await records.apply([orphan]) == 1)
            let kept = try #require(try await records.record(id: "orphan"))
            #expect(kept.intent == "scam" && kept.reasons == ["journal:start_missing"])
            try await journal.close()
        }
    }

    @Test(.enabled(if: postgresAvailable), .timeLimit(.minutes(2)), arguments: Backend.allCases)
    func usersTokensWhitelistProfilesAndAuditBehaveTheSame(backend: Backend) async throws {
        try await Self.withDatabase(backend) { database, _ in
            let now: Int64 = 1_800_000_000_000
            // Users: unique email (case-insensitive), numbers owned by one user, cascade on delete.
            let users = UserDirectory(database: database)
            let alice = try await users.create(email: "Alice@Example.com", displayName: "Alice", passwordHash: "$2b$04$hash")
            let bob = try await users.create(email: "bob@example.com", displayName: "Bob", passwordHash: "$2b$04$hash2", role: .admin)
            let duplicate = await #expect(throws: StoreError.self) { try await users.create(email: "alice@example.com", displayName: "A2", passwordHash: "x") }
            #expect(duplicate?.code.rawValue == "constraint")
            #expect(try await users.account(email: "ALICE@example.com")?.id == alice.id)
            try await users.addNumber("+14155550100", to: alice.id)
            try await users.addNumber("+14155550100", to: alice.id)
            let taken = await #expect(throws: StoreError.self) { try await users.addNumber("+14155550100", to: bob.id) }
            #expect(taken?.code.rawValue == "constraint")
            #expect(try await users.user(owning: "+14155550100")?.id == alice.id)
            let updated = try await users.update(id: alice.id, .init(totpSecret: "JBSWY3DPEHPK3PXP", forwardingTarget: "sip:alice@192.0.2.10", settings: #"{"persona":"polite"}"#))
            #expect(updated?.totpSecret == "JBSWY3DPEHPK3PXP" && updated?.forwardingTarget == "sip:alice@192.0.2.10" && updated?.numbers == ["+14155550100"])
            // The user a device account calls out for: by the device their forwarding target names, whatever the case;
            // LIKE's wildcards in an account name match only themselves.
            #expect(try await users.account(forwardingToDevice: "ALICE")?.id == alice.id)
            #expect(try await users.account(forwardingToDevice: "ali") == nil)
            #expect(try await users.account(forwardingToDevice: "al_ce") == nil)
            #expect(try await users.account(forwardingToDevice: "%") == nil)
            try await users.clearTOTP(id: alice.id)
            #expect(try await users.account(id: alice.id)?.totpSecret == nil)
            #expect(try await users.accounts(limit: 10).map(\.id) == [alice.id, bob.id].sorted())
            #expect(try await users.accounts(limit: 10, after: [alice.id, bob.id].min()).count == 1)

            // Refresh tokens: rotation, reuse revoking the family, expiry.
            let tokens = RefreshTokenStore(database: database)
            try await tokens.issue(hash: "h1", userId: alice.id, family: "f1", issuedAt: now, expiresAt: now + 1000)
            #expect(try await tokens.redeem(hash: "h1", now: now + 1) == .valid(userId: alice.id, family: "f1"))
            try await tokens.issue(hash: "h2", userId: alice.id, family: "f1", issuedAt: now + 1, expiresAt: now + 1000)
            #expect(try await tokens.redeem(hash: "h1", now: now + 2) == .reused(userId: alice.id, family: "f1"))
            #expect(try await tokens.redeem(hash: "h2", now: now + 3) == .revoked, "the whole family went with the reuse")
            try await tokens.issue(hash: "h3", userId: alice.id, family: "f2", issuedAt: now, expiresAt: now + 10)
            #expect(try await tokens.redeem(hash: "h3", now: now + 10) == .expired)
            #expect(try await tokens.redeem(hash: "nope", now: now) == .unknown)

            // Whitelist: save, learn (never over what the user said), check, page, purge.
            let whitelist = WhitelistStore(database: database)
            try await whitelist.save(WhitelistEntry(pattern: try WhitelistPattern("+1900*"), list: .block, source: .manual, createdAt: now), userId: alice.id)
            try await whitelist.save(WhitelistEntry(pattern: try WhitelistPattern("+14155550123"), list: .allow, source: .contact, label: "Mum", createdAt: now), userId: alice.id)
            try await whitelist.save(WhitelistEntry(pattern: try WhitelistPattern("+14155550999"), list: .block, source: .manual, createdAt: now), userId: alice.id)
            try await whitelist.save(WhitelistEntry(pattern: try WhitelistPattern("+14155550555"), list: .allow, source: .temporary, expiresAt: now + 60_000, createdAt: now), userId: alice.id)
            #expect(try await whitelist.learn(try E164Number("+14155550999"), userId: alice.id, reason: "user called it", now: now) == false)
            #expect(try await whitelist.learn(try E164Number("+14155550777"), userId: alice.id, reason: "user called it", now: now) == true)
            #expect(try await whitelist.check(userId: alice.id, number: try E164Number("+14155550123"), now: now).reason == "whitelist:contact:+14155550123")
            #expect(try await whitelist.check(userId: alice.id, number: try E164Number("+14155550999"), now: now).reason == "blocklist:manual:+14155550999")
            #expect(try await whitelist.check(userId: alice.id, number: try E164Number("+19005551234"), now: now).reason == "blocklist:manual:+1900*")
            #expect(try await whitelist.check(userId: alice.id, number: try E164Number("+14155550555"), now: now + 60_000) == .unknown, "expired")
            #expect(try await whitelist.check(userId: bob.id, number: try E164Number("+14155550123"), now: now) == .unknown, "one user's list is theirs")
            let page = try await whitelist.page(userId: alice.id, list: .allow, limit: 2, offset: 1)
            #expect(page.total == 3 && page.entries.map(\.pattern.rawValue) == ["+14155550555", "+14155550777"])
            #expect(try await whitelist.entries(userId: alice.id).first { $0.source == .learned }?.reason == "user called it")
            #expect(try await whitelist.purgeExpired(before: now + 120_000) == 1)
            #expect(try await whitelist.delete(pattern: "+1900*", userId: alice.id))
            #expect(try await whitelist.delete(pattern: "+1900*", userId: alice.id) == false)
            let imported = try await whitelist.saveAll([
                WhitelistEntry(pattern: try WhitelistPattern("+14155550123"), list: .allow, source: .contact, label: "Mum again", createdAt: now),
                WhitelistEntry(pattern: try WhitelistPattern("+442079460018"), list: .allow, source: .contact, createdAt: now),
            ], userId: alice.id)
            #expect(imported == 1)

            // Caller profiles: calls across users, verdicts moving the counts, the user's verdict winning for them.
            let profiles = CallerProfileStore(database: database)
            let key = try CallerKey(secret: Array(repeating: 7, count: 32)).key(for: try E164Number("+18885550100"))
            for (index, user) in [alice.id, bob.id, alice.id].enumerated() {
                try await profiles.record(.init(startedAt: now + Int64(index), durationSeconds: 5, answered: true, intent: "sales_call", attestation: "C"), key: key, keyVersion: 1, userId: user, now: now + Int64(index))
            }
            let stored = try #require(try await profiles.profile(key: key))
            #expect(stored.calls == 3 && stored.shortCalls == 3 && stored.intents == ["sales_call": 3] && stored.attestations == ["C": 3] && stored.recentCalls.count == 3)
            try await profiles.setVerdict("spam", key: key, userId: bob.id, now: now + 10)
            try await profiles.setVerdict("not_spam", key: key, userId: alice.id, now: now + 11)
            try await profiles.setVerdict("spam", key: key, userId: alice.id, now: now + 12)
            #expect(try await profiles.profile(key: key).map { ($0.spamReports, $0.notSpamReports) } ?? (0, 0) == (2, 0), "a changed verdict moves its report")
            try await profiles.setVerdict("not_spam", key: key, userId: alice.id, now: now + 13)
            let forAlice = try await profiles.evaluate(key: key, userId: alice.id, now: now + 20)
            let forBob = try await profiles.evaluate(key: key, userId: bob.id, now: now + 20)
            #expect(forAlice.score.score == 0 && forAlice.score.userVerdict == "not_spam")
            #expect(forBob.score.score == 1)
            let global = try await profiles.evaluate(key: key, userId: nil, now: now + 20)
            #expect(global.score.score > 0.5 && global.score.signals.contains { $0.name == "spam_intents" })
            #expect(try await profiles.storedScore(key: key)?.signals.isEmpty == false)
            await #expect(throws: StoreError.self) { try await profiles.setVerdict("maybe", key: key, userId: alice.id, now: now) }
            // Twenty calls of one caller ending at once lose no count (the row is locked for each update).
            let busy = "busy-caller-key"
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<20 {
                    group.addTask {
                        try await profiles.record(.init(startedAt: now + Int64(index), durationSeconds: 30, answered: true), key: busy, keyVersion: 1, userId: nil, now: now + Int64(index))
                    }
                }
                try await group.waitForAll()
            }
            #expect(try await profiles.profile(key: busy)?.calls == 20)
            // A key rotation moves a profile and its users' views to the new key once; a profile already under the
            // new key is left alone.
            let rotated = try CallerKey(secret: Array(repeating: 9, count: 32), version: 2).key(for: try E164Number("+18885550100"))
            #expect(try await profiles.rekey(from: key, to: rotated, version: 2))
            #expect(try await profiles.profile(key: key) == nil)
            #expect(try await profiles.profile(key: rotated).map { ($0.calls, $0.keyVersion) } ?? (0, 0) == (3, 2))
            #expect(try await profiles.verdict(key: rotated, userId: alice.id) == "not_spam")
            #expect(try await profiles.rekey(from: key, to: rotated, version: 2) == false, "nothing left under the old key")
            #expect(try await profiles.rekey(from: busy, to: rotated, version: 2) == false, "the new key has a profile already")
            #expect(try await profiles.profile(key: busy)?.calls == 20)

            // Audit and settings.
            let audit = AuditLog(database: database)
            try await audit.append(actor: bob.id, action: "user.role", target: alice.id, detail: #"{"role":"user"}"#, at: now)
            try await audit.append(actor: bob.id, action: "settings.set", target: "feature.llm", at: now + 1)
            #expect(try await audit.entries(limit: 10).map(\.action) == ["settings.set", "user.role"])
            let settings = SettingsStore(database: database)
            try await settings.set("feature.llm", to: "true", at: now)
            try await settings.set("feature.llm", to: "false", at: now + 5)
            #expect(try await settings.value("feature.llm") == "false")
            #expect(try await settings.version() == now + 5)

            // Deleting a user takes everything of theirs.
            let records = CallRecordStore(database: database)
            try await records.apply([CallEvent(callId: "c1", sequence: 1, callStartedAt: now, at: now, instance: "gw", change: .started(userId: alice.id, caller: "+1", callee: "+14155550100"))])
            #expect(try await users.delete(id: alice.id))
            #expect(try await users.user(owning: "+14155550100") == nil)
            #expect(try await whitelist.entries(userId: alice.id).isEmpty)
            #expect(try await records.records(userId: alice.id).isEmpty)
            #expect(try await tokens.redeem(hash: "h2", now: now) == .unknown)
            #expect(try await profiles.verdict(key: key, userId: alice.id) == nil)
            #expect(try await users.userCount() == 1)
        }
    }

    @Test(.enabled(if: postgresAvailable), .timeLimit(.minutes(2)), arguments: Backend.allCases)
    func theFirstOwnerClaimsTheDemoUserOnce(backend: Backend) async throws {
        try await Self.withDatabase(backend) { database, _ in
            let users = UserDirectory(database: database)
            let demo = try NumberAlias("demo")
            let (demoUser, _) = try await users.ensureDemoUser(alias: demo)
            // Neither an admin who cannot sign in (no password) nor a user who can is an owner.
            try await users.update(id: demoUser.id, .init(role: .admin))
            _ = try await users.create(email: "plain@example.com", displayName: "Plain", passwordHash: "$2b$04$p")
            #expect(try await !users.hasOwner())

            // Two setups at once: one wins, the other finds the owner made.
            async let first = users.claimOwner(email: "Owner@Example.com", displayName: "Owner", passwordHash: "$2b$04$o", demoAlias: demo, at: 1)
            async let second = users.claimOwner(email: "rival@example.com", displayName: "Rival", passwordHash: "$2b$04$r", demoAlias: demo, at: 2)
            let claims = try await [first, second].compactMap { $0 }
            #expect(claims.count == 1)
            let owner = try #require(claims.first)
            #expect(owner.id == demoUser.id && owner.role == .admin && owner.numbers == ["demo"] && owner.passwordHash != nil)
            #expect(owner.email == "owner@example.com" || owner.email == "rival@example.com")
            #expect(try await users.hasOwner())
            #expect(try await users.isLastAdmin(id: owner.id))
            #expect(try await users.claimOwner(email: "late@example.com", displayName: "Late", passwordHash: "x", demoAlias: demo, at: 3) == nil)

            // Setup happens once per install: with the owner demoted (no admin can sign in), it stays closed.
            try await users.update(id: owner.id, .init(role: .user))
            #expect(try await !users.isLastAdmin(id: owner.id))
            #expect(try await users.hasOwner())
            #expect(try await users.claimOwner(email: "new@example.com", displayName: "New", passwordHash: "$2b$04$n", demoAlias: demo, at: 4) == nil)
        }
    }

    @Test(.enabled(if: postgresAvailable), .timeLimit(.minutes(2)))
    func aMonthMadeLateAdoptsItsRowsFromTheDefaultPartition() async throws {
        try await Self.withDatabase(.postgres) { database, _ in
            let records = CallRecordStore(database: database)
            let now = Date()
            let later = Calendar(identifier: .gregorian).date(byAdding: .month, value: 3, to: now)!
            let laterMonth = try #require(PostgresPartitions.months(around: later).first)
            let at = laterMonth.start + 1000
            try await records.apply([CallEvent(callId: "future", sequence: 1, callStartedAt: at, at: at, instance: "gw", change: .started(userId: nil, caller: "+15550001111", callee: "demo"))])
            let place = "SELECT tableoid::regclass::text FROM call_records WHERE id = 'future'"
            #expect(try await database.query(place).first?.first?.text == "call_records_default")
            let made = try await PostgresPartitions.ensure(on: database, now: later)
            #expect(made.contains("call_records_\(laterMonth.name)"))
            #expect(try await database.query(place).first?.first?.text == "call_records_\(laterMonth.name)")
            #expect(try await PostgresPartitions.ensure(on: database, now: later).isEmpty, "made once")
            #expect(try await records.record(id: "future")?.caller == "+15550001111")
        }
    }

    @Test(.enabled(if: postgresAvailable), .timeLimit(.minutes(3)))
    func noCallRecordIsLostWhilePostgresIsDown() async throws {
        try await Self.withDatabase(.postgres) { database, peer in
            var peer = try #require(peer)
            let directory = NSTemporaryDirectory() + "answer-ninja-journal-\(UInt32.random(in: 0 ... .max))"
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let journal = try await CallJournal.open(directory: directory, instance: "gw-1")
            let records = CallRecordStore(database: database)
            let replayer = JournalReplayer(journal: journal, records: records)
            let running = Task { await replayer.run() }
            defer { running.cancel() }
            let start: Int64 = 1_700_000_000_000
            try await journal.record(.started(userId: "u", caller: "+15550000001", callee: "demo"), callId: "before", startedAt: start, at: start)
            try await Self.eventually { try await records.count() == 1 }

            await peer.stopServer()
            // Calls go on while the database is down: every change is recorded (durably, in the journal).
            for call in 0..<10 {
                let id = "during-\(call)", at = start + Int64(call + 1) * 1000
                try await journal.record(.started(userId: "u", caller: "+1555000010\(call)", callee: "demo"), callId: id, startedAt: at, at: at)
                try await journal.record(.decided(decision: "screen", reasons: []), callId: id, startedAt: at, at: at + 1)
                try await journal.record(.ended(outcome: "caller_hung_up", reason: "bye"), callId: id, startedAt: at, at: at + 2)
            }
            try await journal.record(.ended(outcome: "caller_hung_up", reason: "bye"), callId: "before", startedAt: start, at: start + 20_000)
            try await Self.eventually { replayer.statistics.failures > 0 }
            #expect(replayer.statistics.lastError != nil)

            peer = try await peer.restarted()
            // The pool reconnects and the replayer catches up by itself.
            try await Self.eventually(timeout: .seconds(30)) { (try? await records.count()) == 11 && replayer.statistics.waiting == 0 }
            #expect(try await records.unfinished().isEmpty)
            #expect(try await records.record(id: "before")?.state == .ended)
            #expect(try await records.record(id: "during-9")?.outcome == "caller_hung_up")
            running.cancel()
            try await journal.close()
        }
    }

    /// Polls `condition` every 50 ms until it holds, for at most `timeout`.
    static func eventually(timeout: Duration = .seconds(15), _ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if try await condition() { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        Issue.record("condition not met within \(timeout)")
        throw CancellationError()
    }
}
