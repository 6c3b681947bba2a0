import AnswerNinjaCore
import CoreMetrics
import Foundation
import Prometheus
import Synchronization

/// The process's metrics: a Prometheus registry holding every metric of `MetricDefinition.catalogue` that this
/// process's roles move, created at start-up so that each series exists (at 0) before anything happens — an HPA
/// must see `websocket_connections` before the first call.
public final class Telemetry: Sendable {
    public let registry: PrometheusCollectorRegistry
    public let roles: [Role]

    public init(roles: [Role], registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
        self.roles = roles
        for role in roles {
            websocketConnections(role).set(to: 0)
            gauge(.roleUp, ["role": role.rawValue]).set(to: 1)
        }
        if roles.contains(.gateway) {
            gauge(.concurrentCalls, ["role": Role.gateway.rawValue]).set(to: 0)
            // Labelled counters exist at 0 from the start: a series that appears at 1 has no rate, so the first
            // refused call or failed SRTP packet would never reach an alert.
            for reason in Self.rejectionReasons { counter(.sipCallsRejected, ["reason": reason]).increment(by: Int64(0)) }
            for reason in Self.dropReasons { counter(.rtpPacketsDropped, ["reason": reason]).increment(by: Int64(0)) }
            counter(.rtpPacketsLost, [:]).increment(by: Int64(0))
            counter(.rtpConcealedFrames, [:]).increment(by: Int64(0))
            counter(.conversationFallbacks, [:]).increment(by: Int64(0))
        }
        gauge(.ready, [:]).set(to: 0)
        gauge(.draining, [:]).set(to: 0)
        if let statistics = ProcessStatistics.read() {
            gauge(.processStart, [:]).set(to: statistics.startTime)
            updateProcessMetrics(statistics)
        }
    }

    /// The reasons of `sip_calls_rejected_total` and `rtp_packets_dropped_total` (docs/metrics.md).
    static let rejectionReasons = ["overload", "at_capacity", "draining", "no_rtp_port", "unknown_number", "blocked"]
    static let dropReasons = ["malformed", "srtp_auth", "other_payload_type", "unknown_source"]

    /// CPU seconds already added to `process_cpu_seconds_total` (a counter only moves by increments).
    private let countedCPU = Mutex<Double>(0)

    /// A `MetricsFactory` over the same registry, for `MetricsSystem.bootstrap` in the executable.
    public var factory: PrometheusMetricsFactory { PrometheusMetricsFactory(registry: registry) }

    /// `websocket_connections{role}`.
    public func websocketConnections(_ role: Role) -> Prometheus.Gauge {
        gauge(.websocketConnections, ["role": role.rawValue])
    }

    public func setReady(_ ready: Bool) {
        gauge(.ready, [:]).set(to: ready ? 1 : 0)
    }

    public func countHTTPRequest(method: String, status: Int) {
        counter(.httpRequests, ["method": method, "status": String(status)]).increment()
    }

    /// A gauge of the catalogue; the labels must be exactly the definition's.
    public func gauge(_ definition: MetricDefinition, _ labels: [String: String]) -> Prometheus.Gauge {
        precondition(definition.kind == .gauge, "\(definition.name) is a \(definition.kind)")
        return registry.makeGauge(name: definition.name, labels: Self.labels(definition, labels), help: definition.help)
    }

    public func counter(_ definition: MetricDefinition, _ labels: [String: String]) -> Prometheus.Counter {
        precondition(definition.kind == .counter, "\(definition.name) is a \(definition.kind)")
        return registry.makeCounter(name: definition.name, labels: Self.labels(definition, labels), help: definition.help)
    }

    /// Buckets for work measured in microseconds to hundreds of milliseconds.
    public static let latencyBuckets: [Duration] = [
        .microseconds(10), .microseconds(25), .microseconds(50), .microseconds(100), .microseconds(250), .microseconds(500),
        .milliseconds(1), .milliseconds(2.5), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
        .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2.5),
    ]

    public func histogram(_ definition: MetricDefinition, _ labels: [String: String], buckets: [Duration] = Telemetry.latencyBuckets) -> DurationHistogram {
        precondition(definition.kind == .histogram, "\(definition.name) is a \(definition.kind)")
        return registry.makeDurationHistogram(
            descriptor: MetricNameDescriptor(metricName: definition.name, unitName: "", helpText: definition.help),
            labels: Self.labels(definition, labels),
            buckets: buckets
        )
    }

    public func setDraining(_ draining: Bool) {
        gauge(.draining, [:]).set(to: draining ? 1 : 0)
    }

    /// The Prometheus text exposition (version 0.0.4), with the process's own figures read now.
    public func render() -> String {
        if let statistics = ProcessStatistics.read() { updateProcessMetrics(statistics) }
        return registry.emitToString()
    }

    /// `process_*` from /proc and getrlimit: memory, descriptors and CPU as of this scrape.
    private func updateProcessMetrics(_ statistics: ProcessStatistics) {
        gauge(.processResidentMemory, [:]).set(to: statistics.residentBytes)
        gauge(.processMemoryLimit, [:]).set(to: statistics.memoryLimitBytes)
        gauge(.processCPULimit, [:]).set(to: statistics.cpuLimitCores)
        gauge(.processOpenFDs, [:]).set(to: statistics.openFDs)
        gauge(.processMaxFDs, [:]).set(to: statistics.maxFDs)
        let increment = countedCPU.withLock { counted -> Double in
            let delta = max(0, statistics.cpuSeconds - counted)
            counted += delta
            return delta
        }
        if increment > 0 { counter(.processCPU, [:]).increment(by: increment) }
    }

    private static func labels(_ definition: MetricDefinition, _ labels: [String: String]) -> [(String, String)] {
        precondition(Set(labels.keys) == Set(definition.labels), "\(definition.name) takes labels \(definition.labels), got \(labels.keys.sorted())")
        return definition.labels.map { ($0, labels[$0]!) }
    }
}

/// What Linux says about this process, for the `process_*` metrics (the names of Prometheus's process collector).
struct ProcessStatistics {
    var residentBytes: Double
    var memoryLimitBytes: Double
    var cpuLimitCores: Double
    var openFDs: Double
    var maxFDs: Double
    var cpuSeconds: Double
    /// Unix seconds.
    var startTime: Double

    static func read() -> ProcessStatistics? {
        // /proc/self/stat: the command (in parentheses, which may hold spaces) and then fields from "state" (3rd) on;
        // utime and stime are the 14th and 15th, starttime the 22nd, in clock ticks (starttime since boot).
        guard let stat = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        guard fields.count > 19, ticks > 0, let user = Double(fields[11]), let system = Double(fields[12]), let started = Double(fields[19]),
            let statm = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8),
            let residentPages = Double(statm.split(separator: " ").dropFirst().first ?? "")
        else { return nil }
        let descriptors = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? 0
        var limit = rlimit()
        let maxFDs = getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 ? Double(limit.rlim_cur) : 0
        return ProcessStatistics(
            residentBytes: residentPages * Double(sysconf(Int32(_SC_PAGESIZE))),
            memoryLimitBytes: memoryLimit(),
            cpuLimitCores: cpuLimit(),
            openFDs: Double(descriptors),
            maxFDs: maxFDs,
            cpuSeconds: (user + system) / ticks,
            startTime: bootTime() + started / ticks
        )
    }

    /// The cgroup's memory limit (a container sees its own cgroup at /sys/fs/cgroup), else the machine's memory.
    /// cgroup v1 writes "no limit" as a number near 2^63.
    static func memoryLimit(cgroup root: String = "/sys/fs/cgroup", meminfo: String = "/proc/meminfo") -> Double {
        for file in ["\(root)/memory.max", "\(root)/memory/memory.limit_in_bytes"] {
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { continue }
            if let bytes = Double(text.trimmingCharacters(in: .whitespacesAndNewlines)), bytes < 0x1p60 { return bytes }
            break
        }
        let total = (try? String(contentsOfFile: meminfo, encoding: .utf8))?
            .split(separator: "\n").first { $0.hasPrefix("MemTotal:") }
            .flatMap { Double($0.split(separator: " ").dropFirst().first ?? "") }
        return (total ?? 0) * 1024
    }

    /// The cgroup's CPU quota in cores (v2 `cpu.max` "QUOTA PERIOD", "max" without one; v1 cfs_quota_us, -1 without),
    /// else the online cores.
    static func cpuLimit(cgroup root: String = "/sys/fs/cgroup") -> Double {
        let online = Double(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        if let text = try? String(contentsOfFile: "\(root)/cpu.max", encoding: .utf8) {
            let fields = text.split(whereSeparator: \.isWhitespace)
            if fields.count == 2, let quota = Double(fields[0]), let period = Double(fields[1]), period > 0 { return quota / period }
            return online
        }
        if let quota = (try? String(contentsOfFile: "\(root)/cpu/cpu.cfs_quota_us", encoding: .utf8)).flatMap({ Double($0.trimmingCharacters(in: .whitespacesAndNewlines)) }),
            let period = (try? String(contentsOfFile: "\(root)/cpu/cpu.cfs_period_us", encoding: .utf8)).flatMap({ Double($0.trimmingCharacters(in: .whitespacesAndNewlines)) }),
            quota > 0, period > 0
        {
            return quota / period
        }
        return online
    }

    /// The boot time in Unix seconds (`btime` of /proc/stat).
    private static func bootTime() -> Double {
        guard let stat = try? String(contentsOfFile: "/proc/stat", encoding: .utf8),
            let line = stat.split(separator: "\n").first(where: { $0.hasPrefix("btime ") }),
            let seconds = Double(line.dropFirst(6).trimmingCharacters(in: .whitespaces))
        else { return 0 }
        return seconds
    }
}
