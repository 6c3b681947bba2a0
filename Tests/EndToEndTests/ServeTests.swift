import AnswerNinjaTestSupport
import Foundation
import Testing

/// `answer-ninja serve` as a user runs it: the built binary, its own data directory, a free port.
@Suite(.serialized) struct ServeTests {
    @Test(.timeLimit(.minutes(2)))
    func serveAnswersHealthReadyAndMetricsThenStopsGracefully() async throws {
        let serve = try await AnswerNinjaProcess.start()
        try await withPeer(serve) { serve in
            let health = try await serve.get("/health")
            #expect(health.status == 200)
            #expect(health.body.contains(#""status":"ok""#))
            let ready = try await serve.get("/ready")
            #expect(ready.status == 200, "\(ready.body)")
            let metrics = try await serve.get("/metrics")
            #expect(metrics.body.contains(#"websocket_connections{role="media"} 0"#))
            #expect(metrics.body.contains("answer_ninja_ready 1"))
            let page = try await serve.get("/status")
            #expect(page.body.contains("Where everything listens"))
            // With the API role, `/` is the dashboard: on a fresh install with no owner, its setup page (the redirect
            // followed), whose code serve printed.
            let home = try await serve.get("/")
            #expect(home.status == 200 && home.body.contains("<h1>Set up Answer Ninja</h1>"), "\(home.body.prefix(300))")
            #expect(serve.process.log().contains("no owner yet: open http://127.0.0.1:"), "the setup line")

            let log = serve.process.log()
            #expect(log.contains("(created)"), "the data directory and demo user are created on first run")
            #expect(log.contains(#"owns alias "demo""#))
            #expect(FileManager.default.fileExists(atPath: serve.dataDirectory.appendingPathComponent("answer-ninja.sqlite").path))
            // Logs are JSON lines on stderr.
            let listening = log.split(separator: "\n").first { $0.contains(#""msg":"listening""#) }
            #expect(listening.map { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) != nil } == true)

            let status = await serve.process.stop(signal: SIGTERM, timeout: .seconds(15))
            #expect(status == 0, "graceful shutdown exits 0; log:\n\(serve.process.logTail())")
            #expect(serve.process.log().contains("Answer Ninja stopped"))
        }
    }

    @Test(.timeLimit(.minutes(2)))
    func aSecondRunReusesTheDataDirectory() async throws {
        let data = try PeerEnvironment.artifactsDirectory(named: "reuse")
        let first = try await AnswerNinjaProcess.start(dataDirectory: data)
        try await withPeer(first) { first in
            #expect(first.process.log().contains("(created)"))
            #expect(await first.process.stop(signal: SIGINT) == 0)
        }
        let second = try await AnswerNinjaProcess.start(dataDirectory: data)
        try await withPeer(second) { second in
            #expect(!second.process.log().contains("(created)"))
            #expect(second.process.log().contains(#"owns alias "demo""#))
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func badConfigurationStopsWithEveryProblemNamed() async throws {
        let result = try await PeerEnvironment.run(
            "/usr/bin/env",
            ["ANSWER_NINJA_HTTP_PORT=99999", "ANSWER_NINJA_LOG_FORMAT=xml", try AnswerNinjaProcess.binary(), "serve"]
        )
        #expect(result.status != 0)
        #expect(result.output.contains("ANSWER_NINJA_HTTP_PORT must be a port number"))
        #expect(result.output.contains("ANSWER_NINJA_LOG_FORMAT must be one of json, text"))
    }

    @Test(.timeLimit(.minutes(1)))
    func healthcheckToolReportsHealthyAndUnhealthy() async throws {
        let binary = try AnswerNinjaProcess.binary()
        let serve = try await AnswerNinjaProcess.start(command: "api")
        try await withPeer(serve) { serve in
            let healthy = try await PeerEnvironment.run(binary, ["healthcheck", "--url", serve.baseURL + "/health", "--json"])
            #expect(healthy.status == 0, "\(healthy.output)")
            let object = try JSONSerialization.jsonObject(with: Data(healthy.output.utf8)) as? [String: Any]
            #expect(object?["healthy"] as? Bool == true)
            #expect(object?["status"] as? Int == 200)
        }
        let closedPort = try PeerEnvironment.freePort()
        let unhealthy = try await PeerEnvironment.run(binary, ["healthcheck", "--url", "http://127.0.0.1:\(closedPort)/health"])
        #expect(unhealthy.status == 1)
        #expect(unhealthy.output.contains("unhealthy"))
    }

    @Test(.timeLimit(.minutes(1)))
    func eachRoleRunsAloneWithItsOwnGauge() async throws {
        let media = try await AnswerNinjaProcess.start(command: "media")
        try await withPeer(media) { media in
            let metrics = try await media.get("/metrics").body
            #expect(metrics.contains(#"websocket_connections{role="media"} 0"#))
            #expect(!metrics.contains(#"role="gateway""#))
            #expect(try await media.get("/ready").status == 200)
            #expect(!media.process.log().contains("database"), "the media role keeps no data")
        }
    }
}
