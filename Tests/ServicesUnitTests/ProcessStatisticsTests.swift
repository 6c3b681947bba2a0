@testable import AnswerNinjaServices
import AnswerNinjaCore
import Foundation
import Testing

/// The `process_*` figures: this process as /proc tells it, and a container's limits from the cgroup files.
@Suite struct ProcessStatisticsTests {
    @Test func thisProcessIsRead() throws {
        let statistics = try #require(ProcessStatistics.read())
        #expect(statistics.residentBytes > 1_000_000, "a Swift process holds megabytes")
        #expect(statistics.openFDs >= 3 && statistics.openFDs <= statistics.maxFDs)
        let now = Date().timeIntervalSince1970
        #expect(statistics.startTime > now - 24 * 3600 && statistics.startTime <= now + 1, "started within the day: \(statistics.startTime)")
        #expect(statistics.cpuLimitCores >= 0.01 && statistics.memoryLimitBytes > statistics.residentBytes)
    }

    @Test func containerLimitsComeFromTheCgroup() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("cgroup-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        try FileManager.default.createDirectory(at: root.appendingPathComponent("memory"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: root.appendingPathComponent("cpu"), withIntermediateDirectories: true)
        let meminfo = root.appendingPathComponent("meminfo")
        try "MemTotal:       2048 kB\nMemFree:         100 kB\n".write(to: meminfo, atomically: true, encoding: .utf8)
        let online = Double(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        // Nothing there: the machine's figures.
        #expect(ProcessStatistics.memoryLimit(cgroup: root.path, meminfo: meminfo.path) == 2048 * 1024)
        #expect(ProcessStatistics.cpuLimit(cgroup: root.path) == online)
        // cgroup v1: a limit, and "no limit" as a number near 2^63 and a quota of -1.
        try "9223372036854771712\n".write(to: root.appendingPathComponent("memory/memory.limit_in_bytes"), atomically: true, encoding: .utf8)
        #expect(ProcessStatistics.memoryLimit(cgroup: root.path, meminfo: meminfo.path) == 2048 * 1024)
        try "536870912\n".write(to: root.appendingPathComponent("memory/memory.limit_in_bytes"), atomically: true, encoding: .utf8)
        #expect(ProcessStatistics.memoryLimit(cgroup: root.path, meminfo: meminfo.path) == 536_870_912)
        try "-1\n".write(to: root.appendingPathComponent("cpu/cpu.cfs_quota_us"), atomically: true, encoding: .utf8)
        try "100000\n".write(to: root.appendingPathComponent("cpu/cpu.cfs_period_us"), atomically: true, encoding: .utf8)
        #expect(ProcessStatistics.cpuLimit(cgroup: root.path) == online)
        try "150000\n".write(to: root.appendingPathComponent("cpu/cpu.cfs_quota_us"), atomically: true, encoding: .utf8)
        #expect(ProcessStatistics.cpuLimit(cgroup: root.path) == 1.5)
        // cgroup v2 wins: "max" is no limit.
        try "max\n".write(to: root.appendingPathComponent("memory.max"), atomically: true, encoding: .utf8)
        try "max 100000\n".write(to: root.appendingPathComponent("cpu.max"), atomically: true, encoding: .utf8)
        #expect(ProcessStatistics.memoryLimit(cgroup: root.path, meminfo: meminfo.path) == 2048 * 1024)
        #expect(ProcessStatistics.cpuLimit(cgroup: root.path) == online)
        try "2147483648\n".write(to: root.appendingPathComponent("memory.max"), atomically: true, encoding: .utf8)
        try "200000 100000\n".write(to: root.appendingPathComponent("cpu.max"), atomically: true, encoding: .utf8)
        #expect(ProcessStatistics.memoryLimit(cgroup: root.path, meminfo: meminfo.path) == 2_147_483_648)
        #expect(ProcessStatistics.cpuLimit(cgroup: root.path) == 2)
    }

    /// The gateway's labelled counters exist at 0 before anything happens (a series born at 1 has no rate).
    @Test func theGatewaysReasonsExistAtZero() {
        let text = Telemetry(roles: [.gateway]).render()
        for reason in Telemetry.rejectionReasons { #expect(text.contains(#"sip_calls_rejected_total{reason="\#(reason)"} 0"#), "\(reason)") }
        for reason in Telemetry.dropReasons { #expect(text.contains(#"rtp_packets_dropped_total{reason="\#(reason)"} 0"#), "\(reason)") }
        #expect(text.contains("process_memory_limit_bytes") && text.contains("process_cpu_limit_cores") && text.contains("process_start_time_seconds"))
    }
}
