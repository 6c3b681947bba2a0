import AnswerNinjaCore
import AnswerNinjaTestSupport
import Foundation
import Logging
import Testing

@Suite struct TelemetryTests {
    @Test func metricsCatalogueAndDocsAgree() throws {
        let page = try DocumentationFiles.read("docs/metrics.md")
        let documented = Set(page.split(separator: "\n").compactMap { line -> String? in
            guard line.hasPrefix("| `") else { return nil }
            return line.split(separator: "`").dropFirst().first.map(String.init)
        })
        let coded = Set(MetricDefinition.catalogue.map(\.name))
        #expect(documented == coded, "docs only: \(documented.subtracting(coded).sorted()); code only: \(coded.subtracting(documented).sorted())")
        for metric in MetricDefinition.catalogue {
            #expect(metric.name.range(of: "^[a-z_][a-z0-9_]*$", options: .regularExpression) != nil)
            if metric.kind == .counter { #expect(metric.name.hasSuffix("_total"), "\(metric.name)") }
            // The unit ends the name, before a counter's _total (Prometheus naming: process_cpu_seconds_total).
            let base = metric.kind == .counter ? String(metric.name.dropLast("_total".count)) : metric.name
            if metric.unit != "1" { #expect(base.hasSuffix("_\(metric.unit)"), "\(metric.name)") }
            let row = page.split(separator: "\n").first { $0.hasPrefix("| `\(metric.name)`") } ?? ""
            for label in metric.labels { #expect(row.contains(label), "\(metric.name) label \(label) not in its docs row") }
        }
    }

    @Test func configurationCatalogueAndDocsAgree() throws {
        let page = try DocumentationFiles.read("docs/configuration.md")
        for key in ConfigurationKey.all {
            let row = page.split(separator: "\n").first { $0.contains("`\(key.environmentName)`") }
            #expect(row != nil, "\(key.environmentName) is not documented")
            if let row, let value = key.defaultValue, !value.isEmpty { #expect(row.contains("`\(value)`"), "default of \(key.key) differs in the docs") }
        }
    }

    @Test func jsonLogLinesAreObjectsWithCallIDs() throws {
        let line = JSONLogHandler.line(
            timestamp: "2026-11-27T02:30:00.000Z", level: .info, logger: "gateway", message: "INVITE \"quoted\"\nnext",
            metadata: ["call_id": "a84b", "msg": "ignored: reserved", "nested": ["k": .array(["x", "y"])]]
        )
        let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
        #expect(object?["call_id"] as? String == "a84b")
        #expect(object?["msg"] as? String == "INVITE \"quoted\"\nnext")
        #expect(object?["level"] as? String == "info")
        #expect((object?["nested"] as? [String: Any])?["k"] as? [String] == ["x", "y"])
        #expect(!line.contains("\n"))
        #expect(JSONLogHandler.quoted("\u{01}") == "\"\\u0001\"")
    }

    @Test func manualClockWakesSleepersOnlyWhenAdvanced() async throws {
        let clock = ManualClock()
        let woke = Task { try await clock.sleep(for: .seconds(5)); return clock.now.offset }
        while clock.sleeperCount == 0 { await Task.yield() }
        clock.advance(by: .seconds(4))
        #expect(clock.sleeperCount == 1)
        clock.advance(by: .seconds(1))
        #expect(try await woke.value == .seconds(5))
        #expect(clock.now.media.nanoseconds == 5_000_000_000)
    }
}
