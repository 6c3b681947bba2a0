import AnswerNinjaTestSupport
import Foundation
import Testing

/// The media threads (every call's RTP, 20 ms clock and relay) run SCHED_FIFO above the speech threads when the
/// system allows it, as root here does; without CAP_SYS_NICE (`setpriv` drops it) they stay at normal priority and
/// the gateway says why; `media.realtime_priority` 0 leaves them normal. Calls are paced either way.
@Suite(.serialized) struct MediaThreadsTests {
    /// The threads of `pid` by scheduling policy (`/proc/PID/task/TID/stat`, field 41; 1 is SCHED_FIFO), with names.
    static func threads(of pid: pid_t) throws -> [(name: String, policy: Int)] {
        let tasks = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")
        return tasks.compactMap { tid in
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/task/\(tid)/stat", encoding: .utf8),
                  let open = stat.firstIndex(of: "("), let close = stat.lastIndex(of: ")")
            else { return nil }
            // Fields after the name: the third of the line is the first here, so field 41 is index 38.
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 38, let policy = Int(fields[38]) else { return nil }
            return (String(stat[stat.index(after: open)..<close]), policy)
        }
    }

    /// Whether this process may make a thread SCHED_FIFO (`chrt`, util-linux).
    static func realtimeAllowed() async throws -> Bool {
        let chrt = try PeerEnvironment.require("chrt", package: "util-linux")
        return try await PeerEnvironment.run(chrt, ["-f", "10", "true"], timeout: .seconds(10)).status == 0
    }

    /// A two-second call to `gateway` that hears its greeting: about 100 packets of 20 ms.
    static func call(_ gateway: AnswerNinjaProcess) async throws {
        let result = try await PeerEnvironment.run(
            try AnswerNinjaProcess.binary(), ["call", "sip:demo@127.0.0.1:\(try #require(gateway.sipPort))", "--duration", "2", "--json"], timeout: .seconds(30)
        )
        let report = try #require(try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any], "\(result.output)")
        #expect(report["answered"] as? Bool == true && (report["packets_received"] as? Int ?? 0) >= 90, "\(report)")
    }

    @Test(.timeLimit(.minutes(2)))
    func mediaThreadsRunAboveTheRestWhenAllowed() async throws {
        let allowed = try await Self.realtimeAllowed()
        let gateway = try await AnswerNinjaProcess.start(environment: ["ANSWER_NINJA_MEDIA_THREADS": "2"])
        try await withPeer(gateway) { gateway in
            try await Self.call(gateway)
            let threads = try Self.threads(of: gateway.process.pid)
            let realtime = threads.filter { $0.policy == 1 }
            let line = SIPScenarioTests.lines(gateway, containing: #""msg":"media threads"#).first ?? ""
            if allowed {
                #expect(line.contains(#""policy":"SCHED_FIFO 10""#) && line.contains(#""threads":"2""#), "\(line)")
                #expect(realtime.count == 2 && realtime.allSatisfy { $0.name.hasPrefix("NIO-ELT-") }, "the two media loops alone: \(threads)")
            } else {
                #expect(line.contains("media threads at normal priority"), "\(line)")
                #expect(realtime.isEmpty)
            }
        }
    }

    @Test(.timeLimit(.minutes(2)))
    func withoutThePrivilegeOrWhenTurnedOffTheyStayNormal() async throws {
        let setpriv = try PeerEnvironment.require("setpriv", package: "util-linux")
        let dropped = try await AnswerNinjaProcess.start(
            environment: ["ANSWER_NINJA_MEDIA_THREADS": "2"], launcher: [setpriv, "--bounding-set", "-sys_nice", "--inh-caps", "-sys_nice"]
        )
        try await withPeer(dropped) { gateway in
            let line = SIPScenarioTests.lines(gateway, containing: "media threads at normal priority").first ?? ""
            #expect(line.contains("not permitted (needs CAP_SYS_NICE)") && line.contains(#""asked":"SCHED_FIFO 10""#), "\(line)")
            let threads = try Self.threads(of: gateway.process.pid)
            #expect(!threads.isEmpty && threads.allSatisfy { $0.policy == 0 })
            try await Self.call(gateway)
        }
        let off = try await AnswerNinjaProcess.start(environment: ["ANSWER_NINJA_MEDIA_REALTIME_PRIORITY": "0"])
        try await withPeer(off) { gateway in
            let line = SIPScenarioTests.lines(gateway, containing: #""msg":"media threads"#).first ?? ""
            #expect(line.contains(#""policy":"normal""#), "\(line)")
            let threads = try Self.threads(of: gateway.process.pid)
            #expect(!threads.isEmpty && threads.allSatisfy { $0.policy == 0 })
        }
    }
}
