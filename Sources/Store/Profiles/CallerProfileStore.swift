import Screening

/// Caller profiles (global, by `CallerKey`) and each user's view of a caller (their calls and verdict).
public struct CallerProfileStore: Sendable {
    public let database: any SQLDatabase

    public init(database: any SQLDatabase) { self.database = database }

    static let columns = """
        number_key, key_version, calls, short_calls, answered_calls, spam_reports, not_spam_reports, intents, attestations, recent_calls,
        first_seen, last_seen
        """

    /// Moves the profile stored under `old` (and its users' views) to `new` with key version `version`: a key
    /// rotation, one caller at a time. Nothing moves when there is nothing under `old`, or when `new` has a profile
    /// already (a call came in between); what stays under the old key is purged with the inactive profiles.
    /// True when a profile moved.
    @discardableResult
    public func rekey(from old: String, to new: String, version: Int) async throws -> Bool {
        try await database.transaction { connection in
            let moved = try connection.query(
                """
                UPDATE caller_profiles SET number_key = $2, key_version = $3
                WHERE number_key = $1 AND NOT EXISTS (SELECT 1 FROM caller_profiles WHERE number_key = $2) RETURNING number_key
                """,
                [.text(old), .text(new), .integer(Int64(version))]
            )
            guard !moved.isEmpty else { return false }
            try connection.query("UPDATE caller_user_views SET number_key = $2 WHERE number_key = $1", [.text(old), .text(new)])
            return true
        }
    }

    /// How many users a caller reached since $2 (the burst signal: `SpamScore.evaluate(usersCalledRecently:)`).
    static let usersCalledRecently = "SELECT count(*) FROM caller_user_views WHERE number_key = $1 AND calls > 0 AND updated_at >= $2"

    public func profile(key: String) async throws -> CallerProfile? {
        try await database.query("SELECT \(Self.columns) FROM caller_profiles WHERE number_key = $1", [.text(key)]).first.flatMap(Self.profile)
    }

    /// The profile as `userId` sees it: the score with their verdict, and the users who got calls in the last day.
    public func evaluate(key: String, userId: String?, now: Int64) async throws -> (profile: CallerProfile?, score: SpamScore) {
        let profile = try await self.profile(key: key)
        let users = try await database.query(Self.usersCalledRecently, [.text(key), .integer(now - 86_400_000)]).first?.first?.int ?? 0
        let verdict = try await userId.asyncFlatMap { try await self.verdict(key: key, userId: $0) }
        let score = SpamScore.evaluate(profile ?? CallerProfile(numberKey: key, keyVersion: 0, now: now), usersCalledRecently: users, userVerdict: verdict, now: now)
        return (profile, score)
    }

    /// Adds one finished call to the caller's profile and to `userId`'s view of them; stores the new global score.
    @discardableResult
    public func record(_ call: CallerProfile.CallSummary, key: String, keyVersion: Int, userId: String?, now: Int64) async throws -> CallerProfile {
        try await database.transaction { connection in
            try Self.lock(key, keyVersion: keyVersion, now: call.startedAt, on: connection)
            var profile = try connection.query("SELECT \(Self.columns) FROM caller_profiles WHERE number_key = $1", [.text(key)]).first.flatMap(Self.profile)
                ?? CallerProfile(numberKey: key, keyVersion: keyVersion, now: call.startedAt)
            profile.record(call)
            if let userId {
                try connection.query(
                    """
                    INSERT INTO caller_user_views (number_key, user_id, calls, updated_at) VALUES ($1, $2, 1, $3)
                    ON CONFLICT (number_key, user_id) DO UPDATE SET calls = caller_user_views.calls + 1, updated_at = excluded.updated_at
                    """,
                    [.text(key), .text(userId), .integer(now)]
                )
            }
            let users = try connection.query(Self.usersCalledRecently, [.text(key), .integer(now - 86_400_000)]).first?.first?.int ?? 0
            try Self.save(profile, score: SpamScore.evaluate(profile, usersCalledRecently: users, now: now), on: connection)
            return profile
        }
    }

    /// Records `userId`'s verdict (`spam` or `not_spam`, nil to withdraw it): it moves the global report counts
    /// (a changed verdict moves its report) and wins for that user.
    public func setVerdict(_ verdict: String?, key: String, keyVersion: Int = 1, userId: String, now: Int64) async throws {
        guard verdict == nil || verdict == "spam" || verdict == "not_spam" else {
            throw StoreError(code: .init("invalid_verdict"), message: "a verdict is spam or not_spam, got \(verdict ?? "")")
        }
        try await database.transaction { connection in
            let previous = try connection.query("SELECT verdict FROM caller_user_views WHERE number_key = $1 AND user_id = $2", [.text(key), .text(userId)]).first?.first?.text
            guard previous != verdict else { return }
            try connection.query(
                """
                INSERT INTO caller_user_views (number_key, user_id, calls, verdict, updated_at) VALUES ($1, $2, 0, $3, $4)
                ON CONFLICT (number_key, user_id) DO UPDATE SET verdict = excluded.verdict
                """,
                [.text(key), .text(userId), SQLValue(verdict), .integer(now)]
            )
            try Self.lock(key, keyVersion: keyVersion, now: now, on: connection)
            var profile = try connection.query("SELECT \(Self.columns) FROM caller_profiles WHERE number_key = $1", [.text(key)]).first.flatMap(Self.profile)
                ?? CallerProfile(numberKey: key, keyVersion: keyVersion, now: now)
            if previous == "spam" { profile.spamReports -= 1 }
            if previous == "not_spam" { profile.notSpamReports -= 1 }
            if verdict == "spam" { profile.spamReports += 1 }
            if verdict == "not_spam" { profile.notSpamReports += 1 }
            let users = try connection.query(Self.usersCalledRecently, [.text(key), .integer(now - 86_400_000)]).first?.first?.int ?? 0
            try Self.save(profile, score: SpamScore.evaluate(profile, usersCalledRecently: users, now: now), on: connection)
        }
    }

    public func verdict(key: String, userId: String) async throws -> String? {
        try await database.query("SELECT verdict FROM caller_user_views WHERE number_key = $1 AND user_id = $2", [.text(key), .text(userId)]).first?.first?.text
    }

    /// The stored global score and its signals (as of the last change).
    public func storedScore(key: String) async throws -> (score: Double, signals: [SpamScore.Signal])? {
        guard let row = try await database.query("SELECT score, signals FROM caller_profiles WHERE number_key = $1", [.text(key)]).first else { return nil }
        return (row[0].real ?? 0, StoreJSON.decode([SpamScore.Signal].self, row[1].text) ?? [])
    }

    /// Makes sure the profile's row exists and locks it for the rest of the transaction (a no-op UPDATE takes the row
    /// lock on PostgreSQL, and the next read sees what a concurrent writer committed; SQLite serialises writers
    /// anyway), so that two calls ending at once, or a call and a verdict, never lose each other's counts.
    private static func lock(_ key: String, keyVersion: Int, now: Int64, on connection: any SQLConnection) throws {
        try connection.query(
            "INSERT INTO caller_profiles (number_key, key_version, first_seen, last_seen) VALUES ($1, $2, $3, $3) ON CONFLICT (number_key) DO NOTHING",
            [.text(key), .integer(Int64(keyVersion)), .integer(now)]
        )
        try connection.query("UPDATE caller_profiles SET number_key = number_key WHERE number_key = $1", [.text(key)])
    }

    private static func save(_ profile: CallerProfile, score: SpamScore, on connection: any SQLConnection) throws {
        try connection.query(
            """
            INSERT INTO caller_profiles (number_key, key_version, calls, short_calls, answered_calls, spam_reports, not_spam_reports, intents,
                attestations, recent_calls, score, signals, first_seen, last_seen)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
            ON CONFLICT (number_key) DO UPDATE SET key_version = excluded.key_version, calls = excluded.calls, short_calls = excluded.short_calls,
                answered_calls = excluded.answered_calls, spam_reports = excluded.spam_reports, not_spam_reports = excluded.not_spam_reports,
                intents = excluded.intents, attestations = excluded.attestations, recent_calls = excluded.recent_calls, score = excluded.score,
                signals = excluded.signals, first_seen = excluded.first_seen, last_seen = excluded.last_seen
            """,
            [
                .text(profile.numberKey), .integer(Int64(profile.keyVersion)), .integer(Int64(profile.calls)), .integer(Int64(profile.shortCalls)),
                .integer(Int64(profile.answeredCalls)), .integer(Int64(profile.spamReports)), .integer(Int64(profile.notSpamReports)),
                .text(StoreJSON.encode(profile.intents)), .text(StoreJSON.encode(profile.attestations)), .text(StoreJSON.encode(profile.recentCalls)),
                .real(score.score), .text(StoreJSON.encode(score.signals)), .integer(profile.firstSeen), .integer(profile.lastSeen),
            ]
        )
    }

    static func profile(_ row: SQLRow) -> CallerProfile? {
        guard let key = row[0].text else { return nil }
        var profile = CallerProfile(numberKey: key, keyVersion: row[1].int ?? 1, now: row[10].integer ?? 0)
        profile.calls = row[2].int ?? 0
        profile.shortCalls = row[3].int ?? 0
        profile.answeredCalls = row[4].int ?? 0
        profile.spamReports = row[5].int ?? 0
        profile.notSpamReports = row[6].int ?? 0
        profile.intents = StoreJSON.decode([String: Int].self, row[7].text) ?? [:]
        profile.attestations = StoreJSON.decode([String: Int].self, row[8].text) ?? [:]
        profile.recentCalls = StoreJSON.decode([Int64].self, row[9].text) ?? []
        profile.lastSeen = row[11].integer ?? profile.firstSeen
        return profile
    }
}

extension Optional {
    func asyncFlatMap<T>(_ transform: (Wrapped) async throws -> T?) async rethrows -> T? {
        guard let value = self else { return nil }
        return try await transform(value)
    }
}
