import Foundation

/// Call records and turns on either database. `apply` is idempotent by `(callId, sequence)`: an event at or below
/// the record's `last_sequence` is skipped, so the journal can be replayed from any point after a crash.
public struct CallRecordStore: Sendable {
    public let database: any SQLDatabase

    public init(database: any SQLDatabase) { self.database = database }

    /// Applies `events` (any order across calls; in sequence order within a call) in one transaction; returns how
    /// many changed something.
    @discardableResult
    public func apply(_ events: [CallEvent]) async throws -> Int {
        try await database.transaction { connection in
            var applied = 0
            for event in events where try Self.apply(event, on: connection) { applied += 1 }
            return applied
        }
    }

    static let columns = """
        id, started_at, user_id, caller, callee, state, decision, reasons, intent, intent_confidence, outcome, end_reason,
        answered_at, ended_at, recording_path, latencies, instance, last_sequence, transcript_path
        """

    private static func apply(_ event: CallEvent, on connection: any SQLConnection) throws -> Bool {
        let key: [SQLValue] = [.text(event.callId), .integer(event.callStartedAt)]
        if case .started(let userId, let caller, let callee) = event.change {
            let inserted = try connection.query(
                """
                INSERT INTO call_records (id, started_at, user_id, caller, callee, state, instance, last_sequence)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id, started_at) DO NOTHING RETURNING id
                """,
                key + [SQLValue(userId), .text(caller), .text(callee), .text(CallRecordState.screening.rawValue), .text(event.instance), .integer(Int64(event.sequence))]
            )
            return !inserted.isEmpty
        }
        guard let row = try connection.query("SELECT last_sequence, latencies, state FROM call_records WHERE id = $1 AND started_at = $2", key).first
        else {
            // A change without its start (the start's journal segment was lost): keep what there is under a record
            // that says so, rather than dropping it.
            try connection.query(
                """
                INSERT INTO call_records (id, started_at, caller, callee, state, instance, last_sequence, reasons)
                VALUES ($1, $2, 'unknown', 'unknown', $3, $4, 0, '["journal:start_missing"]')
                """,
                key + [.text(CallRecordState.screening.rawValue), .text(event.instance)]
            )
            return try apply(event, on: connection)
        }
        guard let last = row[0].int, event.sequence > last else { return false }
        // A terminal record stays terminal (a late change is kept in its fields but does not revive the state),
        // except that its owner's own `ended` replaces an `interrupted` that a sweep wrote while it was still alive.
        let current = row[2].text.flatMap(CallRecordState.init(rawValue:))
        var state = current?.isTerminal == true ? current : (event.change.state ?? current)
        if current == .interrupted, case .ended = event.change { state = .ended }
        var assignments = ["last_sequence = $3", "state = $4"]
        var values: [SQLValue] = key + [.integer(Int64(event.sequence)), SQLValue(state?.rawValue)]
        func set(_ column: String, _ value: SQLValue) {
            values.append(value)
            assignments.append("\(column) = $\(values.count)")
        }
        switch event.change {
        case .started: break
        case .assigned(let userId): set("user_id", .text(userId))
        case .decided(let decision, let reasons):
            set("decision", .text(decision))
            set("reasons", .text(StoreJSON.encode(reasons)))
        case .answered: set("answered_at", .integer(event.at))
        case .intent(let name, let confidence):
            set("intent", .text(name))
            set("intent_confidence", .real(confidence))
        case .turn(let turn):
            try connection.query(
                """
                INSERT INTO call_turns (call_id, call_started_at, turn, caller_text, reply_text, intent, confidence, at, latencies)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (call_id, call_started_at, turn) DO NOTHING
                """,
                key + [
                    .integer(Int64(turn.turn)), .text(turn.callerText), .text(turn.replyText), SQLValue(turn.intent), SQLValue(turn.confidence),
                    .integer(turn.at), .text(StoreJSON.encode(turn.latencies)),
                ]
            )
        case .latency(let name, let milliseconds):
            var latencies = StoreJSON.decode([String: Double].self, row[1].text) ?? [:]
            latencies[name] = milliseconds
            set("latencies", .text(StoreJSON.encode(latencies)))
        case .recording(let path): set("recording_path", .text(path))
        case .transcript(let path): set("transcript_path", .text(path))
        case .ended(let outcome, let reason):
            set("outcome", .text(outcome))
            set("end_reason", .text(reason))
            set("ended_at", .integer(event.at))
        case .interrupted(let reason):
            if current?.isTerminal != true {
                set("outcome", .text("interrupted"))
                set("end_reason", .text(reason))
                set("ended_at", .integer(event.at))
            }
        }
        try connection.query("UPDATE call_records SET \(assignments.joined(separator: ", ")) WHERE id = $1 AND started_at = $2", values)
        return true
    }

    /// Marks a call whose owner is gone `interrupted` without taking a sequence number from it (if the owner is alive
    /// after all, its next change still applies, and its `ended` wins). False when the call had ended.
    @discardableResult
    public func markInterrupted(id: String, startedAt: Int64, reason: String, at: Int64) async throws -> Bool {
        !(try await database.query(
            """
            UPDATE call_records SET state = 'interrupted', outcome = 'interrupted', end_reason = $3, ended_at = $4
            WHERE id = $1 AND started_at = $2 AND state NOT IN ('ended', 'interrupted') RETURNING id
            """,
            [.text(id), .integer(startedAt), .text(reason), .integer(at)]
        ).isEmpty)
    }

    /// One record with its turns.
    public func record(id: String) async throws -> CallRecord? {
        let rows = try await database.query("SELECT \(Self.columns) FROM call_records WHERE id = $1", [.text(id)])
        guard let row = rows.first, var record = Self.record(row) else { return nil }
        record.turns = try await database.query(
            "SELECT turn, at, caller_text, reply_text, intent, confidence, latencies FROM call_turns WHERE call_id = $1 AND call_started_at = $2 ORDER BY turn",
            [.text(id), .integer(record.startedAt)]
        ).map { row in
            CallTurn(
                turn: row[0].int ?? 0, at: row[1].integer ?? 0, callerText: row[2].text ?? "", replyText: row[3].text ?? "",
                intent: row[4].text, confidence: row[5].real, latencies: StoreJSON.decode([String: Double].self, row[6].text) ?? [:]
            )
        }
        return record
    }

    /// A user's records, newest first (ties by id), without turns: `limit` after the cursor `(before, beforeId)`,
    /// the last record of the previous page. Without `beforeId`, everything that started before `before`. Only those
    /// that match `filter`.
    public func records(
        userId: String, matching filter: CallRecordFilter = CallRecordFilter(), limit: Int = 50, before: Int64? = nil, beforeId: String? = nil
    ) async throws -> [CallRecord] {
        try await database.query(
            """
            SELECT \(Self.columns) FROM call_records r WHERE r.user_id = $1
            AND (r.started_at < $2 OR (r.started_at = $2 AND CAST($4 AS TEXT) IS NOT NULL AND r.id > CAST($4 AS TEXT)))
            AND r.started_at >= $5 AND r.started_at < $6
            AND (CAST($7 AS TEXT) IS NULL OR r.outcome = CAST($7 AS TEXT))
            AND (CAST($8 AS TEXT) IS NULL OR r.intent = CAST($8 AS TEXT))
            AND (CAST($9 AS TEXT) IS NULL OR r.caller LIKE CAST($9 AS TEXT) ESCAPE '!')
            AND (CAST($10 AS TEXT) IS NULL OR EXISTS (
                SELECT 1 FROM call_turns t WHERE t.call_id = r.id AND t.call_started_at = r.started_at
                AND (LOWER(t.caller_text) LIKE CAST($10 AS TEXT) ESCAPE '!' OR LOWER(t.reply_text) LIKE CAST($10 AS TEXT) ESCAPE '!')))
            ORDER BY r.started_at DESC, r.id LIMIT $3
            """,
            [
                .text(userId), .integer(before ?? .max), .integer(Int64(limit)), SQLValue(beforeId), .integer(filter.from ?? .min), .integer(filter.until ?? .max),
                SQLValue(filter.outcome), SQLValue(filter.intent), SQLValue(filter.number.map { "%" + Self.likeEscaped($0) + "%" }),
                SQLValue(filter.text.map { "%" + Self.likeEscaped($0.lowercased()) + "%" }),
            ]
        ).compactMap(Self.record)
    }

    /// The outcomes `userId`'s calls have ended with, for a history's filter.
    public func outcomes(userId: String) async throws -> [String] {
        try await database.query(
            "SELECT DISTINCT outcome FROM call_records WHERE user_id = $1 AND outcome IS NOT NULL ORDER BY outcome", [.text(userId)]
        ).compactMap { $0[0].text }
    }

    /// Calls started since `since` (every user's), per hour: the hour's start in Unix milliseconds and the count.
    public func callsPerHour(since: Int64) async throws -> [(hour: Int64, calls: Int)] {
        try await database.query(
            "SELECT started_at / 3600000 AS hour, count(*) FROM call_records WHERE started_at >= $1 GROUP BY started_at / 3600000 ORDER BY hour",
            [.integer(since)]
        ).compactMap { row in row[0].integer.map { (hour: $0 * 3_600_000, calls: row[1].int ?? 0) } }
    }

    /// The stage latencies of turns taken since `since` (every user's), newest first, at most `limit`.
    public func turnLatencies(since: Int64, limit: Int = 10_000) async throws -> [[String: Double]] {
        try await database.query(
            // The turns' calls started at most a day before their turns: the bound on call_started_at lets PostgreSQL
            // skip the older monthly partitions.
            "SELECT latencies FROM call_turns WHERE at >= $1 AND call_started_at >= $3 ORDER BY at DESC LIMIT $2",
            [.integer(since), .integer(Int64(limit)), .integer(since - 86_400_000)]
        ).compactMap { StoreJSON.decode([String: Double].self, $0[0].text) }
    }

    /// `text` with LIKE's wildcards and the escape character itself escaped (by `!`).
    static func likeEscaped(_ text: String) -> String {
        text.replacingOccurrences(of: "!", with: "!!").replacingOccurrences(of: "%", with: "!%").replacingOccurrences(of: "_", with: "!_")
    }

    /// Records not ended, of `instance` (any instance when nil), started before `startedBefore`.
    public func unfinished(instance: String? = nil, startedBefore: Int64 = .max) async throws -> [CallRecord] {
        try await database.query(
            "SELECT \(Self.columns) FROM call_records WHERE state NOT IN ('ended', 'interrupted') AND (CAST($1 AS TEXT) IS NULL OR instance = CAST($1 AS TEXT)) AND started_at < $2 ORDER BY started_at",
            [SQLValue(instance), .integer(startedBefore)]
        ).compactMap(Self.record)
    }

    /// Deletes one of `userId`'s calls with its turns; returns its files (recording, transcript) for the caller to
    /// remove; `deleted` is false when there was no such call of theirs.
    public func delete(id: String, userId: String) async throws -> (deleted: Bool, files: [String]) {
        try await database.transaction { connection in
            guard let row = try connection.query(
                "SELECT started_at, recording_path, transcript_path FROM call_records WHERE id = $1 AND user_id = $2", [.text(id), .text(userId)]
            ).first, let startedAt = row[0].integer
            else { return (false, []) }
            try connection.query("DELETE FROM call_turns WHERE call_id = $1 AND call_started_at = $2", [.text(id), .integer(startedAt)])
            try connection.query("DELETE FROM call_records WHERE id = $1 AND started_at = $2", [.text(id), .integer(startedAt)])
            return (true, [row[1].text, row[2].text].compactMap { $0 })
        }
    }

    /// Deletes `userId`'s calls that started before `cutoff` (retention); returns their files (recordings, transcripts).
    public func deleteOlder(than cutoff: Int64, userId: String) async throws -> (count: Int, files: [String]) {
        try await database.transaction { connection in
            let rows = try connection.query(
                "SELECT id, started_at, recording_path, transcript_path FROM call_records WHERE user_id = $1 AND started_at < $2", [.text(userId), .integer(cutoff)]
            )
            for row in rows {
                try connection.query("DELETE FROM call_turns WHERE call_id = $1 AND call_started_at = $2", [row[0], row[1]])
            }
            try connection.query("DELETE FROM call_records WHERE user_id = $1 AND started_at < $2", [.text(userId), .integer(cutoff)])
            return (rows.count, rows.flatMap { [$0[2].text, $0[3].text].compactMap { $0 } })
        }
    }

    /// The files (recordings, transcripts) of every call of `userId`.
    public func files(userId: String) async throws -> [String] {
        try await database.query("SELECT recording_path, transcript_path FROM call_records WHERE user_id = $1", [.text(userId)])
            .flatMap { [$0[0].text, $0[1].text].compactMap { $0 } }
    }

    /// A page of `userId`'s records with their turns, oldest first, after the cursor (the last record of the page
    /// before): the data export reads them page by page.
    public func everything(userId: String, limit: Int, after cursor: (startedAt: Int64, id: String)? = nil) async throws -> [CallRecord] {
        var records: [CallRecord] = []
        let ids = try await database.query(
            """
            SELECT id FROM call_records WHERE user_id = $1 AND (started_at > $2 OR (started_at = $2 AND id > $3))
            ORDER BY started_at, id LIMIT $4
            """,
            [.text(userId), .integer(cursor?.startedAt ?? .min), .text(cursor?.id ?? ""), .integer(Int64(limit))]
        )
        for summary in ids {
            if let id = summary[0].text, let record = try await record(id: id) { records.append(record) }
        }
        return records
    }

    public func count() async throws -> Int {
        try await database.query("SELECT count(*) FROM call_records").first?.first?.int ?? 0
    }

    private static func record(_ row: SQLRow) -> CallRecord? {
        guard let id = row[0].text, let startedAt = row[1].integer, let state = row[5].text.flatMap(CallRecordState.init(rawValue:)) else { return nil }
        return CallRecord(
            id: id, startedAt: startedAt, userId: row[2].text, caller: row[3].text ?? "", callee: row[4].text ?? "", state: state,
            decision: row[6].text, reasons: StoreJSON.decode([String].self, row[7].text) ?? [], intent: row[8].text, intentConfidence: row[9].real,
            outcome: row[10].text, endReason: row[11].text, answeredAt: row[12].integer, endedAt: row[13].integer, recordingPath: row[14].text,
            transcriptPath: row[18].text, latencies: StoreJSON.decode([String: Double].self, row[15].text) ?? [:], instance: row[16].text ?? "",
            lastSequence: row[17].int ?? 0, turns: []
        )
    }
}

/// What a call history is narrowed to; nil fields do not narrow it.
public struct CallRecordFilter: Sendable, Equatable {
    /// Started at or after, in Unix milliseconds.
    public var from: Int64?
    /// Started before, in Unix milliseconds.
    public var until: Int64?
    public var outcome: String?
    public var intent: String?
    /// Part of the caller's number.
    public var number: String?
    /// Words in the transcript (either side), whatever their case.
    public var text: String?

    public init(from: Int64? = nil, until: Int64? = nil, outcome: String? = nil, intent: String? = nil, number: String? = nil, text: String? = nil) {
        self.from = from
        self.until = until
        self.outcome = outcome
        self.intent = intent
        self.number = number
        self.text = text
    }
}
