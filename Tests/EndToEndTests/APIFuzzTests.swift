import AnswerNinjaTestSupport
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Store
import Testing

/// A bounded schemathesis run (PyPI, installed by tools/setup) against `answer-ninja api` from the hand-written
/// OpenAPI document, as a signed-in admin: every generated request, valid or not, gets an answer other than 5xx.
@Suite(.serialized) struct APIFuzzTests {
    static let schemathesis = AnswerNinjaProcess.packageRootFromSource() + "/.venv/bin/schemathesis"

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: schemathesis) || PeerEnvironment.isCI), .timeLimit(.minutes(5)))
    func schemathesisFindsNoServerError() async throws {
        let data = try PeerEnvironment.artifactsDirectory(named: "api-fuzz")
        let api = try await AnswerNinjaProcess.start(command: "api", environment: ["ANSWER_NINJA_API_BCRYPT_COST": "4"], dataDirectory: data)
        try await withPeer(api) { api in
            var request = URLRequest(url: URL(string: api.baseURL + "/api/v1/auth/signup")!)
            request.httpMethod = "POST"
            request.httpBody = Data(#"{"email": "fuzz@example.com", "password": "correct horse battery"}"#.utf8)
            let (body, _) = try await URLSession.shared.data(for: request)
            let session = try #require(try JSONSerialization.jsonObject(with: body) as? [String: Any])
            let token = try #require(session["access_token"] as? String)
            let user = try #require((session["user"] as? [String: Any])?["id"] as? String)
            // An admin, so that the admin operations are exercised too (the role is read per request).
            let database = try await SQLiteDatabase.open(path: data.appendingPathComponent("answer-ninja.sqlite").path)
            try await database.query("UPDATE users SET role = 'admin' WHERE id = $1", [.text(user)])
            try await database.close()

            let root = AnswerNinjaProcess.packageRootFromSource()
            let run = try await PeerEnvironment.run(Self.schemathesis, [
                "run", root + "/docs/api/openapi.yaml", "--url", api.baseURL, "--header", "Authorization: Bearer \(token)",
                "--checks", "not_a_server_error", "--max-examples", "10", "--generation-deterministic",
                // Deleting the signed-in account early would leave every later request unauthenticated.
                "--exclude-name", "DELETE /api/v1/me",
                // The live event stream never ends: a request for it would only time out.
                "--exclude-name", "GET /api/v1/events",
            ], timeout: .seconds(240))
            #expect(run.status == 0, "\(run.output.suffix(3000))")
            #expect(run.output.contains(" passed"), "\(run.output.suffix(1500))")
            #expect(!run.output.contains("Authentication failed"), "the token must hold for the whole run: \(run.output.suffix(1500))")
            #expect(!api.process.log().contains(#""msg":"request failed""#), "a handler failed: \(api.process.logTail())")
        }
    }
}
