import AnswerNinjaCore
@testable import AnswerNinjaServices
import AnswerNinjaTestSupport
import Capture
import Foundation
import Hummingbird
import HummingbirdOTP
import HummingbirdTesting
import Logging
import NIOCore
import Store
import Synchronization
import Testing

/// The platform API in process (Hummingbird's router test client) on each back end: SQLite with the in-process
/// cache, and a real PostgreSQL with a real Redis. The route table against the OpenAPI document, the same
/// behaviour tests on both, and an isolation walk generated from the document.
@Suite(.serialized) struct APITests {
    enum Backend: String, CaseIterable, Sendable { case sqlite, postgres }

    struct Reply {
        var status: HTTPResponse.Status
        var json: [String: Any]
        var text: String
        var headers: HTTPFields
        subscript(key: String) -> Any? { json[key] }
        var errorCode: String? { (json["error"] as? [String: Any])?["code"] as? String }
    }

    /// Runs `body` against a router backed by a store of `backend` (data in a temporary directory).
    static func withAPI(_ backend: Backend, _ body: @escaping @Sendable (any TestClientProtocol, StoreService) async throws -> Void) async throws {
        let directory = NSTemporaryDirectory() + "answer-ninja-api-\(UInt32.random(in: 0 ... .max))"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var configuration = NinjaConfiguration.defaults
        configuration.dataDirectory = directory
        configuration.api.bcryptCost = 4
        func run() async throws {
            let context = ServiceContext(configuration: configuration, roles: [.api], logger: Logger(label: "api-test"))
            let store = try await StoreService.open(context: context)
            let api = await APIRoutes(platform: store.platform, configuration: configuration)
            do {
                let app = Application(router: HTTPRoutes.makeRouter(context: context, api: api))
                try await app.test(.router) { client in try await body(client, store) }
            } catch {
                await api.close()
                try? await store.close()
                throw error
            }
            await api.close()
            try await store.close()
        }
        switch backend {
        case .sqlite:
            try await run()
        case .postgres:
            let postgres = try await PostgresPeer.start()
            try await withPeer(postgres) { postgres in
                let redis = try await RedisPeer.start()
                try await withPeer(redis) { redis in
                    configuration.store.backend = .postgres
                    configuration.store.postgresURL = postgres.url
                    configuration.store.redisURL = redis.url
                    try await run()
                    // The cache really was Redis: the test's keys (rate limits, cached decisions) are there.
                    #expect(Int(try await redis.command(["DBSIZE"])) ?? 0 > 0)
                }
            }
        }
    }

    static func call(_ client: any TestClientProtocol, _ method: HTTPRequest.Method, _ path: String, token: String? = nil, json: [String: Any?]? = nil, raw: String? = nil) async throws -> Reply {
        var headers = HTTPFields()
        if let token { headers[.authorization] = "Bearer \(token)" }
        var body: ByteBuffer?
        if let json {
            body = ByteBuffer(data: try JSONSerialization.data(withJSONObject: json.mapValues { $0 ?? NSNull() }))
            headers[.contentType] = "application/json"
        } else if let raw {
            body = ByteBuffer(string: raw)
        }
        let response = try await client.executeRequest(uri: path, method: method, headers: headers, body: body)
        let text = String(buffer: response.body)
        let object = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] ?? [:]
        return Reply(status: response.status, json: object, text: text, headers: response.headers)
    }

    /// Signs up and returns (user id, access token, refresh token).
    static func signUp(_ client: any TestClientProtocol, _ email: String) async throws -> (id: String, access: String, refresh: String) {
        let reply = try await call(client, .post, "/api/v1/auth/signup", json: ["email": email, "password": "correct horse battery", "display_name": email])
        try #require(reply.status == .created, "\(reply.text)")
        let user = try #require(reply["user"] as? [String: Any])
        return (try #require(user["id"] as? String), try #require(reply["access_token"] as? String), try #require(reply["refresh_token"] as? String))
    }

    // MARK: The document and the route table

    static func openAPI() async throws -> [String: Any] {
        let root = AnswerNinjaProcess.packageRootFromSource()
        let script = "import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))"
        let result = try await PeerEnvironment.run(root + "/.venv/bin/python", ["-c", script, root + "/docs/api/openapi.yaml"])
        try #require(result.status == 0, "\(result.output)")
        return try #require(try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any])
    }

    /// `GET /api/v1/calls/{}` for both forms of a parameter (`:id` in Hummingbird, `{id}` in OpenAPI).
    static func normalized(_ method: String, _ path: String) -> String {
        method.uppercased() + " " + path.replacingOccurrences(of: #"(:[A-Za-z_]+|\{[A-Za-z_]+\})"#, with: "{}", options: .regularExpression)
    }

    @Test(.timeLimit(.minutes(2)))
    func theRouteTableAndTheOpenAPIDocumentMatch() async throws {
        let document = try await Self.openAPI()
        #expect(document["openapi"] as? String == "3.1.0")
        let paths = try #require(document["paths"] as? [String: [String: Any]])
        var documented = Set<String>()
        for (path, operations) in paths {
            for method in operations.keys where ["get", "put", "post", "patch", "delete"].contains(method) { documented.insert(Self.normalized(method, path)) }
        }
        let directory = NSTemporaryDirectory() + "answer-ninja-routes-\(UInt32.random(in: 0 ... .max))"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var configuration = NinjaConfiguration.defaults
        configuration.dataDirectory = directory
        let context = ServiceContext(configuration: configuration, roles: [.api], logger: Logger(label: "routes"))
        let store = try await StoreService.open(context: context)
        let api = await APIRoutes(platform: store.platform, configuration: configuration)
        let router = HTTPRoutes.makeRouter(context: context, api: api)
        try router.validate()
        let served = Set(router.routes.map { Self.normalized($0.method.rawValue, "\($0.path)".hasPrefix("/") ? "\($0.path)" : "/\($0.path)") })
        await api.close()
        try await store.close()
        #expect(served.count > 25)
        #expect(served.subtracting(documented).isEmpty, "served but not documented: \(served.subtracting(documented).sorted())")
        #expect(documented.subtracting(served).isEmpty, "documented but not served: \(documented.subtracting(served).sorted())")
    }

    // MARK: Behaviour, on both back ends

    @Test(.timeLimit(.minutes(1)))
    func firstRunSetupNeedsTheCodeAndHappensOnce() async throws {
        try await Self.withAPI(.sqlite) { client, store in
            let code = OwnerSetup.code(secret: store.platform.jwtSecret)
            func setUp(_ code: String, _ email: String, _ password: String = "the owner's password") async throws -> Reply {
                try await Self.call(client, .post, "/api/v1/setup", json: ["setup_code": code, "email": email, "password": password])
            }
            // A user who signed up is no owner: setup stays open.
            _ = try await Self.signUp(client, "early@example.com")
            // Wrong codes: ten an hour from one address, then 429; the right code passes all the same (behind a proxy,
            // junk posts from others must not lock the owner out).
            var statuses: [HTTPResponse.Status] = []
            for _ in 0..<11 { statuses.append(try await setUp("AAAA-BBBB-CCCC-DDDD", "owner@example.com").status) }
            #expect(statuses == Array(repeating: .forbidden, count: 10) + [.tooManyRequests], "\(statuses)")
            #expect(try await setUp("AAAA-BBBB-CCCC-DDDD", "owner@example.com").errorCode == "rate_limited")
            #expect(try await setUp(code, "owner@example.com", "short").errorCode == "weak_password")
            #expect(try await setUp(code, "early@example.com").errorCode == "email_taken")
            let done = try await setUp(code.lowercased(), "owner@example.com")
            #expect(done.status == .created, "\(done.text)")
            let user = try #require(done["user"] as? [String: Any])
            #expect(user["role"] as? String == "admin" && user["numbers"] as? [String] == ["demo"] && user["id"] as? String == "user-demo")
            // The owner is an admin at once; setup is closed, even with the right code.
            let token = try #require(done["access_token"] as? String)
            #expect(try await Self.call(client, .get, "/api/v1/admin/users", token: token).status == .ok)
            let again = try await setUp(code, "second@example.com")
            #expect(again.status == .conflict && again.errorCode == "already_set_up")
            // The only admin cannot delete their account; once another is an admin, they can.
            #expect(try await Self.call(client, .delete, "/api/v1/me", token: token).errorCode == "last_admin")
            let early = try #require(try await store.platform.users.account(email: "early@example.com"))
            #expect(try await Self.call(client, .patch, "/api/v1/admin/users/\(early.id)", token: token, json: ["role": "admin"]).status == .ok)
            #expect(try await Self.call(client, .delete, "/api/v1/me", token: token).status == .noContent)
            #expect(try await setUp(code, "third@example.com").errorCode == "already_set_up", "setup happens once per install")
        }
    }

    @Test(.enabled(if: PostgresPeer.binDirectory != nil || PeerEnvironment.isCI), .timeLimit(.minutes(3)), arguments: Backend.allCases)
    func signInTokensAndTwoFactor(backend: Backend) async throws {
        try await Self.withAPI(backend) { client, store in
            let alice = try await Self.signUp(client, "alice@example.com")
            #expect(try await Self.call(client, .post, "/api/v1/auth/signup", json: ["email": "ALICE@example.com", "password": "another long one"]).errorCode == "email_taken")
            #expect(try await Self.call(client, .post, "/api/v1/auth/signup", json: ["email": "bob@example.com", "password": "short"]).errorCode == "weak_password")
            #expect(try await Self.call(client, .post, "/api/v1/auth/signup", json: ["email": "not-an-email", "password": "long enough password"]).errorCode == "invalid_email")
            #expect(try await Self.call(client, .post, "/api/v1/auth/signup", raw: "{\"email\": ").errorCode == "invalid_json")
            #expect(try await Self.call(client, .get, "/api/v1/me").status == .unauthorized)
            #expect(try await Self.call(client, .get, "/api/v1/me", token: alice.access + "x").errorCode == "invalid_token")
            #expect(try await Self.call(client, .get, "/api/v1/me", token: alice.access)["email"] as? String == "alice@example.com")

            // Refresh rotates; using an old refresh token again ends the whole family.
            let rotated = try await Self.call(client, .post, "/api/v1/auth/refresh", json: ["refresh_token": alice.refresh])
            #expect(rotated.status == .ok)
            let next = try #require(rotated["refresh_token"] as? String)
            #expect(next != alice.refresh)
            #expect(try await Self.call(client, .post, "/api/v1/auth/refresh", json: ["refresh_token": alice.refresh]).errorCode == "token_reused")
            #expect(try await Self.call(client, .post, "/api/v1/auth/refresh", json: ["refresh_token": next]).errorCode == "invalid_token", "the family went with the reuse")

            // Two-factor: set-up, confirm, then sign-in needs the code.
            let start = try await Self.call(client, .post, "/api/v1/me/totp", token: alice.access)
            #expect(start.status == .created)
            let typed = try #require(start["secret"] as? String)
            #expect(typed.allSatisfy { "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567".contains($0) }, "base32, as authenticator apps take it typed in")
            #expect((start["otpauth_url"] as? String)?.contains("secret=\(typed)") == true, "the same secret as the URL carries")
            let secret = try #require(await store.platform.cache.get("totp-pending:\(alice.id)"))
            #expect(try await Self.call(client, .post, "/api/v1/me/totp/verify", token: alice.access, json: ["code": "000000"]).errorCode == "invalid_totp")
            let code = String(format: "%06d", TOTP(secret: secret).compute())
            #expect(try await Self.call(client, .post, "/api/v1/me/totp/verify", token: alice.access, json: ["code": code]).status == .noContent)
            #expect(try await Self.call(client, .post, "/api/v1/auth/login", json: ["email": "alice@example.com", "password": "correct horse battery"]).errorCode == "totp_required")
            let signedIn = try await Self.call(client, .post, "/api/v1/auth/login", json: ["email": "alice@example.com", "password": "correct horse battery", "totp": code])
            #expect(signedIn.status == .ok && (signedIn["user"] as? [String: Any])?["totp_enabled"] as? Bool == true)

            // Sign-in failures are limited per account: the sixth attempt in a minute gets 429 with Retry-After.
            for _ in 0..<5 {
                #expect(try await Self.call(client, .post, "/api/v1/auth/login", json: ["email": "carol@example.com", "password": "wrong password"]).errorCode == "invalid_credentials")
            }
            let limited = try await Self.call(client, .post, "/api/v1/auth/login", json: ["email": "carol@example.com", "password": "wrong password"])
            #expect(limited.status == .tooManyRequests && limited.headers[.retryAfter] == "60")
            // Codes are limited too: the sixth wrong one in a minute gets 429.
            _ = try await Self.call(client, .post, "/api/v1/me/totp", token: alice.access)
            var codes: [HTTPResponse.Status] = []
            for _ in 0..<6 { codes.append(try await Self.call(client, .delete, "/api/v1/me/totp", token: alice.access, json: ["code": "000000"]).status) }
            // (The two codes of the set-up above count within the same minute.)
            #expect(codes.first == .badRequest && codes.last == .tooManyRequests && codes.filter { $0 == .badRequest }.count == 3, "\(codes)")

            // Logout ends the sign-in.
            let token = try #require(signedIn["refresh_token"] as? String)
            #expect(try await Self.call(client, .post, "/api/v1/auth/logout", json: ["refresh_token": token]).status == .noContent)
            #expect(try await Self.call(client, .post, "/api/v1/auth/refresh", json: ["refresh_token": token]).status == .unauthorized)
        }
    }

    @Test(.enabled(if: PostgresPeer.binDirectory != nil || PeerEnvironment.isCI), .timeLimit(.minutes(3)), arguments: Backend.allCases)
    func whitelistProfilesSettingsCallsAndAdmin(backend: Backend) async throws {
        try await Self.withAPI(backend) { client, store in
            let alice = try await Self.signUp(client, "alice@example.com")
            let bob = try await Self.signUp(client, "bob@example.com")
            // Numbers: assigned by an admin (a user cannot claim someone's number), normalised, owned by one user.
            #expect(try await Self.call(client, .post, "/api/v1/admin/users/\(alice.id)/numbers", token: alice.access, json: ["number": "+14155550100"]).status == .forbidden)
            let admin = try await Self.signUp(client, "admin@example.com")
            try await store.platform.users.update(id: admin.id, .init(role: .admin))
            #expect(try await Self.call(client, .post, "/api/v1/admin/users/\(alice.id)/numbers", token: admin.access, json: ["number": "(415) 555-0100"])["numbers"] as? [String] == ["+14155550100"])
            #expect(try await Self.call(client, .post, "/api/v1/admin/users/\(bob.id)/numbers", token: admin.access, json: ["number": "+1 415 555 0100"]).errorCode == "number_taken")
            #expect(try await Self.call(client, .post, "/api/v1/admin/users/\(bob.id)/numbers", token: admin.access, json: ["number": "555-0100"]).errorCode == "invalid_number")
            #expect(try await Self.call(client, .get, "/api/v1/me/numbers", token: alice.access)["numbers"] as? [String] == ["+14155550100"])

            // Whitelist: add, check (cached, invalidated by a change), import, page, delete.
            #expect(try await Self.call(client, .post, "/api/v1/whitelist", token: alice.access, json: ["pattern": "415-555-0123", "label": "Mum"]).status == .created)
            #expect(try await Self.call(client, .post, "/api/v1/whitelist", token: alice.access, json: ["pattern": "+1900*", "list": "block"]).status == .created)
            #expect(try await Self.call(client, .post, "/api/v1/whitelist", token: alice.access, json: ["pattern": "+1*", "list": "block"]).errorCode == "invalid_pattern")
            let first = try await Self.call(client, .get, "/api/v1/whitelist/check?number=%2B14155550123", token: alice.access)
            #expect(first["decision"] as? String == "allow" && first["reason"] as? String == "whitelist:manual:+14155550123" && first["cached"] as? Bool == false)
            #expect(try await Self.call(client, .get, "/api/v1/whitelist/check?number=%2B14155550123", token: alice.access)["cached"] as? Bool == true)
            #expect(try await Self.call(client, .get, "/api/v1/whitelist/check?number=%2B19005550000", token: alice.access)["decision"] as? String == "block")
            #expect(try await Self.call(client, .get, "/api/v1/whitelist/check?number=%2B14155550123", token: bob.access)["decision"] as? String == "unknown")
            let imported = try await Self.call(client, .post, "/api/v1/whitelist/import", token: alice.access, raw: "Name,Phone\nPharmacy,(415) 555-0177\nBad,12\n")
            #expect(imported["added"] as? Int == 1 && (imported["problems"] as? [[String: Any]])?.first?["line"] as? Int == 3)
            let page = try await Self.call(client, .get, "/api/v1/whitelist?list=allow&limit=1&offset=1", token: alice.access)
            #expect(page["total"] as? Int == 2 && (page["entries"] as? [[String: Any]])?.first?["pattern"] as? String == "+14155550177")
            #expect(try await Self.call(client, .delete, "/api/v1/whitelist/%2B14155550123", token: alice.access).status == .noContent)
            let afterDelete = try await Self.call(client, .get, "/api/v1/whitelist/check?number=%2B14155550123", token: alice.access)
            #expect(afterDelete["decision"] as? String == "unknown" && afterDelete["cached"] as? Bool == false, "a change is seen at once")
            #expect(try await Self.call(client, .get, "/api/v1/whitelist?limit=0", token: alice.access).status == .badRequest)

            // Profiles: one user's verdict wins for them only.
            #expect(try await Self.call(client, .put, "/api/v1/profiles/%2B18885550100/verdict", token: bob.access, json: ["verdict": "spam"])["score"] as? Double == 1)
            let forAlice = try await Self.call(client, .get, "/api/v1/profiles/%2B18885550100", token: alice.access)
            #expect((forAlice["score"] as? Double).map { $0 > 0 && $0 < 1 } == true && forAlice["user_verdict"] == nil)
            #expect(try await Self.call(client, .put, "/api/v1/profiles/%2B18885550100/verdict", token: alice.access, json: ["verdict": "maybe"]).status == .badRequest)

            // Settings: validated, unknown fields refused, stored.
            #expect(try await Self.call(client, .get, "/api/v1/settings", token: alice.access)["persona"] as? String == "polite")
            let bad = try await Self.call(client, .put, "/api/v1/settings", token: alice.access, json: ["persona": "pirate", "webhook_url": "http://example.com/x"])
            #expect(bad.errorCode == "invalid_settings" && (bad.json["error"] as? [String: Any])?["message"].map { "\($0)" }?.contains("webhook_url") == true)
            #expect(try await Self.call(client, .put, "/api/v1/settings", token: alice.access, json: ["personna": "direct"]).errorCode == "invalid_json")
            let good = try await Self.call(client, .put, "/api/v1/settings", token: alice.access, json: [
                "persona": "direct", "schedule": ["days": [1, 2, 3, 4, 5], "from": "09:00", "to": "17:30", "time_zone": "Europe/London"], "region": "GB",
            ])
            #expect(good.status == .ok)
            #expect(try await Self.call(client, .get, "/api/v1/settings", token: alice.access)["persona"] as? String == "direct")
            // The user's region now reads national numbers: a UK number without +44.
            #expect(try await Self.call(client, .get, "/api/v1/whitelist/check?number=020%207946%200018", token: alice.access)["number"] as? String == "+442079460018")

            // Calls: what the journal carried to the database, one user's only, newest first, with turns.
            let journal = store.platform.journal
            for (index, user) in [alice.id, alice.id, bob.id].enumerated() {
                let at = unixMilliseconds() - Int64(3 - index) * 60_000
                try await journal.record(.started(userId: user, caller: "+1555000000\(index)", callee: "+14155550100"), callId: "call-\(index)", startedAt: at, at: at)
                try await journal.record(.turn(CallTurn(turn: 1, at: at + 1000, callerText: "hello", replyText: "Who is calling?")), callId: "call-\(index)", startedAt: at, at: at + 1000)
                try await journal.record(.ended(outcome: "caller_hung_up", reason: "bye"), callId: "call-\(index)", startedAt: at, at: at + 2000)
            }
            try await store.platform.replayer.catchUp()
            let calls = try await Self.call(client, .get, "/api/v1/calls?limit=1", token: alice.access)
            #expect((calls["calls"] as? [[String: Any]])?.map { $0["id"] as? String } == ["call-1"])
            let before = try #require(calls["next_before"] as? Int)
            let beforeId = try #require(calls["next_before_id"] as? String)
            #expect((try await Self.call(client, .get, "/api/v1/calls?before=\(before)&before_id=\(beforeId)", token: alice.access)["calls"] as? [[String: Any]])?.map { $0["id"] as? String } == ["call-0"])
            // Calls of the same millisecond are not skipped at a page boundary.
            let tie = unixMilliseconds() + 60_000
            for id in ["tie-a", "tie-b", "tie-c"] {
                try await store.platform.records.apply([CallEvent(callId: id, sequence: 1, callStartedAt: tie, at: tie, instance: "t", change: .started(userId: alice.id, caller: "+15550004444", callee: "+14155550100"))])
            }
            var seen: [String] = []
            var query = "/api/v1/calls?limit=2"
            for _ in 0..<5 {
                let page = try await Self.call(client, .get, query, token: alice.access)
                seen += (page["calls"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
                guard let next = page["next_before"] as? Int, let nextId = page["next_before_id"] as? String else { break }
                query = "/api/v1/calls?limit=2&before=\(next)&before_id=\(nextId)"
            }
            #expect(seen == ["tie-a", "tie-b", "tie-c", "call-1", "call-0"], "\(seen)")
            let detail = try await Self.call(client, .get, "/api/v1/calls/call-0", token: alice.access)
            #expect((detail["turns"] as? [[String: Any]])?.first?["reply_text"] as? String == "Who is calling?")
            #expect(try await Self.call(client, .get, "/api/v1/calls/call-2", token: alice.access).status == .notFound, "bob's call is not alice's to see")

            // Admin: forbidden to users; an admin's changes are audited; a demoted admin loses access at once.
            #expect(try await Self.call(client, .get, "/api/v1/admin/users", token: alice.access).status == .forbidden)
            try await store.platform.users.update(id: alice.id, .init(role: .admin))
            #expect((try await Self.call(client, .get, "/api/v1/admin/users", token: alice.access)["users"] as? [[String: Any]])?.count == 4)
            #expect(try await Self.call(client, .patch, "/api/v1/admin/users/\(bob.id)", token: alice.access, json: ["role": "admin"])["role"] as? String == "admin")
            #expect(try await Self.call(client, .put, "/api/v1/admin/settings/feature.llm", token: alice.access, json: ["value": true]).status == .ok)
            #expect((try await Self.call(client, .get, "/api/v1/admin/audit", token: bob.access)["entries"] as? [[String: Any]])?.map { $0["action"] as? String } == ["settings.set", "user.role", "user.number"])
            try await store.platform.users.update(id: alice.id, .init(role: .user))
            #expect(try await Self.call(client, .get, "/api/v1/admin/audit", token: alice.access).status == .forbidden)

            // Deleting my account takes everything of mine.
            #expect(try await Self.call(client, .delete, "/api/v1/me", token: alice.access).status == .noContent)
            #expect(try await Self.call(client, .get, "/api/v1/me", token: alice.access).errorCode == "invalid_token")
            #expect(try await store.platform.records.records(userId: alice.id).isEmpty)
            #expect(try await store.platform.users.user(owning: "+14155550100") == nil)
        }
    }

    // MARK: Isolation, walked from the document

    /// For every operation of the document under /api/v1 (but sign-in itself): with a fresh owner and a fresh second
    /// user, the second user gets 403 or 404 for the owner's resources, and 2xx without any of the owner's data for
    /// their own; the owner gets 2xx for the same request. Without the owner's 2xx, "404 everywhere" would pass.
    @Test(.timeLimit(.minutes(3)))
    func aSecondUserNeverReachesTheOwnersData() async throws {
        let document = try await Self.openAPI()
        let paths = try #require(document["paths"] as? [String: [String: Any]])
        var operations: [(method: String, path: String)] = []
        // The live event stream never ends: its isolation is checked on its own (liveEventsReachOnlyTheirUser).
        // The first-run setup, like sign-up, has no owner to protect yet (firstRunSetupNeedsTheCodeAndHappensOnce).
        for (path, entries) in paths where path.hasPrefix("/api/v1/") && !path.hasPrefix("/api/v1/auth/") && path != "/api/v1/events" && path != "/api/v1/setup" {
            for method in entries.keys where ["get", "put", "post", "patch", "delete"].contains(method) { operations.append((method, path)) }
        }
        operations.sort { ($0.path, $0.method) < ($1.path, $1.method) }
        #expect(operations.count >= 20)
        // JSON text (Sendable), parsed per request.
        let samples: [String: String] = [
            "PATCH /api/v1/me": #"{"display_name": "Renamed"}"#, "POST /api/v1/admin/users/{}/numbers": #"{"number": "+14155559999"}"#,
            "PUT /api/v1/settings": #"{"persona": "direct"}"#, "POST /api/v1/whitelist": #"{"pattern": "+14155558888"}"#,
            "PUT /api/v1/profiles/{}/verdict": #"{"verdict": "spam"}"#, "PATCH /api/v1/admin/users/{}": #"{"role": "user"}"#,
            "PUT /api/v1/admin/settings/{}": #"{"value": 1}"#,
        ]
        // Operations whose path names the owner's resource: the second user must not find it.
        let owned: Set<String> = [
            "DELETE /api/v1/me/numbers/{}", "DELETE /api/v1/whitelist/{}", "GET /api/v1/calls/{}", "DELETE /api/v1/calls/{}", "GET /api/v1/calls/{}/recording",
            "POST /api/v1/calls/{}/hangup", "POST /api/v1/calls/{}/takeover", "POST /api/v1/calls/{}/whitelist-caller",
        ]
        let markers = ["owner@example.com", "+14155550100", "+14155550123", "call-owner"]
        let walked = Mutex(0)
        for operation in operations {
            let key = Self.normalized(operation.method, operation.path)
            try await Self.withAPI(.sqlite) { client, store in
                let owner = try await Self.signUp(client, "owner@example.com")
                let intruder = try await Self.signUp(client, "intruder@example.com")
                try await store.platform.users.addNumber("+14155550100", to: owner.id)
                #expect(try await Self.call(client, .post, "/api/v1/whitelist", token: owner.access, json: ["pattern": "+14155550123"]).status == .created)
                let at = unixMilliseconds()
                let recording = try Self.writeRecording(store, userId: owner.id, name: "call-owner")
                // The controls of a live call need it in progress (held by another instance, "t": the command goes on the bus).
                let live = key == "POST /api/v1/calls/{}/hangup" || key == "POST /api/v1/calls/{}/takeover"
                try await store.platform.records.apply([
                    CallEvent(callId: "call-owner", sequence: 1, callStartedAt: at, at: at, instance: "t", change: .started(userId: owner.id, caller: "+15550001111", callee: "+14155550100")),
                    CallEvent(callId: "call-owner", sequence: 2, callStartedAt: at, at: at, instance: "t", change: .recording(path: recording)),
                ] + (live ? [] : [CallEvent(callId: "call-owner", sequence: 3, callStartedAt: at, at: at + 1000, instance: "t", change: .ended(outcome: "caller_hung_up", reason: "bye"))]))
                let isAdmin = operation.path.hasPrefix("/api/v1/admin/")
                if isAdmin { try await store.platform.users.update(id: owner.id, .init(role: .admin)) }
                if key == "DELETE /api/v1/me/totp" || key == "POST /api/v1/me/totp/verify" {
                    // Both need a two-factor set-up of their own user in the right state; the code is computed below.
                    for token in [owner.access, intruder.access] { _ = try await Self.call(client, .post, "/api/v1/me/totp", token: token) }
                }
                let path = operation.path
                    .replacingOccurrences(of: "/me/numbers/{number}", with: "/me/numbers/%2B14155550100")
                    .replacingOccurrences(of: "/whitelist/{pattern}", with: "/whitelist/%2B14155550123")
                    .replacingOccurrences(of: "/profiles/{number}", with: "/profiles/%2B14155550123")
                    .replacingOccurrences(of: "/calls/{id}", with: "/calls/call-owner")
                    .replacingOccurrences(of: "/admin/users/{id}", with: "/admin/users/\(intruder.id)")
                    .replacingOccurrences(of: "/admin/settings/{key}", with: "/admin/settings/feature.walk")
                #expect(!path.contains("{"), "no value for a parameter of \(operation.path)")
                let query = key == "GET /api/v1/whitelist/check" ? "?number=%2B14155550123" : ""
                let method = HTTPRequest.Method(rawValue: operation.method.uppercased())!
                let needsBody = ["POST", "PUT", "PATCH"].contains(method.rawValue) || key == "DELETE /api/v1/me/totp"
                let sample = samples[key].flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }?.mapValues { Optional($0) }
                if needsBody && sample == nil && !["POST /api/v1/me/totp", "POST /api/v1/whitelist/import", "DELETE /api/v1/me/totp", "POST /api/v1/me/totp/verify", "POST /api/v1/calls/{}/hangup", "POST /api/v1/calls/{}/takeover", "POST /api/v1/calls/{}/whitelist-caller"].contains(key) {
                    Issue.record("no sample body for \(key): add one to the walk")
                    return
                }
                func body(for token: String) async throws -> [String: Any?]? {
                    // A number can have one owner: each user asks for their own.
                    guard key == "DELETE /api/v1/me/totp" || key == "POST /api/v1/me/totp/verify" else { return sample }
                    let account = try await store.platform.users.account(id: token == owner.access ? owner.id : intruder.id)
                    let secret = await store.platform.cache.get("totp-pending:\(account!.id)") ?? account?.totpSecret ?? ""
                    if key == "DELETE /api/v1/me/totp" { try await store.platform.users.update(id: account!.id, .init(totpSecret: secret)) }
                    return ["code": String(format: "%06d", TOTP(secret: secret).compute())]
                }
                let raw = key == "POST /api/v1/whitelist/import" ? "Name,Phone\nA,+14155557777\n" : nil
                let second = try await Self.call(client, method, path + query, token: intruder.access, json: try await body(for: intruder.access), raw: raw)
                if owned.contains(key) || isAdmin {
                    #expect([.forbidden, .notFound].contains(second.status), "\(key) as the second user: \(second.status) \(second.text)")
                } else {
                    #expect((200..<300).contains(second.status.code), "\(key) as the second user on their own data: \(second.status) \(second.text)")
                }
                // The number the second user asked about comes back to them; nothing else of the owner's may.
                let shown = second.text.replacingOccurrences(of: #""number":"+14155550123""#, with: "")
                for marker in markers { #expect(!shown.contains(marker), "\(key) showed the second user \(marker): \(second.text)") }
                let first = try await Self.call(client, method, path + query, token: owner.access, json: try await body(for: owner.access), raw: raw)
                #expect((200..<300).contains(first.status.code), "\(key) as the owner: \(first.status) \(first.text)")
                if key == "GET /api/v1/whitelist/check" { #expect(first["decision"] as? String == "allow" && second["decision"] as? String == "unknown") }
                walked.withLock { $0 += 1 }
            }
        }
        #expect(walked.withLock { $0 } == operations.count)
    }

    /// A small WAV file in the user's recordings folder; returns its path.
    static func writeRecording(_ store: StoreService, userId: String, name: String) throws -> String {
        let folder = store.platform.recordings.root + "/users/" + userId
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let path = folder + "/" + name + ".wav"
        let samples = (0..<8000).map { Int16(3000 * sin(Double($0) * 2 * .pi * 440 / 8000)) }
        var buffer = ByteBuffer()
        WAVFile(sampleRate: 8000, samples: samples).write(to: &buffer)
        try Data(buffer: buffer).write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test(.timeLimit(.minutes(2)))
    func recordingsWithRangesDeletionExportAndRetention() async throws {
        try await Self.withAPI(.sqlite) { client, store in
            let alice = try await Self.signUp(client, "alice@example.com")
            let path = try Self.writeRecording(store, userId: alice.id, name: "call-1")
            let size = try #require(try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int)
            let now = unixMilliseconds()
            try await store.platform.records.apply([
                CallEvent(callId: "call-1", sequence: 1, callStartedAt: now, at: now, instance: "t", change: .started(userId: alice.id, caller: "+15550001111", callee: "demo")),
                CallEvent(callId: "call-1", sequence: 2, callStartedAt: now, at: now, instance: "t", change: .turn(CallTurn(turn: 1, at: now, callerText: "hi", replyText: "Who is calling?"))),
                CallEvent(callId: "call-1", sequence: 3, callStartedAt: now, at: now, instance: "t", change: .recording(path: path)),
                CallEvent(callId: "in-progress", sequence: 1, callStartedAt: now, at: now, instance: "t", change: .started(userId: alice.id, caller: "+15550003333", callee: "demo")),
                CallEvent(callId: "old", sequence: 1, callStartedAt: now - 3 * 86_400_000, at: now, instance: "t", change: .started(userId: alice.id, caller: "+15550002222", callee: "demo")),
            ])
            let whole = try await Self.call(client, .get, "/api/v1/calls/call-1/recording", token: alice.access)
            #expect(whole.status == .ok && whole.headers[.acceptRanges] == "bytes" && whole.headers[.contentType] == "audio/wav")
            var headers = HTTPFields()
            headers[.authorization] = "Bearer \(alice.access)"
            headers[.range] = "bytes=0-99"
            let first = try await client.executeRequest(uri: "/api/v1/calls/call-1/recording", method: .get, headers: headers, body: nil)
            #expect(first.status == .partialContent && first.body.readableBytes == 100 && first.headers[.contentRange] == "bytes 0-99/\(size)")
            #expect(first.body.getString(at: 0, length: 4) == "RIFF")
            headers[.range] = "bytes=-10"
            let tail = try await client.executeRequest(uri: "/api/v1/calls/call-1/recording", method: .get, headers: headers, body: nil)
            #expect(tail.status == .partialContent && tail.body.readableBytes == 10 && tail.headers[.contentRange] == "bytes \(size - 10)-\(size - 1)/\(size)")
            headers[.range] = "bytes=\(size)-"
            let beyond = try await client.executeRequest(uri: "/api/v1/calls/call-1/recording", method: .get, headers: headers, body: nil)
            #expect(beyond.status == .rangeNotSatisfiable && beyond.headers[.contentRange] == "bytes */\(size)")
            #expect(try await Self.call(client, .get, "/api/v1/calls/old/recording", token: alice.access).status == .notFound, "no recording")

            // The export is a tar archive that tar reads: account, each call with its turns, the recording and the
            // transcript. It streams calls a page at a time: 150 more calls make it cross a page boundary.
            let transcript = store.platform.recordings.root + "/users/\(alice.id)/call-1.txt"
            try Data("Call call-1\n[00:00] Assistant: Who is calling?\n".utf8).write(to: URL(fileURLWithPath: transcript))
            try await store.platform.records.apply(
                [CallEvent(callId: "call-1", sequence: 4, callStartedAt: now, at: now, instance: "t", change: .transcript(path: transcript))]
                    + (0..<150).map { CallEvent(callId: "bulk-\($0)", sequence: 1, callStartedAt: now - 1000, at: now, instance: "t", change: .started(userId: alice.id, caller: "+15550004444", callee: "demo")) }
            )
            let export = try await client.executeRequest(uri: "/api/v1/me/export", method: .get, headers: [.authorization: "Bearer \(alice.access)"], body: nil)
            #expect(export.status == .ok && export.headers[.contentType] == "application/x-tar")
            let folder = NSTemporaryDirectory() + "answer-ninja-export-\(UInt32.random(in: 0 ... .max))"
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: folder) }
            try Data(buffer: export.body).write(to: URL(fileURLWithPath: folder + "/export.tar"))
            let untar = try await PeerEnvironment.run("/usr/bin/tar", ["-xf", folder + "/export.tar", "-C", folder])
            #expect(untar.status == 0, "\(untar.output)")
            let account = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: folder + "/answer-ninja-export/account.json"))) as? [String: Any]
            #expect(account?["email"] as? String == "alice@example.com")
            let calls = try FileManager.default.contentsOfDirectory(atPath: folder + "/answer-ninja-export/calls")
            #expect(calls.count == 153 && calls.contains("bulk-0.json") && calls.contains("bulk-149.json") && calls.contains("in-progress.json"))
            let call = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: folder + "/answer-ninja-export/calls/call-1.json"))) as? [String: Any]
            #expect((call?["turns"] as? [[String: Any]])?.first?["reply_text"] as? String == "Who is calling?")
            #expect(try Data(contentsOf: URL(fileURLWithPath: folder + "/answer-ninja-export/recordings/call-1.wav")) == Data(contentsOf: URL(fileURLWithPath: path)))
            #expect(try Data(contentsOf: URL(fileURLWithPath: folder + "/answer-ninja-export/transcripts/call-1.txt")) == Data(contentsOf: URL(fileURLWithPath: transcript)))

            // Retention: with one day kept, the three-day-old call goes.
            #expect(try await Self.call(client, .put, "/api/v1/settings", token: alice.access, json: ["retention_days": 1]).status == .ok)
            #expect(try await StoreService.applyRetention(store.platform, now: now) == 1)
            #expect(try await store.platform.records.record(id: "old") == nil)
            #expect(try await store.platform.records.record(id: "call-1") != nil)

            // A call in progress cannot be deleted (its next change would bring it back); an ended one can, and its
            // recording leaves the disk with it.
            #expect(try await Self.call(client, .delete, "/api/v1/calls/in-progress", token: alice.access).errorCode == "call_in_progress")
            try await store.platform.records.apply([CallEvent(callId: "call-1", sequence: 5, callStartedAt: now, at: now + 5000, instance: "t", change: .ended(outcome: "caller_hung_up", reason: "bye"))])
            #expect(try await Self.call(client, .delete, "/api/v1/calls/call-1", token: alice.access).status == .noContent)
            #expect(!FileManager.default.fileExists(atPath: path) && !FileManager.default.fileExists(atPath: transcript), "the recording and the transcript left the disk")
            #expect(try await Self.call(client, .delete, "/api/v1/calls/call-1", token: alice.access).status == .notFound)
        }
    }
}
