import Foundation
import Store
import Testing

/// The journal on its own and with the embedded database: durable appends, sequence numbers, a torn tail after a
/// crash, leftovers marked interrupted, and a replay that is idempotent.
@Suite struct CallJournalTests {
    static func temporaryDirectory() -> String {
        NSTemporaryDirectory() + "answer-ninja-journal-\(UInt32.random(in: 0 ... .max))"
    }

    static func callEvents(_ journal: CallJournal, id: String, startedAt: Int64, ending: Bool) async throws {
        try await journal.record(.started(userId: "user-demo", caller: "+15551230001", callee: "demo"), callId: id, startedAt: startedAt, at: startedAt)
        try await journal.record(.decided(decision: "screen", reasons: ["whitelist:none", "profile:score=0.42"]), callId: id, startedAt: startedAt, at: startedAt + 5)
        try await journal.record(.answered, callId: id, startedAt: startedAt, at: startedAt + 40)
        try await journal.record(.latency(name: "setup_ms", milliseconds: 3.5), callId: id, startedAt: startedAt, at: startedAt + 40)
        try await journal.record(
            .turn(CallTurn(turn: 1, at: startedAt + 3000, callerText: "hi I'm calling about your car warranty", replyText: "Please remove this number.", intent: "sales_call", confidence: 0.91, latencies: ["stt_final": 180, "reply": 2])),
            callId: id, startedAt: startedAt, at: startedAt + 3000
        )
        try await journal.record(.intent(name: "sales_call", confidence: 0.91), callId: id, startedAt: startedAt, at: startedAt + 3001)
        if ending {
            try await journal.record(.ended(outcome: "hung_up_by_ai", reason: "spam_declined"), callId: id, startedAt: startedAt, at: startedAt + 9000)
        }
    }

    @Test func appendsAreNumberedPerCallAndReadBackInOrder() async throws {
        let directory = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let journal = try await CallJournal.open(directory: directory, instance: "test-1")
        // Many calls at once: each call's sequence is 1...n in the order its changes were recorded.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for call in 0..<20 {
                group.addTask { try await Self.callEvents(journal, id: "call-\(call)", startedAt: 1_700_000_000_000 + Int64(call), ending: call % 2 == 0) }
            }
            try await group.waitForAll()
        }
        let (events, _) = try await journal.read(from: .start, limit: 10_000)
        #expect(events.count == 20 * 6 + 10)
        for call in 0..<20 {
            let sequences = events.filter { $0.callId == "call-\(call)" }.map(\.sequence)
            #expect(sequences == Array(1...(call % 2 == 0 ? 7 : 6)))
        }
        #expect(journal.openCalls.count == 10)
        #expect(journal.statistics.appended == 130)
        // A second start of an open call is refused; a second journal on the same directory too.
        await #expect(throws: StoreError.self) {
            try await journal.record(.started(userId: nil, caller: "x", callee: "y"), callId: "call-1", startedAt: 1, at: 1)
        }
        await #expect(throws: StoreError.self) { try await CallJournal.open(directory: directory, instance: "test-2") }
        // A change after the end (an owner found after a short call ended) is numbered on; the call stays closed.
        let late = try await journal.record(.assigned(userId: "user-demo"), callId: "call-0", startedAt: 1_700_000_000_000, at: 1_700_000_010_000)
        #expect(late.sequence == 8 && !journal.openCalls.contains("call-0"))
        // A change of a call the journal never saw start is refused, not numbered 1.
        await #expect(throws: StoreError.self) {
            try await journal.record(.answered, callId: "never-started", startedAt: 1, at: 1)
        }
        try await journal.close()
    }

    @Test func aCrashLeavesNothingBehindAndOpenCallsAreInterrupted() async throws {
        let directory = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let first = try await CallJournal.open(directory: directory, instance: "test-1")
        try await Self.callEvents(first, id: "ended", startedAt: 1_700_000_000_000, ending: true)
        try await Self.callEvents(first, id: "in-progress", startedAt: 1_700_000_001_000, ending: false)
        try await first.close()
        // The process died in the middle of a write: half a line at the end of the segment.
        let segment = try #require(try FileManager.default.contentsOfDirectory(atPath: directory).first { $0.hasSuffix(".log") })
        let handle = try #require(FileHandle(forWritingAtPath: directory + "/" + segment))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(#"{"callId":"in-progress","change":{"ans"#.utf8))
        try handle.close()

        let database = try await SQLiteDatabase.open(path: directory + "/store.sqlite")
        try await database.migrate()
        let journal = try await CallJournal.open(directory: directory + "", instance: "test-1b")
        #expect(journal.openCalls == ["in-progress"])
        #expect(try await journal.corruptLines() == 1)
        let interrupted = try await journal.interruptLeftovers(reason: "instance_restarted", at: 1_700_000_100_000)
        #expect(interrupted.map(\.sequence) == [7])
        // The torn half-line is gone: the next append starts on a line of its own and everything reads back.
        let replayer = JournalReplayer(journal: journal, records: CallRecordStore(database: database))
        #expect(try await replayer.catchUp() == 14)
        let records = CallRecordStore(database: database)
        let ended = try #require(try await records.record(id: "ended"))
        #expect(ended.state == .ended && ended.outcome == "hung_up_by_ai" && ended.endReason == "spam_declined")
        #expect(ended.reasons == ["whitelist:none", "profile:score=0.42"] && ended.decision == "screen")
        #expect(ended.intent == "sales_call" && ended.intentConfidence == 0.91)
        #expect(ended.latencies == ["setup_ms": 3.5] && ended.answeredAt == 1_700_000_000_040 && ended.endedAt == 1_700_000_009_000)
        #expect(ended.turns.count == 1 && ended.turns.first?.latencies == ["stt_final": 180, "reply": 2])
        let left = try #require(try await records.record(id: "in-progress"))
        #expect(left.state == .interrupted && left.outcome == "interrupted" && left.endReason == "instance_restarted" && left.lastSequence == 7)
        #expect(try await records.unfinished().isEmpty)
        try await journal.close()
        try await database.close()
    }

    @Test func replayingFromTheStartChangesNothing() async throws {
        let directory = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let database = try await SQLiteDatabase.open(path: directory + ".sqlite")
        defer { try? FileManager.default.removeItem(atPath: directory + ".sqlite") }
        try await database.migrate()
        // Small segments: the journal rotates, and segments wholly in the database are deleted.
        let journal = try await CallJournal.open(directory: directory, instance: "test-1", segmentLimit: 2048)
        for call in 0..<10 { try await Self.callEvents(journal, id: "call-\(call)", startedAt: 1_700_000_000_000 + Int64(call) * 1000, ending: true) }
        let everything = try await journal.read(from: .start, limit: 10_000).events
        #expect(everything.count == 70)
        let records = CallRecordStore(database: database)
        let replayer = JournalReplayer(journal: journal, records: records, batchSize: 7)
        #expect(try await replayer.catchUp() == 70)
        let before = try await records.records(userId: "user-demo", limit: 100)
        #expect(before.count == 10 && before.allSatisfy { $0.state == .ended && $0.lastSequence == 7 })
        // Replaying the same events again (a crash after the database commit, before the checkpoint) is a no-op.
        #expect(try await records.apply(everything) == 0)
        #expect(try await records.records(userId: "user-demo", limit: 100) == before)
        let segments = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".log") }
        #expect(segments.count == 1, "applied segments are deleted: \(segments)")
        #expect(try await replayer.catchUp() == 0)
        try await journal.close()
        try await database.close()
    }
}
