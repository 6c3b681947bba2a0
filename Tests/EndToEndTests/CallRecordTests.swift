import AnswerNinjaTestSupport
import Foundation
import Store
import Testing

/// Call records from real calls to `serve` (our own `answer-ninja call` as the caller): a finished call is recorded
/// with its decision and outcome, and a call in progress when the process is killed (SIGKILL, nothing flushed at
/// exit) is still recorded, marked interrupted by the next start.
@Suite(.serialized) struct CallRecordTests {
    @Test(.timeLimit(.minutes(3)))
    func noCallRecordIsLostWhenServeIsKilledMidCall() async throws {
        let data = try PeerEnvironment.artifactsDirectory(named: "call-records")
        let binary = try AnswerNinjaProcess.binary()
        let serve = try await AnswerNinjaProcess.start(dataDirectory: data)
        let port = try #require(serve.sipPort)
        // A call that ends normally: the caller hangs up after a second.
        let finished = try await PeerEnvironment.run(binary, ["call", "sip:demo@127.0.0.1:\(port)", "--duration", "1", "--from", "+15551230001", "--json"], timeout: .seconds(30))
        #expect(finished.status == 0, "\(finished.output)")
        try await serve.process.waitUntilReady(timeout: .seconds(10)) { serve.process.log().contains(#""msg":"call ended""#) }
        // The recordings' bytes on disk, all calls together.
        func recorded() -> Int {
            let files = FileManager.default.enumerator(at: data.appendingPathComponent("recordings"), includingPropertiesForKeys: [.fileSizeKey])?.allObjects as? [URL] ?? []
            return files.filter { $0.pathExtension == "wav" }.reduce(0) { $0 + ((try? $1.resourceValues(forKeys: [.fileSizeKey]).fileSize) ?? 0) }
        }
        let before = recorded()
        // A call in progress when the process dies.
        let caller = try PeerProcess(name: "caller", executable: binary, arguments: ["call", "sip:demo@127.0.0.1:\(port)", "--duration", "30"])
        let deadline = ContinuousClock.now + .seconds(15)
        while serve.process.log().components(separatedBy: #""msg":"call answered""#).count < 3, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(serve.process.log().components(separatedBy: #""msg":"call answered""#).count == 3, "both calls answered")
        // The journal's writer has the changes (it does not wait for SIP), and the recording's first second is on disk.
        try await Task.sleep(for: .milliseconds(500))
        try await serve.process.waitUntilReady(timeout: .seconds(15)) { recorded() >= before + 44 + 8000 * 2 * 2 }
        _ = await serve.process.stop(signal: SIGKILL)
        await caller.stop()

        // The next start marks the call interrupted and carries the journal to the database.
        let again = try await AnswerNinjaProcess.start(dataDirectory: data)
        #expect(again.process.log().contains("1 calls left open by the last run marked interrupted"), "\(again.process.logTail())")
        #expect(await again.process.stop(signal: SIGTERM, timeout: .seconds(15)) == 0)

        let database = try await SQLiteDatabase.open(path: data.appendingPathComponent("answer-ninja.sqlite").path)
        let records = try await CallRecordStore(database: database).records(userId: "user-demo")
        // The finished call taught its caller's profile (stored under a keyed hash, never the number).
        let profiles = try await database.query("SELECT calls, short_calls, answered_calls, number_key FROM caller_profiles")
        try await database.close()
        #expect(profiles.count == 1 && profiles.first?[0].int == 1 && profiles.first?[1].int == 1 && profiles.first?[2].int == 1)
        #expect(profiles.first?[3].text?.count == 64 && profiles.first?[3].text?.contains("5551230001") == false)
        try #require(records.count == 2, "\(records)")
        let (killed, ended) = (records[0], records[1])
        #expect(ended.state == .ended && ended.outcome == "caller_hung_up" && ended.decision == "screen" && ended.caller == "+15551230001")
        #expect(ended.reasons == ["whitelist:none", "profile:score=0.12", "screen:unknown_caller"], "\(ended.reasons)")
        #expect(ended.answeredAt != nil && ended.endedAt != nil)
        #expect(ended.callee == "demo" && ended.recordingPath?.hasSuffix(".wav") == true)
        #expect(ended.recordingPath?.contains("/recordings/users/user-demo/") == true, "the recording moved into its user's folder")
        #expect(killed.state == .interrupted && killed.outcome == "interrupted" && killed.endReason == "instance_restarted")
        #expect(killed.decision == "screen" && killed.answeredAt != nil)
        // The killed call's recording was streamed as it went: a stereo WAV in its user's folder whose header agrees
        // with what reached the disk before the kill.
        let killedFile = try #require(killed.recordingPath, "\(killed)")
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: killedFile)))
        func little(_ offset: Int, _ count: Int) -> Int { (0..<count).reduce(0) { $0 | Int(bytes[offset + $1]) << (8 * $1) } }
        try #require(bytes.count > 44)
        #expect(little(22, 2) == 2 && little(24, 4) == 8000, "stereo at 8 kHz")
        #expect(little(40, 4) == bytes.count - 44 && little(4, 4) == bytes.count - 8, "sizes \(little(4, 4)), \(little(40, 4)) for \(bytes.count) bytes")
        #expect(bytes.count - 44 >= 8000 * 2 * 2, "at least a second of both sides: \(bytes.count) bytes")
        serve.process.removeDirectory()
    }
}
