import AnswerNinjaTestSupport
import Foundation
import Testing

/// The CLI conventions: `--json` prints exactly one JSON object with snake_case keys on stdout.
@Suite struct ToolTests {
    func json(_ arguments: [String], environment: [String] = []) async throws -> (status: Int32, object: [String: Any]) {
        let result = try await PeerEnvironment.run("/usr/bin/env", ["-i", "PATH=/usr/bin:/bin"] + environment + [try AnswerNinjaProcess.binary()] + arguments)
        let lines = result.output.split(separator: "\n")
        #expect(lines.count == 1, "one line of JSON, got: \(result.output)")
        let object = try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any]
        return (result.status, try #require(object))
    }

    @Test func selftestReportsEveryLibrary() async throws {
        let (status, object) = try await json(["selftest", "--json"])
        #expect(status == 0, "\(object)")
        #expect(object["ok"] as? Bool == true)
        #expect((object["libraries"] as? [[String: Any]])?.count == 8)
    }

    @Test func configShowsSourcesAndRefusesBadValues() async throws {
        let (status, object) = try await json(["config", "--json"], environment: ["ANSWER_NINJA_HTTP_PORT=9000"])
        #expect(status == 0)
        let entries = object["entries"] as? [[String: Any]] ?? []
        let port = entries.first { $0["key"] as? String == "http.port" }
        #expect(port?["value"] as? String == "9000")
        #expect(port?["source"] as? String == "environment")

        let (badStatus, bad) = try await json(["config", "--json"], environment: ["ANSWER_NINJA_SIP_PORTT=1"])
        #expect(badStatus == 2)
        #expect(bad["valid"] as? Bool == false)
        #expect((bad["error"] as? String)?.contains("did you mean ANSWER_NINJA_SIP_PORT?") == true)
    }

    @Test func theBundledIntentModelWasTrainedOnTheCommittedCorpus() async throws {
        let root = AnswerNinjaProcess.packageRootFromSource()
        let (status, object) = try await json([
            "train-intents", "--check", "--json", "--corpus", root + "/Fixtures/intents/corpus.txt", "--asr", root + "/Fixtures/intents/asr.tsv",
            "--model", root + "/Sources/Conversation/Resources/intent-model.json",
        ])
        #expect(status == 0, "the corpus changed without a retrain: run answer-ninja train-intents (\(object))")
        #expect(object["up_to_date"] as? Bool == true)
        // A changed corpus is caught.
        let changed = try PeerEnvironment.artifactsDirectory(named: "changed-corpus").appendingPathComponent("corpus.txt")
        try (try String(contentsOfFile: root + "/Fixtures/intents/corpus.txt", encoding: .utf8) + "\n# edited\n").write(to: changed, atomically: true, encoding: .utf8)
        let (staleStatus, stale) = try await json([
            "train-intents", "--check", "--json", "--corpus", changed.path, "--asr", root + "/Fixtures/intents/asr.tsv",
            "--model", root + "/Sources/Conversation/Resources/intent-model.json",
        ])
        #expect(staleStatus == 1)
        #expect(stale["up_to_date"] as? Bool == false)
    }

    @Test func classifyAndConverseFollowTheConvention() async throws {
        let (status, object) = try await json(["classify", "--json", "your verification code is four eight two nine one six"])
        #expect(status == 0)
        #expect(object["intent"] as? String == "verification_code")
        #expect((object["alternatives"] as? [[String: Any]])?.count == 3)
        let root = AnswerNinjaProcess.packageRootFromSource()
        let (scam, transcript) = try await json(["converse", "--json", "--script", root + "/Fixtures/conversations/scam.txt"])
        #expect(scam == 0, "\(transcript)")
        #expect(transcript["expectations_met"] as? Bool == true)
        #expect((transcript["transcript"] as? [String: Any])?["final_action"] as? String == "hangup")
        let bad = try PeerEnvironment.artifactsDirectory(named: "bad-script").appendingPathComponent("bad.txt")
        try "dtmf 99\n".write(to: bad, atomically: true, encoding: .utf8)
        let (badStatus, error) = try await json(["converse", "--json", "--script", bad.path])
        #expect(badStatus == 2)
        #expect((error["error"] as? [String: Any])?["code"] as? String == "invalid_script")
    }

    @Test func metricsAndVersionFollowTheConvention() async throws {
        let (_, metrics) = try await json(["metrics", "--json"])
        let names = (metrics["metrics"] as? [[String: Any]])?.compactMap { $0["name"] as? String } ?? []
        #expect(names.contains("websocket_connections"))
        let (_, version) = try await json(["version", "--json"])
        #expect((version["protocols"] as? [String: Int])?["media-control"] == 1)
        #expect(version["version"] is String)
    }

    @Test func pcapInspectRefusesWhatIsNotACaptureWithAJSONError() async throws {
        let file = try PeerEnvironment.artifactsDirectory(named: "not-a-capture").appendingPathComponent("notes.txt")
        try "hello, not a pcap".write(to: file, atomically: true, encoding: .utf8)
        let (status, object) = try await json(["pcap", "inspect", "--json", file.path])
        #expect(status == 1)
        let error = object["error"] as? [String: Any]
        #expect(error?["code"] as? String == "not_a_capture")
        #expect((error?["message"] as? String)?.contains("not a pcap or pcapng file") == true)
        let (badMapping, mapping) = try await json(["pcap", "inspect", "--json", "--pt", "300=x", file.path])
        #expect(badMapping == 1 && (mapping["error"] as? [String: Any])?["code"] as? String == "malformed")
    }

    @Test func vadFindsTheSpeechOfARecordingAndNoneInSilence() async throws {
        let recording = "/usr/share/pocketsphinx/test/data/cards/001.wav"
        if FileManager.default.fileExists(atPath: recording) || ProcessInfo.processInfo.environment["CI"] == "true" {
            let (status, object) = try await json(["vad", "--json", recording])
            #expect(status == 0)
            let segments = object["segments"] as? [[String: Double]] ?? []
            #expect(segments.count == 1)
            #expect((segments.first?["start"] ?? -1) >= 0 && (segments.first?["end"] ?? 9) <= 1.1)
        }
        // One second of digital silence at 8 kHz, written as a WAV.
        let silent = try PeerEnvironment.artifactsDirectory(named: "vad").appendingPathComponent("silence.wav")
        var bytes = Data("RIFF".utf8)
        func le<T: FixedWidthInteger>(_ value: T) { withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) } }
        le(UInt32(36 + 16000)); bytes.append(contentsOf: Data("WAVEfmt ".utf8)); le(UInt32(16)); le(UInt16(1)); le(UInt16(1))
        le(UInt32(8000)); le(UInt32(16000)); le(UInt16(2)); le(UInt16(16)); bytes.append(contentsOf: Data("data".utf8)); le(UInt32(16000))
        bytes.append(Data(count: 16000))
        try bytes.write(to: silent)
        let (status, object) = try await json(["vad", "--json", "--frames", "--features", silent.path])
        #expect(status == 0 && (object["segments"] as? [Any])?.isEmpty == true)
        #expect(object["duration_seconds"] as? Double == 1)
        // One probability, decision and feature row per 10 ms frame; silence is not speech.
        let probabilities = object["frame_probabilities"] as? [Double] ?? []
        #expect(probabilities.count == 100 && probabilities.allSatisfy { $0 < 0.5 })
        #expect((object["frame_decisions"] as? [Int])?.allSatisfy { $0 == 0 } == true)
        #expect((object["frame_features"] as? [[Double]])?.count == 100 && (object["frame_features"] as? [[Double]])?.first?.count == 14)
        let (badStatus, bad) = try await json(["vad", "--json", "/etc/hostname"])
        #expect(badStatus == 1 && (bad["error"] as? [String: Any])?["code"] as? String == "bad_wav")
    }

    @Test func benchMediaReportsEveryCaseAndTarget() async throws {
        // A tiny run: the shape of the report, never its timing (CI asserts no timing; docs/benchmarks.md has the
        // release figures).
        let (_, object) = try await json(["bench", "media", "--json", "--packets", "200", "--rounds", "1"])
        #expect(object["build"] as? String == "debug")
        let measurements = object["measurements"] as? [[String: Any]] ?? []
        #expect(measurements.count == 12)
        #expect(measurements.allSatisfy { ($0["nanoseconds"] as? Double ?? 0) > 0 })
        let names = measurements.compactMap { $0["name"] as? String }
        #expect(names.contains { $0.hasPrefix("bridge, relayed") } && names.contains { $0.hasPrefix("bridge, transcoded") }, "\(names)")
        let checks = object["checks"] as? [[String: Any]] ?? []
        #expect(checks.count == 7 && checks.allSatisfy { $0["met"] is Bool && $0["value"] is Double })
        #expect(checks.contains { $0["target"] as? String == "bridge: relayed ÷ transcoded packet" })
        #expect((object["calls_per_core"] as? [String: Double])?.count == 4)
    }

    @Test func loadRefusesBadInputWithAJSONError() async throws {
        let (status, object) = try await json(["load", "--target", "example.com:5060", "--json"])
        #expect(status == 2 && (object["error"] as? [String: Any])?["code"] as? String == "invalid_value", "\(object)")
        let (rateStatus, rate) = try await json(["load", "--target", "127.0.0.1:5060", "--rate", "0", "--json"])
        #expect(rateStatus == 2 && (rate["error"] as? [String: Any])?["message"] as? String == "--rate and --calls must be positive, --hold not negative")
    }

    @Test func benchSipReportsTheParserAgainstItsBaseline() async throws {
        let (_, object) = try await json(["bench", "sip", "--json", "--messages", "200"])
        #expect(object["build"] as? String == "debug" && object["messages"] as? Int == 200)
        for key in ["baseline_nanoseconds", "parse_nanoseconds", "write_nanoseconds", "parse_over_baseline"] {
            #expect((object[key] as? Double).map { $0 > 0 } == true, "\(key)")
        }
    }

    @Test func sipParseGivesTheVerdictAndItsExitStatus() async throws {
        let folder = AnswerNinjaProcess.packageRootFromSource() + "/Tests/SIPMessagesUnitTests/RFC4475/"
        let (validStatus, valid) = try await json(["sip", "parse", "--json", folder + "wsinv.dat"])
        #expect(validStatus == 0 && valid["valid"] as? Bool == true && valid["method"] as? String == "INVITE")
        #expect((valid["response"] as? [String: Any])?["code"] as? Int == 100)
        #expect((valid["headers"] as? [[String: String]])?.contains { $0["name"] == "Via" } == true && valid["body_bytes"] as? Int == 150)
        // An unknown method is the application's to refuse: exit 0, answer 405.
        let (unknownStatus, unknown) = try await json(["sip", "parse", "--json", folder + "esc02.dat"])
        #expect(unknownStatus == 0 && (unknown["response"] as? [String: Any])?["code"] as? Int == 405)
        // What a UAS must reject: exit 1, the 400 or 505 and the reason.
        let (badStatus, bad) = try await json(["sip", "parse", "--json", folder + "mismatch01.dat"])
        #expect(badStatus == 1 && bad["valid"] as? Bool == false && (bad["response"] as? [String: Any])?["code"] as? Int == 400)
        #expect(((bad["error"] as? [String: Any])?["message"] as? String)?.contains("CSeq method") == true)
        let (versionStatus, version) = try await json(["sip", "parse", "--json", folder + "badvers.dat"])
        #expect(versionStatus == 1 && (version["response"] as? [String: Any])?["code"] as? Int == 505)
        // A malformed response is discarded: exit 1 and no answer.
        let (responseStatus, response) = try await json(["sip", "parse", "--json", folder + "bigcode.dat"])
        #expect(responseStatus == 1 && response["kind"] as? String == "response" && response["response"] == nil)
        // Standard input.
        let piped = try await PeerEnvironment.run("/bin/sh", ["-c", "\"$0\" sip parse --json - < \"$1\"", try AnswerNinjaProcess.binary(), folder + "lwsdisp.dat"])
        #expect(piped.status == 0 && piped.output.contains("\"method\":\"OPTIONS\""))
    }
}
