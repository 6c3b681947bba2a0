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

    /// The container image's way (deploy/docker/Dockerfile): the binary carries `CAP_SYS_NICE` as a permitted file
    /// capability (`setcap cap_sys_nice+p`), and the process runs as user 10001, started as runc starts a container's
    /// process: the capabilities the pod is given kept across the change of user, the bounding set cut to them, and
    /// no_new_privs (`allowPrivilegeEscalation: false`), which lets a file capability through only when the process
    /// had it already. A pod that adds `SYS_NICE` (the gateway's and the media role's) gets SCHED_FIFO media loops; one
    /// that does not gets normal threads and the warning, and the binary runs all the same. No thread keeps the
    /// capability effective: each loop raises it for its one call.
    @Test(.timeLimit(.minutes(3)))
    func aNonRootContainerGetsItFromTheImagesFileCapability() async throws {
        let setpriv = try PeerEnvironment.require("setpriv", package: "util-linux")
        let setcap = try PeerEnvironment.require("setcap", package: "libcap2-bin")
        // A copy of the binary and its resource bundles, where user 10001 may run it, with the file capability.
        let directory = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("file-capability-\(getpid())-\(UInt32.random(in: 0 ... .max))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        defer { try? FileManager.default.removeItem(at: directory) }
        let original = URL(fileURLWithPath: try AnswerNinjaProcess.binary())
        let copy = directory.appendingPathComponent("answer-ninja")
        // Copied by cp, not in this process: a child another test forks meanwhile would inherit the copy's open
        // descriptor, and exec would then fail with ETXTBSY.
        let copied = try await PeerEnvironment.run("/bin/cp", [original.path, copy.path], timeout: .seconds(60))
        try #require(copied.status == 0, "\(copied.output)")
        for bundle in try FileManager.default.contentsOfDirectory(atPath: original.deletingLastPathComponent().path) where bundle.hasSuffix(".resources") {
            try FileManager.default.copyItem(at: original.deletingLastPathComponent().appendingPathComponent(bundle), to: directory.appendingPathComponent(bundle))
        }
        let marked = try await PeerEnvironment.run(setcap, ["cap_sys_nice+p", copy.path], timeout: .seconds(30))
        try #require(marked.status == 0, "\(marked.output)")

        for added in [true, false] {
            let data = directory.appendingPathComponent("data-\(added)")
            try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
            try FileManager.default.setAttributes([.ownerAccountID: 10001, .groupOwnerAccountID: 10001], ofItemAtPath: data.path)
            let launcher = [
                setpriv, "--no-new-privs", "--reuid=10001", "--regid=10001", "--clear-groups",
                "--bounding-set", added ? "-all,+sys_nice" : "-all", "--inh-caps", "-all",
            ]
            let gateway = try await AnswerNinjaProcess.start(
                command: "gateway", environment: ["ANSWER_NINJA_MEDIA_THREADS": "2", "HOME": data.path], dataDirectory: data, launcher: launcher, executable: copy.path
            )
            try await withPeer(gateway) { gateway in
                try await Self.call(gateway)
                let pid = gateway.process.pid
                let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
                #expect(status.contains("NoNewPrivs:\t1") && status.contains("Uid:\t10001\t10001"), "\(status)")
                // Not effective in any thread, once the loops are raised.
                for task in try FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task") {
                    let taskStatus = (try? String(contentsOfFile: "/proc/\(pid)/task/\(task)/status", encoding: .utf8)) ?? ""
                    #expect(taskStatus.isEmpty || taskStatus.contains("CapEff:\t0000000000000000"), "thread \(task): \(taskStatus)")
                }
                let threads = try Self.threads(of: pid)
                let realtime = threads.filter { $0.policy == 1 }
                if added {
                    let line = SIPScenarioTests.lines(gateway, containing: #""msg":"media threads"#).first ?? ""
                    #expect(line.contains(#""policy":"SCHED_FIFO 10""#), "\(line)")
                    #expect(realtime.count == 2 && realtime.allSatisfy { $0.name.hasPrefix("NIO-ELT-") }, "\(threads)")
                } else {
                    let line = SIPScenarioTests.lines(gateway, containing: "media threads at normal priority").first ?? ""
                    #expect(line.contains("not permitted (needs CAP_SYS_NICE)"), "\(line)")
                    #expect(realtime.isEmpty)
                }
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
