import AnswerNinjaServices
import AnswerNinjaTestSupport
import Foundation
import Speech
import Testing

/// Three callers at once against one `serve` in the assistant mode, over the whole audio path (RTP, jitter buffer,
/// echo canceller, VAD and endpointer, the recogniser's HTTP request, the dialog, espeak-ng, RTP back): a
/// telemarketer is conversed with, classified and hung up on by the assistant; a pharmacy's message is taken and it is
/// never hung up on; a caller on the block list gets 603. The callers are our softphone saying the fixture scripts
/// turn by turn; what is said is recognised by a transcription double matching each utterance against the scripts'
/// lines (`TranscriptionDouble.matching`), so the outcome depends on the pipeline alone.
@Suite(.serialized) struct ScenarioCallTests {
    @Test(.timeLimit(.minutes(4)))
    func aTelemarketerAPharmacyAndABlockedCallerAtOnce() async throws {
        let fixtures = AnswerNinjaProcess.packageRootFromSource() + "/Fixtures/conversations/"
        let telemarketing = fixtures + "telemarketing.txt", pharmacy = fixtures + "appointment_or_pharmacy.txt"
        var said: [(text: String, audio: [Int16])] = []
        for file in [telemarketing, pharmacy] {
            let script = try await CallScript.make(parsing: try String(contentsOfFile: file, encoding: .utf8), synthesizer: try await EspeakSynthesizer.shared())
            for case .say(let text, let audio) in script.steps { said.append((text, audio)) }
        }
        let lines = said
        let transcriber = TranscriptionDouble.matching(lines)
        try await transcriber.run { url in
            let gateway = try await AnswerNinjaProcess.start(
                environment: [
                    "ANSWER_NINJA_SIP_ANSWER_MODE": "assistant", "ANSWER_NINJA_SPEECH_STT_PROVIDER": "openai", "ANSWER_NINJA_SPEECH_PROVIDER_URL": url,
                    "ANSWER_NINJA_SPEECH_PROVIDER_KEY": "test-key", "ANSWER_NINJA_SPEECH_PROVIDER_TIMEOUT": "20s", "ANSWER_NINJA_API_BCRYPT_COST": "4",
                ],
                dataDirectory: try PeerEnvironment.artifactsDirectory(named: "scenarios")
            )
            try await withPeer(gateway) { gateway in
                let (_, token) = try await gateway.makeOwner(of: "+14155550100")
                let api = UserAPI(gateway: gateway, token: token)
                #expect(try await api("POST", "/whitelist", ["pattern": "+1900*", "list": "block"]).status == 201)
                let sipPort = try #require(gateway.sipPort)
                func call(from caller: String, _ extra: [String]) async throws -> [String: Any] {
                    let result = try await PeerEnvironment.run(
                        try AnswerNinjaProcess.binary(), ["call", "sip:+14155550100@127.0.0.1:\(sipPort)", "--from", caller, "--json"] + extra, timeout: .seconds(150)
                    )
                    return try #require(try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any], "\(result.output)")
                }
                async let telemarketerCall = call(from: "+14155550161", ["--script", telemarketing, "--duration", "120"])
                async let pharmacyCall = call(from: "+14155550162", ["--script", pharmacy, "--duration", "120"])
                async let blockedCall = call(from: "+19005550163", ["--duration", "2"])
                let (telemarketer, pharmacist, blocked) = try await (telemarketerCall, pharmacyCall, blockedCall)
                print("telemarketer: \(telemarketer)\npharmacy: \(pharmacist)\nblocked: \(blocked)\nheard: \(transcriber.heard)")
                #expect(blocked["answered"] as? Bool == false && blocked["status_code"] as? Int == 603, "\(blocked)")
                // The assistant hung up on the telemarketer before the script ran out; the pharmacy said its three
                // lines, was answered each time, and hung up itself.
                #expect(telemarketer["answered"] as? Bool == true && telemarketer["hangup_side"] as? String == "remote", "\(telemarketer)")
                #expect(((telemarketer["turns"] as? [Any])?.count ?? 0) < 9, "\(telemarketer)")
                #expect(pharmacist["answered"] as? Bool == true && pharmacist["hangup_side"] as? String == "local", "\(pharmacist)")
                #expect((pharmacist["voice_to_voice_ms"] as? [Any])?.compactMap({ $0 as? Double }).count == 3, "\(pharmacist)")

                // The records, as the API gives them.
                try await gateway.process.waitUntilReady(timeout: .seconds(20)) {
                    let calls = (try? await api("GET", "/calls"))?.object?["calls"] as? [[String: Any]] ?? []
                    return calls.count == 3 && calls.allSatisfy { $0["outcome"] is String }
                }
                let calls = try #require((try await api("GET", "/calls")).object?["calls"] as? [[String: Any]])
                func record(_ caller: String) async throws -> [String: Any] {
                    let id = try #require(calls.first { $0["caller"] as? String == caller }?["id"] as? String)
                    return try #require(try await api("GET", "/calls/\(id.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? id)").object)
                }
                let spam = try await record("+14155550161"), message = try await record("+14155550162"), refused = try await record("+19005550163")
                #expect(spam["intent"] as? String == "telemarketing" && spam["outcome"] as? String == "hung_up_by_ai", "\(spam)")
                #expect(message["intent"] as? String == "appointment_or_pharmacy" && message["outcome"] as? String == "caller_hung_up", "\(message)")
                #expect(refused["decision"] as? String == "block" && refused["outcome"] as? String == "blocked", "\(refused)")
                // The pharmacy's message is in its record, line by line (as the recogniser's text comes, without
                // punctuation), each turn timed from the end of speech on.
                let heard = (message["turns"] as? [[String: Any]] ?? []).compactMap { $0["caller_text"] as? String }.filter { !$0.isEmpty }
                #expect(heard == lines.suffix(3).map { $0.text.replacingOccurrences(of: ",", with: "") }, "\(message)")
                let timed = (message["turns"] as? [[String: Any]] ?? []).filter { ($0["caller_text"] as? String)?.isEmpty == false }
                #expect(timed.allSatisfy { Set(($0["latencies"] as? [String: Any] ?? [:]).keys) == ["stt_final", "reply", "tts_first", "rtp_first"] }, "\(timed)")

                // The same, as metrics: the calls by decision and outcome, every caller's turn timed, every 20 ms send.
                let metrics = try await gateway.api("GET", "/metrics").text
                func value(_ series: String) -> Double? {
                    metrics.split(separator: "\n").first { $0.hasPrefix(series + " ") }.flatMap { $0.split(separator: " ").last.flatMap { Double($0) } }
                }
                #expect(value(#"calls_total{decision="screen",outcome="hung_up_by_ai"}"#) == 1, "\(metrics)")
                #expect(value(#"calls_total{decision="screen",outcome="caller_hung_up"}"#) == 1)
                #expect(value(#"calls_total{decision="block",outcome="blocked"}"#) == 1)
                let turns = (spam["turns"] as? [[String: Any]] ?? []).count + (message["turns"] as? [[String: Any]] ?? []).count
                let callerTurns = Double(heard.count + ((spam["turns"] as? [[String: Any]] ?? []).filter { ($0["caller_text"] as? String)?.isEmpty == false }.count))
                #expect(value("turn_latency_seconds_count") == callerTurns && callerTurns >= 6, "\(turns) turns")
                #expect(value(#"call_stage_latency_seconds_count{stage="stt_final"}"#) == callerTurns)
                #expect((value("rtp_send_lateness_seconds_count") ?? 0) > 2 * 30 * 50, "two calls of 30 s or more, 50 sends a second each")
            }
        }
    }
}
