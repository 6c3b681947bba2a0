import AnswerNinjaCore
@testable import AnswerNinjaServices
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Testing

@Suite struct HTTPRoutesTests {
    func makeContext(roles: [Role] = Role.allCases) -> ServiceContext {
        ServiceContext(configuration: .defaults, roles: roles, logger: Logger(label: "test"))
    }

    @Test func healthAnswersWithTheRoles() async throws {
        let context = makeContext()
        let app = Application(router: HTTPRoutes.makeRouter(context: context))
        try await app.test(.router) { client in
            try await client.execute(uri: "/health", method: .get) { response in
                #expect(response.status == .ok)
                let body = try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any]
                #expect(body?["status"] as? String == "ok")
                #expect(body?["roles"] as? [String] == ["gateway", "media", "conversation", "api"])
            }
        }
    }

    @Test func readyIs503UntilEveryCheckPasses() async throws {
        let context = makeContext()
        let app = Application(router: HTTPRoutes.makeRouter(context: context))
        try await app.test(.router) { client in
            try await client.execute(uri: "/ready", method: .get) { response in
                #expect(response.status == .serviceUnavailable)  // nothing declared yet
            }
            context.readiness.expect("store")
            context.readiness.report("http", ready: true, detail: "listening")
            try await client.execute(uri: "/ready", method: .get) { response in
                #expect(response.status == .serviceUnavailable)
                let body = try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any]
                #expect(body?["status"] as? String == "not_ready")
                #expect(((body?["checks"] as? [String: Any])?["store"] as? [String: Any])?["detail"] as? String == "starting")
            }
            context.readiness.report("store", ready: true, detail: "sqlite schema 1")
            try await client.execute(uri: "/ready", method: .get) { response in
                #expect(response.status == .ok)
            }
        }
        #expect(context.telemetry.render().contains("answer_ninja_ready 1"))
    }

    @Test func metricsExposeTheAutoscalingGaugePerRoleFromTheStart() async throws {
        let context = makeContext(roles: [.media, .api])
        let app = Application(router: HTTPRoutes.makeRouter(context: context))
        try await app.test(.router) { client in
            try await client.execute(uri: "/nowhere", method: .get) { response in
                #expect(response.status == .notFound)
            }
            try await client.execute(uri: "/metrics", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType]?.hasPrefix("text/plain; version=0.0.4") == true)
                let text = String(buffer: response.body)
                #expect(text.contains(#"websocket_connections{role="media"} 0"#))
                #expect(text.contains(#"websocket_connections{role="api"} 0"#))
                #expect(!text.contains(#"role="gateway""#))
                #expect(text.contains(#"answer_ninja_role_up{role="media"} 1"#))
                #expect(text.contains(#"http_requests_total{method="GET",status="404"} 1"#))
            }
        }
        context.telemetry.websocketConnections(.media).set(to: 3)
        #expect(context.telemetry.render().contains(#"websocket_connections{role="media"} 3"#))
    }

    @Test func statusPageEscapesAndSetsACSP() async throws {
        let context = makeContext()
        context.addListener(.init(name: "http", address: "http://127.0.0.1:1", detail: "<script>"))
        let app = Application(router: HTTPRoutes.makeRouter(context: context))
        try await app.test(.router) { client in
            try await client.execute(uri: "/", method: .get) { response in
                #expect(response.headers[.contentSecurityPolicy] == "default-src 'self'")
                let html = String(buffer: response.body)
                #expect(html.contains("&lt;script&gt;"))
                #expect(!html.contains("<script>"))
            }
        }
    }
}

@Suite struct ServerSentEventsTests {
    @Test func splitsEventsAcrossArbitraryChunkBoundaries() {
        var parser = ServerSentEvents()
        #expect(parser.feed("data: {\"a\"").isEmpty)
        #expect(parser.feed(":1}\n\ndata: second\r\n\r\n: comment\n\ndata: [DO") == ["{\"a\":1}", "second"])
        #expect(parser.feed("NE]\n\n") == ["[DONE]"])
    }

    @Test func aCharacterSplitAcrossReadsIsNotBroken() {
        var parser = ServerSentEvents()
        let bytes = Array("data: it’s fine\n\n".utf8)
        let split = bytes.firstIndex(of: 0xE2)! + 1  // inside the three bytes of ’
        #expect(parser.feed(bytes[..<split]).isEmpty)
        #expect(parser.feed(bytes[split...]) == ["it’s fine"])
    }

    @Test func readsTheDeltaOfAChatCompletionChunk() {
        #expect(ChatResponder.delta(in: #"{"choices":[{"delta":{"content":"Hi"}}]}"#) == "Hi")
        #expect(ChatResponder.delta(in: #"{"choices":[{"delta":{}}]}"#) == nil)
        #expect(ChatResponder.delta(in: "not json") == nil)
    }

    @Test func cutsALongAnswerAtASentenceEnd() {
        #expect(ChatResponder.finish("One. Two three four.", limit: 10) == .rewritten("One."))
        #expect(ChatResponder.finish("   ", limit: 10) == .failed("empty answer"))
    }
}
