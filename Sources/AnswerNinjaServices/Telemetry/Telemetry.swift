import AnswerNinjaCore
import CoreMetrics
import Prometheus

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
        if roles.contains(.gateway) { gauge(.concurrentCalls, ["role": Role.gateway.rawValue]).set(to: 0) }
        gauge(.ready, [:]).set(to: 0)
    }

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

    /// The Prometheus text exposition (version 0.0.4).
    public func render() -> String {
        registry.emitToString()
    }

    private static func labels(_ definition: MetricDefinition, _ labels: [String: String]) -> [(String, String)] {
        precondition(Set(labels.keys) == Set(definition.labels), "\(definition.name) takes labels \(definition.labels), got \(labels.keys.sorted())")
        return definition.labels.map { ($0, labels[$0]!) }
    }
}
