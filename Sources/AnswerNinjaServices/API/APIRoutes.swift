import AnswerNinjaCore
import Foundation
import Hummingbird
import HummingbirdOTP
import Logging
import NIOCore
import Screening
import ServiceLifecycle
import Store

/// The platform API under `/api/v1` (docs/api/openapi.yaml, written by hand and checked against this route table
/// by a test): users and sign-in, numbers, settings, the smart whitelist, caller profiles, call records and admin.
/// Every endpoint but sign-up, sign-in and refresh needs an access token, and a user only ever sees their own data.
public final class APIRoutes: Sendable {
    let platform: Platform
    let auth: APIAuth
    let configuration: NinjaConfiguration
    /// This process's gateway, when it has the role: live-call controls go straight to it.
    let gatewayControl: GatewayControl
    static let prefix = "/api/v1"
    /// Request bodies above this are refused (a contacts import is the largest).
    static let maximumBody = 2 << 20

    public init(platform: Platform, configuration: NinjaConfiguration, gatewayControl: GatewayControl = GatewayControl()) async {
        self.platform = platform
        self.configuration = configuration
        self.gatewayControl = gatewayControl
        auth = await APIAuth(platform: platform, bcryptCost: configuration.api.bcryptCost)
    }

    public func close() async { await auth.close() }

    func register(on router: Router<NinjaRequestContext>) {
        let api = router.group(RouterPath(Self.prefix)).add(middleware: APIErrorMiddleware())
        api.post("setup") { request, context in try await self.setUp(request, context) }
        api.post("auth/signup") { request, context in try await self.signUp(request, context) }
        api.post("auth/login") { request, context in try await self.signIn(request, context) }
        api.post("auth/refresh") { request, context in try await self.refresh(request, context) }
        api.post("auth/logout") { request, context in try await self.signOut(request, context) }

        api.get("me") { request, context in try await self.me(request, context) }
        api.patch("me") { request, context in try await self.updateMe(request, context) }
        api.delete("me") { request, context in try await self.deleteMe(request, context) }
        api.post("me/totp") { request, context in try await self.startTOTP(request, context) }
        api.post("me/totp/verify") { request, context in try await self.verifyTOTP(request, context) }
        api.delete("me/totp") { request, context in try await self.stopTOTP(request, context) }
        api.get("me/numbers") { request, context in try await self.numbers(request, context) }
        api.get("me/webhook") { request, context in try await self.webhook(request, context) }
        api.delete("me/numbers/:number") { request, context in try await self.removeNumber(request, context) }

        api.get("settings") { request, context in try await self.settings(request, context) }
        api.put("settings") { request, context in try await self.replaceSettings(request, context) }

        api.get("whitelist") { request, context in try await self.whitelist(request, context) }
        api.post("whitelist") { request, context in try await self.addEntry(request, context) }
        api.delete("whitelist/:pattern") { request, context in try await self.removeEntry(request, context) }
        api.post("whitelist/import") { request, context in try await self.importContacts(request, context) }
        api.get("whitelist/check") { request, context in try await self.check(request, context) }

        api.get("profiles/:number") { request, context in try await self.profile(request, context) }
        api.put("profiles/:number/verdict") { request, context in try await self.verdict(request, context) }

        api.get("calls") { request, context in try await self.calls(request, context) }
        api.get("calls/:id") { request, context in try await self.call(request, context) }
        api.delete("calls/:id") { request, context in try await self.deleteCall(request, context) }
        api.get("calls/:id/recording") { request, context in try await self.recording(request, context) }
        api.post("calls/:id/hangup") { request, context in try await self.control(.hangup, request, context) }
        api.post("calls/:id/takeover") { request, context in try await self.control(.takeover, request, context) }
        api.post("calls/:id/whitelist-caller") { request, context in try await self.whitelistCaller(request, context) }
        api.get("events") { request, context in try await self.events(request, context) }
        api.get("me/export") { request, context in try await self.export(request, context) }

        api.get("admin/users") { request, context in try await self.adminUsers(request, context) }
        api.patch("admin/users/:id") { request, context in try await self.adminUpdateUser(request, context) }
        api.post("admin/users/:id/numbers") { request, context in try await self.adminAssignNumber(request, context) }
        api.get("admin/audit") { request, context in try await self.adminAudit(request, context) }
        api.put("admin/settings/:key") { request, context in try await self.adminSetting(request, context) }
    }

    // MARK: Bodies and answers

    static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return decoder
    }()

    func body<T: Decodable>(_ request: Request, as type: T.Type) async throws -> T {
        let buffer = try await bytes(request)
        guard buffer.readableBytes > 0 else { throw APIError.badRequest("a JSON body is required", code: "invalid_json") }
        do {
            return try Self.decoder.decode(T.self, from: buffer)
        } catch let error as DecodingError {
            throw APIError.badRequest(APIErrorMiddleware<NinjaRequestContext>.describe(error), code: "invalid_json")
        }
    }

    func bytes(_ request: Request) async throws -> ByteBuffer {
        do {
            return try await request.body.collect(upTo: Self.maximumBody)
        } catch {
            throw APIError(.contentTooLarge, "too_large", "the body is over \(Self.maximumBody / 1024) KiB")
        }
    }

    func json<T: Encodable>(_ value: T, _ status: HTTPResponse.Status = .ok) throws -> Response {
        try HTTPRoutes.jsonResponse(value, status: status)
    }

    func noContent() -> Response { Response(status: .noContent) }

    func limit(_ request: Request, default value: Int = 50) throws -> Int {
        guard let text = request.uri.queryParameters.get("limit") else { return value }
        guard let number = Int(text), (1...200).contains(number) else { throw APIError.badRequest("limit must be a whole number from 1 to 200") }
        return number
    }

    func parameter(_ context: NinjaRequestContext, _ name: String) throws -> String {
        guard let value = context.parameters.get(name) else { throw APIError.badRequest("\(name) is missing") }
        return value.removingPercentEncoding ?? value
    }

    func account(_ principal: Principal) async throws -> UserAccount {
        guard let account = try await platform.users.account(id: principal.userId) else {
            throw APIError(.unauthorized, "invalid_token", "this account no longer exists")
        }
        return account
    }

    func admin(_ request: Request) async throws -> Principal {
        let principal = try await auth.principal(request)
        // The role is read again, not trusted from the token: a demoted admin loses access at once.
        guard try await account(principal).role == .admin else { throw APIError.forbidden }
        return principal
    }

    func normalizer(for account: UserAccount) throws -> PhoneNumberNormalizer {
        let settings = UserSettings(stored: account.settings)
        return try PhoneNumberNormalizer(region: settings.region ?? configuration.api.defaultRegion)
    }

    func number(_ text: String, for account: UserAccount) throws -> E164Number {
        let normalizer = try normalizer(for: account)
        do {
            return try normalizer.normalize(text)
        } catch {
            throw APIError.badRequest(error.message, code: "invalid_number")
        }
    }

    // MARK: Users and sign-in

    struct SignUp: Decodable {
        var email: String
        var password: String
        var displayName: String?
    }

    struct SignIn: Decodable {
        var email: String
        var password: String
        var totp: String?
    }

    struct RefreshBody: Decodable {
        var refreshToken: String
    }

    struct UserView: Encodable {
        var id: String
        var email: String?
        var displayName: String
        var role: String
        var totpEnabled: Bool
        var forwardingTarget: String?
        var numbers: [String]
        var createdAt: String

        init(_ account: UserAccount) {
            id = account.id
            email = account.email
            displayName = account.displayName
            role = account.role.rawValue
            totpEnabled = account.totpSecret != nil
            forwardingTarget = account.forwardingTarget
            numbers = account.numbers
            createdAt = account.createdAt
        }
    }

    struct Session: Encodable {
        var user: UserView
        var accessToken: String
        var tokenType: String
        var expiresIn: Int64
        var refreshToken: String

        init(_ account: UserAccount, _ tokens: APIAuth.Tokens) {
            user = UserView(account)
            accessToken = tokens.accessToken
            tokenType = tokens.tokenType
            expiresIn = tokens.expiresIn
            refreshToken = tokens.refreshToken
        }
    }

    static func validEmail(_ email: String) -> Bool {
        let parts = email.split(separator: "@", omittingEmptySubsequences: false)
        return email.count <= 254 && parts.count == 2 && !parts[0].isEmpty && parts[1].contains(".") && !email.contains(where: \.isWhitespace)
    }

    func signUp(_ request: Request, _ context: NinjaRequestContext) async throws -> Response {
        let body = try await body(request, as: SignUp.self)
        let account = try await signUp(email: body.email, password: body.password, displayName: body.displayName, clientAddress: context.clientAddress)
        return try json(Session(account, try await auth.issue(for: account)), .created)
    }

    /// Sign-up, for the API and the dashboard: at most 20 an hour from one client address (each costs a bcrypt
    /// hash), the account's fields checked, the email not taken. The new account is a user owning no number.
    func signUp(email: String, password: String, displayName: String?, clientAddress: String) async throws -> UserAccount {
        guard await platform.cache.hit("signup:address:\(clientAddress)", window: .seconds(3600)) <= 20 else {
            var error = APIError(.tooManyRequests, "rate_limited", "too many sign-ups from this address; try again later")
            error.headers[.retryAfter] = "3600"
            throw error
        }
        let name = try Self.accountName(email: email, password: password, displayName: displayName)
        guard try await platform.users.account(email: email) == nil else { throw Self.emailTaken }
        return try await platform.users.create(email: email, displayName: name, passwordHash: try await auth.hash(password))
    }

    static let emailTaken = APIError(.conflict, "email_taken", "an account with this email exists")

    /// The checks of a new account's email, password and name (sign-up and setup); the name to use (the email's
    /// part before `@` when none is given).
    static func accountName(email: String, password: String, displayName: String?) throws -> String {
        guard validEmail(email) else { throw APIError.badRequest("email is not an email address", code: "invalid_email") }
        guard (10...128).contains(password.count) else { throw APIError.badRequest("password must be 10 to 128 characters", code: "weak_password") }
        let name = displayName ?? String(email.split(separator: "@").first ?? "")
        guard (1...100).contains(name.count) else { throw APIError.badRequest("display_name must be 1 to 100 characters") }
        return name
    }

    struct SetupBody: Decodable {
        var setupCode: String
        var email: String
        var password: String
        var displayName: String?
    }

    /// `POST /api/v1/setup`: the first-run setup without a browser.
    func setUp(_ request: Request, _ context: NinjaRequestContext) async throws -> Response {
        let body = try await body(request, as: SetupBody.self)
        let account = try await claimOwner(
            code: body.setupCode, email: body.email, password: body.password, displayName: body.displayName, clientAddress: context.clientAddress
        )
        return try json(Session(account, try await auth.issue(for: account)), .created)
    }

    /// The first-run setup, for the API and the dashboard: with the setup code `serve` printed, the first person makes
    /// themselves the install's owner (an admin; the demo user's numbers and calls become theirs), once per install.
    /// Wrong codes are limited to ten an hour from one client address, but the right code always passes: behind a
    /// proxy every client shares an address, and junk posts must not lock the owner out (80 bits are not guessed).
    func claimOwner(code: String, email: String, password: String, displayName: String?, clientAddress: String) async throws -> UserAccount {
        guard try await !platform.users.hasOwner() else { throw Self.alreadySetUp }
        guard OwnerSetup.matches(code, secret: platform.jwtSecret) else {
            guard await platform.cache.hit("setup:address:\(clientAddress)", window: .seconds(3600)) <= 10 else {
                var error = APIError(.tooManyRequests, "rate_limited", "too many wrong setup codes from this address; try again in an hour")
                error.headers[.retryAfter] = "3600"
                throw error
            }
            throw APIError(.forbidden, "invalid_setup_code", "the setup code is wrong: serve printed it when it started (its log has it as \"setup code\")")
        }
        let name = try Self.accountName(email: email, password: password, displayName: displayName)
        let hash = try await auth.hash(password)
        let account: UserAccount?
        do {
            account = try await platform.users.claimOwner(email: email, displayName: name, passwordHash: hash, demoAlias: configuration.demoAlias, at: unixMilliseconds())
        } catch let error as StoreError where error.code.rawValue == "constraint" {
            throw Self.emailTaken
        }
        guard let account else { throw Self.alreadySetUp }
        for number in account.numbers { await platform.cache.delete("owner:\(number)") }
        try await platform.audit.append(actor: account.id, action: "install.owner", target: account.id, detail: "{}", at: unixMilliseconds())
        return account
    }

    static let alreadySetUp = APIError(.conflict, "already_set_up", "this install has its owner already: sign in")

    func signIn(_ request: Request, _ context: NinjaRequestContext) async throws -> Response {
        let body = try await body(request, as: SignIn.self)
        let account = try await authenticate(email: body.email, password: body.password, totp: body.totp, clientAddress: context.clientAddress)
        return try json(Session(account, try await auth.issue(for: account)))
    }

    /// Sign-in's checks, for the API and the dashboard: failures limited per account and per client address (a
    /// minute's window), the password checked in the same time whether or not the account exists, and the TOTP code
    /// when the account has one.
    func authenticate(email address: String, password: String, totp: String?, clientAddress: String) async throws -> UserAccount {
        let email = address.lowercased()
        let keys = ["login:account:\(email)", "login:address:\(clientAddress)"]
        let window = Duration.seconds(60)
        for key in keys where Int(await platform.cache.get(key) ?? "0") ?? 0 >= configuration.api.loginLimit {
            var error = APIError(.tooManyRequests, "rate_limited", "too many failed sign-ins; wait a minute")
            error.headers[.retryAfter] = "60"
            throw error
        }
        func fail(_ error: APIError) async -> APIError {
            for key in keys { _ = await platform.cache.hit(key, window: window) }
            return error
        }
        let invalid = APIError(.unauthorized, "invalid_credentials", "the email or the password is wrong")
        guard let account = try await platform.users.account(email: email), let hash = account.passwordHash else {
            _ = try? await auth.hash(password)  // the same time whether or not the account exists
            throw await fail(invalid)
        }
        guard try await auth.verify(password, hash: hash) else { throw await fail(invalid) }
        if let secret = account.totpSecret {
            guard let code = totp, !code.isEmpty else { throw APIError(.unauthorized, "totp_required", "send the 6-digit code of your authenticator as totp") }
            guard APIAuth.totpMatches(code, secret: secret) else { throw await fail(APIError(.unauthorized, "invalid_totp", "the code is wrong or too old")) }
        }
        return account
    }

    func refresh(_ request: Request, _ context: NinjaRequestContext) async throws -> Response {
        let body = try await body(request, as: RefreshBody.self)
        switch try await platform.tokens.redeem(hash: APIAuth.digest(body.refreshToken), now: unixMilliseconds()) {
        case .valid(let userId, let family):
            guard let account = try await platform.users.account(id: userId) else { throw APIError(.unauthorized, "invalid_token", "this account no longer exists") }
            return try json(Session(account, try await auth.issue(for: account, family: family)))
        case .reused(let userId, _):
            context.logger.warning("refresh token reused: the family is revoked", metadata: ["user": "\(userId)"])
            throw APIError(.unauthorized, "token_reused", "this refresh token was used before: every session of this sign-in is ended; sign in again")
        case .expired: throw APIError(.unauthorized, "token_expired", "the refresh token has expired; sign in again")
        case .revoked, .unknown: throw APIError(.unauthorized, "invalid_token", "the refresh token is not valid; sign in again")
        }
    }

    func signOut(_ request: Request, _ context: NinjaRequestContext) async throws -> Response {
        let body = try await body(request, as: RefreshBody.self)
        let now = unixMilliseconds()
        switch try await platform.tokens.redeem(hash: APIAuth.digest(body.refreshToken), now: now) {
        case .valid(_, let family), .reused(_, let family): try await platform.tokens.revokeFamily(family, now: now)
        default: break
        }
        return noContent()
    }

    func me(_ request: Request, _ context: NinjaRequestContext) async throws -> Response {
        try json(UserView(try await account(try await auth.principal(request))))
    }

    struct MeChanges: Decodable {
        var displayName: String?
        var forwardingTarget: String?
        var password: String?
        var currentPassword: String?
    }

    func updateMe(_ request: Request, _ context: NinjaRequestContext) async throws -> Response {
        let account = try await account(try await auth.principal(request))
        let body = try await body(request, as: MeChanges.self)
        var changes = UserDirectory.Changes()
        if let name = body.displayName {
            guard (1...100).contains(name.count) else { throw APIError.badRequest("display_name must be 1 to 100 characters") }
            changes.displayName = name
        }
        if let target = body.forwardingTarget {
            changes.forwardingTarget = try Self.forwardingTarget(target, normalizer: try normalizer(for: account))
        }
        if let password = body.password {
            guard let current = body.currentPassword, let hash = account.passwordHash, try await auth.verify(current, hash: hash) else {
                throw APIError(.forbidden, "wrong_password", "current_password is missing or wrong")
            }
            guard (10...128).contains(password.count) else { throw APIError.badRequest("password must be 10 to 128 characters", code: "weak_password") }
            changes.passwordHash = try await auth.hash(password)
            try await platform.tokens.revokeAll(userId: account.id, now: unixMilliseconds())
            try await platform.sessions.revokeAll(userId: account.id, now: unixMilliseconds())
        }
        let updated = try await platform.users.update(id: account.id, changes)
        await platform.cache.delete("user-settings:\(account.id)")
        return try json(UserView(updated ?? account))
    }

    /// A SIP URI of a registered device (`sip:alice@...`) or a number, normalised to E.164.
    static func forwardingTarget(_ text: String, normalizer: PhoneNumberNormalizer) throws -> String {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if trimmed.lowercased().hasPrefix("sip:") || trimmed.lowercased().hasPrefix("sips:") {
            guard trimmed.contains("@") || trimmed.count > 4, !trimmed.contains(where: \.isWhitespace) else { throw APIError.badRequest("forwarding_target is not a SIP URI") }
            return trimmed
        }
        do {
            return try normalizer.normalize(trimmed).rawValue
        } catch {
            throw APIError.badRequest("forwarding_target must be a sip: URI or a phone number: \(error.message)", code: "invalid_number")
        }
    }

    func deleteMe(_ request: Request, _ context: NinjaRequestContext) async throws -> Response {
        try await deleteEverything(of: try await auth.principal(request).userId)
        return noContent()
    }

    /// Deletes a user with everything of theirs: account, numbers, settings, whitelist, sessions and tokens (the
    /// database cascades), calls, recordings and transcripts (the API's and the dashboard's).
    func deleteEverything(of userId: String) async throws {
        // The last admin stays: no one could administer the install, and its setup does not open again.
        guard try await !platform.users.isLastAdmin(id: userId) else {
            throw APIError(.conflict, "last_admin", "you are the only admin: make another user an admin before deleting your account")
        }
        let files = try await platform.records.files(userId: userId)
        let numbers = try await platform.users.numbers(of: userId)
        try await platform.users.delete(id: userId)
        for number in numbers { await platform.cache.delete("owner:\(number)") }
        await platform.recordings.remove(files)
        await platform.recordings.removeAll(of: userId)
    }

    struct TOTPStart: Encodable {
        var secret: String
        var otpauthUrl: String
    }

    struct Code: Decodable {
        var code: String
    }

    func startTOTP(_ request: Request, _ context: NinjaRequestContext) async throws -> Response {
        try json(try await startTOTP(for: try await account(try await auth.principal(request))), .created)
    }

    /// A new TOTP secret, pending for 10 minutes until a code made with it confirms it (the API's and the dashboard's).
    func startTOTP(for account: UserAccount) async throws -> TOTPStart {
        guard account.totpSecret == nil else { throw APIError(.conflict, "totp_enabled", "two-factor sign-in is on already; turn it off first") }
        let secret = String(APIAuth.randomToken().prefix(20))
        await platform.cache.set("totp-pending:\(account.id)", secret, ttl: .seconds(600))
        let url = TOTP(secret: secret).createAuthenticatorURL(label: account.email ?? account.id, issuer: "Answer Ninja")
        // The secret as an authenticator app takes it typed in: base32 of its bytes (the same as in the URL).
        return TOTPStart(secret: Base32.encode(Array(secret.utf8)), otpauthUrl: url)
    }

    func verifyTOTP(_ request: Request, _ context: NinjaRequestContext) async throws -> Response {
        let account = try await account(try await auth.principal(request))
        try await verifyTOTP(try await body(request, as: Code.self).code, for: account)
        return noContent()
    }

    /// Turns two-factor sign-in on with the pending secret, given a code made with it.
    func verifyTOTP(_ code: String, for account: UserAccount) async throws {
        try await limitCodeAttempts(account.id)
        guard let secret = await platform.cache.get("totp-pending:\(account.id)") else {
            throw APIError(.conflict, "totp_not_started", "start with POST /api/v1/me/totp (a started set-up lasts 10 minutes)")
        }
        guard APIAuth.totpMatches(code, secret: secret) else { throw APIError.badRequest("the code does not match", code: "invalid_totp") }
        try await platform.users.update(id: account.id, .init(totpSecret: secret))
        await platform.cache.delete("totp-pending:\(account.id)")
    }

    func stopTOTP(_ request: Request, _ context: NinjaRequestContext) async throws -> Response {
        let account = try await account(try await auth.principal(request))
        try await stopTOTP(try await body(request, as: Code.self).code, for: account)
        return noContent()
    }

    /// Turns two-factor sign-in off, given a current code.
    func stopTOTP(_ code: String, for account: UserAccount) async throws {
        try await limitCodeAttempts(account.id)
        guard let secret = account.totpSecret else { throw APIError(.conflict, "totp_disabled", "two-factor sign-in is off") }
        guard APIAuth.totpMatches(code, secret: secret) else { throw APIError.badRequest("the code does not match", code: "invalid_totp") }
        try await platform.users.clearTOTP(id: account.id)
    }

    /// Six-digit codes are guessable: at most 5 attempts a minute per account.
    func limitCodeAttempts(_ userId: String) async throws {
        guard await platform.cache.hit("totp-attempt:\(userId)", window: .seconds(60)) <= configuration.api.loginLimit else {
            var error = APIError(.tooManyRequests, "rate_limited", "too many codes tried; wait a minute")
            error.headers[.retryAfter] = "60"
            throw error
        }
    }

    // MARK: Numbers and settings

    struct Numbers: Encodable {
        var numbers: [String]
    }

    struct NumberBody: Decodable {
        var number: String
    }

    func numbers(_ request: Request, _ context: NinjaRequestContext) async throws -> Response {
        let principal = try await auth.principal(request)
        return try json(Numbers(numbers: try await platform.users.numbers(of: principal.userId)))
    }

    /// Numbers route calls, so a user cannot claim one: an admin assigns it (after checking the user holds it:
    /// a carrier's port-in, a trunk's DID list), and the assignment is audited. A user can give a number up.
    func adminAssignNumber(_ request: Request, _ context: NinjaRequestContext) async throws -> Response {
        let principal = try await admin(request)
        let body = try await body(request, as: NumberBody.self)
        return try json(Numbers(numbers: try await assignNumber(body.number, to: try parameter(context, "id"), by: principal)), .created)
    }

    /// An admin gives a user a number (E.164 in the user's region, or an alias such as `demo`), for the API and the
    /// dashboard: the user's numbers afterwards.
    func assignNumber(_ text: String, to userId: String, by principal: Principal) async throws -> [String] {
        guard let account = try await platform.users.account(id: userId) else { throw APIError.notFound("user") }
        let owned: String
        if text.first?.isLetter == true, let alias = try? NumberAlias(text) {
            owned = alias.rawValue
        } else {
            owned = try number(text, for: account).rawValue
        }
        do {
            try await platform.users.addNumber(owned, to: account.id)
        } catch let error as StoreError where error.code.rawValue == "constraint" {
            throw APIError(.conflict, "number_taken", "\(owned) belongs to another user")
        }
        await platform.cache.delete("owner:\(owned)")
        try await platform.audit.append(actor: principal.userId, action: "user.number", target: account.id, detail: #"{"number":"\#(owned)"}"#, at: unixMilliseconds())
        return try await platform.users.numbers(of: account.id)
    }

    func removeNumber(_ request: Request, _ context: NinjaRequestContext) async throws -> Response {
        let principal = try await auth.principal(request)
        let number = try parameter(context, "number")
        guard try await platform.users.removeNumber(number, from: principal.userId) else { throw APIError.notFound("number") }
        await platform.cache.delete("owner:\(number)")
        return noContent()
    }

    func settings(_ request: Request, _ context: NinjaRequestContext) async throws -> Response {
        let account = try await account(try await auth.principal(request))
        return try json(UserSettings(stored: account.settings))
    }

    func replaceSettings(_ request: Request, _ context: NinjaRequestContext) async throws -> Response {
        let principal = try await auth.principal(request)
        return try json(try await save(try await body(request, as: UserSettings.self), userId: principal.userId))
    }

    /// Checks and stores a user's settings (the API's and the dashboard's); the next call sees them.
    func save(_ settings: UserSettings, userId: String) async throws -> UserSettings {
        let problems = settings.problems()
        guard problems.isEmpty else { throw APIError.badRequest(problems.joined(separator: "; "), code: "invalid_settings") }
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = .sortedKeys
        let text = String(decoding: try encoder.encode(settings), as: UTF8.self)
        try await platform.users.update(id: userId, .init(settings: text))
        // Running gateways read settings through the cache: the next call sees the change.
        await platform.cache.delete("user-settings:\(userId)")
        return settings
    }

    // MARK: Whitelist

    struct EntryView: Encodable {
        var pattern: String
        var list: String
        var source: String
        var label: String?
        var reason: String?
        var expiresAt: Int64?
        var createdAt: Int64

        init(_ entry: WhitelistEntry) {
            pattern = entry.pattern.rawValue
            list = entry.list.rawValue
            source = entry.source.rawValue
            label = entry.label
            reason = entry.reason
            expiresAt = entry.expiresAt
            createdAt = entry.createdAt
        }
    }

    struct EntryPage: Encodable {
        var entries: [EntryView]
        var total: Int
        var limit: Int
        var offset: Int
    }

    struct NewEntry: Decodable {
        var pattern: String
        var list: String?
        var label: String?
        var reason: String?
        /// A temporary entry: it lapses after this many minutes.
        var expiresInMinutes: Int?
    }

    func whitelist(_ request: Request, _ context: NinjaRequestContext) async throws -> Response {
        let principal = try await auth.principal(request)
        let limit = try limit(request)
        let offset = Int(request.uri.queryParameters.get("offset") ?? "0") ?? -1
        guard offset >= 0 else { throw APIError.badRequest("offset must be a whole number, 0 or more") }
        var list: WhitelistEntry.List?
        if let text = request.uri.queryParameters.get("list") {
            guard let value = WhitelistEntry.List(rawValue: String(text)) else { throw APIError.badRequest("list must be allow or block") }
            list = value
        }
        let page = try await platform.whitelist.page(userId: principal.userId, list: list, limit: limit, offset: offset)
        return try json(EntryPage(entries: page.entries.map(EntryView.init), total: page.total, limit: limit, offset: offset))
    }

    func addEntry(_ request: Request, _ context: NinjaRequestContext) async throws -> Response {
        let account = try await account(try await auth.principal(request))
        return try json(EntryView(try await add(try await body(request, as: NewEntry.self), for: account)), .created)
    }

    /// Checks and saves a whitelist or block-list entry (the API's and the dashboard's).
    func add(_ body: NewEntry, for account: UserAccount) async throws -> WhitelistEntry {
        let pattern: WhitelistPattern
        do {
            pattern = body.pattern.hasSuffix("*") ? try WhitelistPattern(body.pattern) : try WhitelistPattern(number(body.pattern, for: account).rawValue)
        } catch let error as ScreeningError {
            throw APIError.badRequest(error.message, code: "invalid_pattern")
        }
        guard let list = WhitelistEntry.List(rawValue: body.list ?? "allow") else { throw APIError.badRequest("list must be allow or block") }
        if let minutes = body.expiresInMinutes, !(1...525_600).contains(minutes) { throw APIError.badRequest("expires_in_minutes must be from 1 to 525600") }
        if let label = body.label, label.count > 100 { throw APIError.badRequest("label must be at most 100 characters") }
        let now = unixMilliseconds()
        let entry = WhitelistEntry(
            pattern: pattern, list: list, source: body.expiresInMinutes == nil ? .manual : .temporary, label: body.label, reason: body.reason,
            expiresAt: body.expiresInMinutes.map { now + Int64($0) * 60_000 }, createdAt: now
        )
        try await platform.whitelist.save(entry, userId: account.id)
        await WhitelistCache.invalidate(account.id, cache: platform.cache)
        return entry
    }

    func removeEntry(_ request: Request, _ context: NinjaRequestContext) async throws -> Response {
        try await removeEntry(pattern: try parameter(context, "pattern"), userId: try await auth.principal(request).userId)
        return noContent()
    }

    func removeEntry(pattern: String, userId: String) async throws {
        guard try await platform.whitelist.delete(pattern: pattern, userId: userId) else { throw APIError.notFound("entry") }
        await WhitelistCache.invalidate(userId, cache: platform.cache)
    }

    struct ImportResult: Encodable {
        var read: Int
        var added: Int
        var problems: [ContactImport.Problem]
    }

    func importContacts(_ request: Request, _ context: NinjaRequestContext) async throws -> Response {
        let account = try await account(try await auth.principal(request))
        let buffer = try await bytes(request)
        guard let text = buffer.getString(at: buffer.readerIndex, length: buffer.readableBytes), !text.isEmpty else {
            throw APIError.badRequest("send the contacts as the body: a CSV export or a vCard file (UTF-8)")
        }
        return try json(try await importContacts(text, for: account))
    }

    /// Adds the contacts of a CSV export or a vCard file to the whitelist (the API's and the dashboard's).
    func importContacts(_ text: String, for account: UserAccount) async throws -> ImportResult {
        let parsed = ContactImport.parse(text, normalizer: try normalizer(for: account))
        let now = unixMilliseconds()
        let entries = try parsed.contacts.map { contact in
            WhitelistEntry(pattern: try WhitelistPattern(contact.number.rawValue), list: .allow, source: .contact, label: contact.name, createdAt: now)
        }
        let added = try await platform.whitelist.saveAll(entries, userId: account.id)
        await WhitelistCache.invalidate(account.id, cache: platform.cache)
        return ImportResult(read: parsed.contacts.count, added: added, problems: parsed.problems)
    }

    struct CheckResult: Encodable {
        var number: String
        var decision: String
        var reason: String
        var cached: Bool
    }

    /// The hot path (the gateway's question, asked over HTTP): a number written with its country code needs no
    /// region, so no database read happens before the cache answers.
    func check(_ request: Request, _ context: NinjaRequestContext) async throws -> Response {
        let principal = try await auth.principal(request)
        guard let text = request.uri.queryParameters.get("number").map({ String($0) }) else { throw APIError.badRequest("number is required") }
        let number: E164Number
        if text.trimmingCharacters(in: .whitespaces).hasPrefix("+") {
            do {
                number = try PhoneNumberNormalizer(region: "US").normalize(text)
            } catch {
                throw APIError.badRequest(error.message, code: "invalid_number")
            }
        } else {
            number = try self.number(text, for: try await account(principal))
        }
        let (decision, cached) = try await WhitelistCache.check(userId: principal.userId, number: number, platform: platform)
        return try json(CheckResult(number: number.rawValue, decision: decision.name, reason: decision.reason, cached: cached))
    }

    // MARK: Profiles

    struct ProfileView: Encodable {
        var number: String
        var score: Double
        var userVerdict: String?
        var signals: [SpamScore.Signal]
        var calls: Int
        var firstSeen: Int64?
        var lastSeen: Int64?
    }

    struct VerdictBody: Decodable {
        var verdict: String?
    }

    func profile(_ request: Request, _ context: NinjaRequestContext) async throws -> Response {
        let account = try await account(try await auth.principal(request))
        let number = try number(try parameter(context, "number"), for: account)
        return try json(try await profileView(number, key: try await platform.profileKey(for: number), userId: account.id))
    }

    func verdict(_ request: Request, _ context: NinjaRequestContext) async throws -> Response {
        let account = try await account(try await auth.principal(request))
        let number = try number(try parameter(context, "number"), for: account)
        return try json(try await setVerdict(try await body(request, as: VerdictBody.self).verdict, on: number, for: account))
    }

    /// The user's own word on a caller, spam or not (nil: none), and the profile it makes (the API's and the dashboard's).
    func setVerdict(_ verdict: String?, on number: E164Number, for account: UserAccount) async throws -> ProfileView {
        guard verdict == nil || ["spam", "not_spam"].contains(verdict!) else { throw APIError.badRequest("verdict must be spam, not_spam or null") }
        let key = try await platform.profileKey(for: number)
        try await platform.profiles.setVerdict(verdict, key: key, keyVersion: platform.callerKey.version, userId: account.id, now: unixMilliseconds())
        await platform.cache.delete("verdict:\(key):\(account.id)")
        return try await profileView(number, key: key, userId: account.id)
    }

    /// A caller's profile (stored under `key`) as `userId` sees it.
    func profileView(_ number: E164Number, key: String, userId: String) async throws -> ProfileView {
        let (profile, score) = try await platform.profiles.evaluate(key: key, userId: userId, now: unixMilliseconds())
        return ProfileView(
            number: number.rawValue, score: score.score, userVerdict: score.userVerdict, signals: score.signals, calls: profile?.calls ?? 0,
            firstSeen: profile?.firstSeen, lastSeen: profile?.lastSeen
        )
    }

    // MARK: Calls

    struct CallPage: Encodable {
        var calls: [CallRecord]
        /// Pass as `before` and `before_id` for the next page; null on the last. (Two calls can start in the same
        /// millisecond: the id breaks the tie, so a page boundary never skips one.)
        var nextBefore: Int64?
        var nextBeforeId: String?
    }

    func calls(_ request: Request, _ context: NinjaRequestContext) async throws -> Response {
        let principal = try await auth.principal(request)
        let limit = try limit(request)
        var before: Int64?
        if let text = request.uri.queryParameters.get("before") {
            guard let value = Int64(text), value > 0 else { throw APIError.badRequest("before must be a time in Unix milliseconds") }
            before = value
        }
        let beforeId = request.uri.queryParameters.get("before_id").map { String($0) }
        if beforeId != nil && before == nil { throw APIError.badRequest("before_id goes with before") }
        let records = try await platform.records.records(userId: principal.userId, limit: limit, before: before, beforeId: beforeId)
        let more = records.count == limit
        return try json(CallPage(calls: records, nextBefore: more ? records.last?.startedAt : nil, nextBeforeId: more ? records.last?.id : nil))
    }

    func call(_ request: Request, _ context: NinjaRequestContext) async throws -> Response {
        let principal = try await auth.principal(request)
        // Someone else's call is "not found", as a missing one is: ids do not leak.
        guard let record = try await platform.records.record(id: try parameter(context, "id")), record.userId == principal.userId else {
            throw APIError.notFound("call")
        }
        return try json(record)
    }

    func deleteCall(_ request: Request, _ context: NinjaRequestContext) async throws -> Response {
        let principal = try await auth.principal(request)
        let id = try parameter(context, "id")
        guard let record = try await platform.records.record(id: id), record.userId == principal.userId else { throw APIError.notFound("call") }
        // A call in progress would be recreated by its next change: it can be deleted once it has ended.
        guard record.state.isTerminal else { throw APIError(.conflict, "call_in_progress", "the call has not ended yet") }
        let result = try await platform.records.delete(id: id, userId: principal.userId)
        guard result.deleted else { throw APIError.notFound("call") }
        await platform.recordings.remove(result.files)
        return noContent()
    }

    /// The call's recording (audio/wav), with byte ranges (RFC 9110 §14) so that a player can seek.
    func recording(_ request: Request, _ context: NinjaRequestContext) async throws -> Response {
        try await recording(callId: try parameter(context, "id"), of: try await auth.principal(request), range: request.headers[.range])
    }

    /// A call's recording for its user (the API's and the dashboard's): someone else's call is not found.
    func recording(callId: String, of principal: Principal, range: String?) async throws -> Response {
        guard let record = try await platform.records.record(id: callId), record.userId == principal.userId else {
            throw APIError.notFound("call")
        }
        guard let path = record.recordingPath, let size = await platform.recordings.size(path) else { throw APIError.notFound("recording") }
        var headers = HTTPFields()
        headers[.contentType] = "audio/wav"
        headers[.acceptRanges] = "bytes"
        headers[.cacheControl] = "private, max-age=3600"
        switch ByteRange.parse(range, size: size) {
        case .whole:
            let bytes = try await platform.recordings.read(path)
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
        case .partial(let range):
            let bytes = try await platform.recordings.read(path, range: range)
            headers[.contentRange] = "bytes \(range.lowerBound)-\(range.upperBound)/\(size)"
            return Response(status: .partialContent, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
        case .unsatisfiable:
            var error = APIError(.rangeNotSatisfiable, "range_not_satisfiable", "the recording is \(size) bytes")
            error.headers[.contentRange] = "bytes */\(size)"
            throw error
        }
    }

    /// Everything of mine as a tar archive (GDPR art. 20), streamed: account, settings, whitelist, each call with its
    /// turns (JSON), recordings and transcripts. Calls are read a page at a time and files in 64 KiB chunks, so an
    /// export of years of calls holds one page in memory. An error after the first bytes ends the response early
    /// (a truncated archive, which `tar` reports), logged.
    func export(_ request: Request, _ context: NinjaRequestContext) async throws -> Response {
        try await export(try await account(try await auth.principal(request)), logger: context.logger)
    }

    /// Everything of `account`'s as a streamed tar archive (the API's and the dashboard's).
    func export(_ account: UserAccount, logger: Logger) async throws -> Response {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let head =
            TarArchive.entry("answer-ninja-export/account.json", Array(try encoder.encode(UserView(account))))
            + TarArchive.entry("answer-ninja-export/settings.json", Array(account.settings.utf8))
            + TarArchive.entry("answer-ninja-export/whitelist.json", Array(try encoder.encode(try await platform.whitelist.entries(userId: account.id).map(EntryView.init))))
        let platform = platform
        var headers = HTTPFields()
        headers[.contentType] = "application/x-tar"
        headers[.contentDisposition] = "attachment; filename=\"answer-ninja-export.tar\""
        return Response(status: .ok, headers: headers, body: ResponseBody { writer in
            do {
                try await writer.write(ByteBuffer(bytes: head))
                var cursor: (startedAt: Int64, id: String)?
                while true {
                    let calls = try await platform.records.everything(userId: account.id, limit: Self.exportPage, after: cursor)
                    for call in calls {
                        let name = TarArchive.safeName(call.id)
                        try await writer.write(ByteBuffer(bytes: TarArchive.entry("answer-ninja-export/calls/\(name).json", Array(try encoder.encode(call)))))
                        for (path, folder, suffix) in [(call.recordingPath, "recordings", "wav"), (call.transcriptPath, "transcripts", "txt")] {
                            guard let path, let size = await platform.recordings.size(path) else { continue }
                            try await writer.write(ByteBuffer(bytes: TarArchive.header("answer-ninja-export/\(folder)/\(name).\(suffix)", size: size)))
                            var offset = 0
                            while offset < size {
                                let chunk = try await platform.recordings.read(path, range: offset...min(size, offset + Self.exportChunk) - 1)
                                guard !chunk.isEmpty else { throw CocoaError(.fileReadCorruptFile) }
                                try await writer.write(ByteBuffer(bytes: chunk))
                                offset += chunk.count
                            }
                            try await writer.write(ByteBuffer(bytes: TarArchive.padding(after: size)))
                        }
                    }
                    guard calls.count == Self.exportPage, let last = calls.last else { break }
                    cursor = (last.startedAt, last.id)
                }
                try await writer.write(ByteBuffer(bytes: TarArchive.end))
                try await writer.finish(nil)
            } catch {
                logger.error("export cut short", metadata: ["user_id": "\(account.id)", "error": "\(error)"])
                throw error
            }
        })
    }

    /// Calls read per query, and bytes per file read, of the export.
    static let exportPage = 100
    static let exportChunk = 65_536

    struct WebhookView: Encodable {
        var url: String?
        /// The key of the `X-Answer-Ninja-Signature` header's HMAC.
        var secret: String
        var signature: String
    }

    /// My webhook: where it goes (settings `webhook_url`) and how to check that a request came from us.
    func webhook(_ request: Request, _ context: NinjaRequestContext) async throws -> Response {
        let account = try await account(try await auth.principal(request))
        return try json(WebhookView(
            url: UserSettings(stored: account.settings).webhookURL, secret: WebhookNotifier.secret(for: account.id, serverKey: platform.jwtSecret),
            signature: "X-Answer-Ninja-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, t + \".\" + body)>"
        ))
    }

    // MARK: Live calls

    struct ControlAnswer: Encodable {
        var callId: String
        var action: String
        /// `done` (hung up), `ringing` (the user's devices ring), or `forwarded` (sent to the gateway instance that
        /// holds the call, on the bus).
        var status: String
        var devices: Int?
    }

    /// Hang up a live call, or take it over (ring my devices; the first to answer is bridged to the caller).
    func control(_ action: CallControlCommand.Action, _ request: Request, _ context: NinjaRequestContext) async throws -> Response {
        try json(try await control(action, callId: try parameter(context, "id"), of: try await auth.principal(request)), .accepted)
    }

    /// Hangs up or takes over one of `principal`'s live calls (the API's and the dashboard's).
    func control(_ action: CallControlCommand.Action, callId id: String, of principal: Principal) async throws -> ControlAnswer {
        guard let record = try await platform.records.record(id: id), record.userId == principal.userId else { throw APIError.notFound("call") }
        guard !record.state.isTerminal else { throw APIError(.conflict, "call_ended", "the call has ended") }
        let command = CallControlCommand(action: action, callId: id, userId: principal.userId)
        guard record.instance == platform.journal.instance, let result = await gatewayControl.perform(command) else {
            // Another process's gateway holds the call: the command goes to it on the bus.
            await platform.cache.publish(CallControlCommand.channel(for: record.instance), String(decoding: try JSONEncoder().encode(command), as: UTF8.self))
            return ControlAnswer(callId: id, action: action.rawValue, status: "forwarded")
        }
        switch result {
        case .accepted(let devices):
            return ControlAnswer(callId: id, action: action.rawValue, status: action == .hangup ? "done" : "ringing", devices: action == .takeover ? devices : nil)
        case .notLive:
            throw APIError(.conflict, "not_live", "the call is not in progress")
        case .refused(let reason):
            let messages = [
                "already_bridged": "the call is already with you, or your devices are ringing for it",
                "no_device_target": "set forwarding_target to your device (sip:name@...) to take calls over",
                "no_device_registered": "none of your devices is registered",
            ]
            throw APIError(.conflict, reason, messages[reason] ?? reason)
        }
    }

    /// Puts a call's caller on my whitelist (a manual entry that says which call), from the live view or the history.
    func whitelistCaller(_ request: Request, _ context: NinjaRequestContext) async throws -> Response {
        try json(EntryView(try await whitelistCaller(callId: try parameter(context, "id"), of: try await auth.principal(request))), .created)
    }

    /// Puts the caller of one of `principal`'s calls on their whitelist (the API's and the dashboard's).
    func whitelistCaller(callId id: String, of principal: Principal) async throws -> WhitelistEntry {
        guard let record = try await platform.records.record(id: id), record.userId == principal.userId else { throw APIError.notFound("call") }
        guard case .number(let number)? = try? DialledNumber(userPart: record.caller) else {
            throw APIError(.conflict, "anonymous_caller", "the caller sent no number to whitelist")
        }
        let entry = WhitelistEntry(
            pattern: try WhitelistPattern(number.rawValue), list: .allow, source: .manual, reason: "whitelisted from call \(id)", createdAt: unixMilliseconds()
        )
        try await platform.whitelist.save(entry, userId: principal.userId)
        await WhitelistCache.invalidate(principal.userId, cache: platform.cache)
        return entry
    }

    /// My calls' live events as server-sent events (`text/event-stream`): each a `live-events` frame (docs/protocols/
    /// live-events.md) numbered from 1 on this connection, and a comment every 15 s to keep proxies from closing it.
    func events(_ request: Request, _ context: NinjaRequestContext) async throws -> Response {
        eventStream(of: try await auth.principal(request))
    }

    /// `principal`'s live events as server-sent events (the API's and the dashboard's).
    func eventStream(of principal: Principal) -> Response {
        let events = LiveEventBus(cache: platform.cache).events(of: principal.userId)
        let (lines, continuation) = AsyncStream.makeStream(of: String.self, bufferingPolicy: .bufferingNewest(1000))
        let relay = Task {
            var seq: UInt64 = 0
            for await event in events {
                seq += 1
                guard let text = try? ProtocolCodec.encode(ProtocolFrame(seq: seq, message: event)) else { continue }
                continuation.yield("event: \(event.type)\ndata: \(text)\n\n")
            }
        }
        let heartbeat = Task {
            while !Task.isCancelled {
                try await Task.sleep(for: Self.eventHeartbeat)
                continuation.yield(": keep-alive\n\n")
            }
        }
        continuation.onTermination = { _ in
            relay.cancel()
            heartbeat.cancel()
        }
        var headers = HTTPFields()
        headers[.contentType] = "text/event-stream"
        headers[.cacheControl] = "no-store"
        return Response(status: .ok, headers: headers, body: ResponseBody { writer in
            defer { continuation.finish() }
            try await writer.write(ByteBuffer(string: ": connected\n\n"))
            // A stream has no end of its own: on SIGTERM it ends at once (the browser reconnects elsewhere), so that the
            // server's graceful shutdown does not wait for the next keep-alive write to find a closed connection.
            try await withGracefulShutdownHandler {
                for await line in lines { try await writer.write(ByteBuffer(string: line)) }
            } onGracefulShutdown: {
                continuation.finish()
            }
            try await writer.finish(nil)
        })
    }

    static let eventHeartbeat = Duration.seconds(15)

    // MARK: Admin

    struct UserPage: Encodable {
        var users: [UserView]
        var nextAfter: String?
    }

    struct RoleChange: Decodable {
        var role: String
    }

    struct AuditPage: Encodable {
        var entries: [AuditLog.Entry]
    }

    struct SettingBody: Decodable {
        var value: JSONValue
    }

    func adminUsers(_ request: Request, _ context: NinjaRequestContext) async throws -> Response {
        _ = try await admin(request)
        let limit = try limit(request)
        let accounts = try await platform.users.accounts(limit: limit, after: request.uri.queryParameters.get("after").map { String($0) })
        return try json(UserPage(users: accounts.map(UserView.init), nextAfter: accounts.count == limit ? accounts.last?.id : nil))
    }

    func adminUpdateUser(_ request: Request, _ context: NinjaRequestContext) async throws -> Response {
        let principal = try await admin(request)
        let id = try parameter(context, "id")
        return try json(UserView(try await setRole(try await body(request, as: RoleChange.self).role, of: id, by: principal)))
    }

    /// An admin changes another user's role, audited (the API's and the dashboard's).
    func setRole(_ name: String, of id: String, by principal: Principal) async throws -> UserAccount {
        guard let role = UserAccount.Role(rawValue: name) else { throw APIError.badRequest("role must be user or admin") }
        // An admin cannot demote themselves: the last admin would lock everyone out of administration.
        guard id != principal.userId else { throw APIError(.conflict, "own_role", "an admin cannot change their own role; ask another admin") }
        guard try await platform.users.account(id: id) != nil else { throw APIError.notFound("user") }
        guard let updated = try await platform.users.update(id: id, .init(role: role)) else { throw APIError.notFound("user") }
        try await platform.audit.append(actor: principal.userId, action: "user.role", target: id, detail: #"{"role":"\#(role.rawValue)"}"#, at: unixMilliseconds())
        return updated
    }

    func adminAudit(_ request: Request, _ context: NinjaRequestContext) async throws -> Response {
        _ = try await admin(request)
        let limit = try limit(request)
        let before = request.uri.queryParameters.get("before").flatMap { Int64($0) } ?? .max
        return try json(AuditPage(entries: try await platform.audit.entries(limit: limit, before: before)))
    }

    func adminSetting(_ request: Request, _ context: NinjaRequestContext) async throws -> Response {
        let principal = try await admin(request)
        let key = try parameter(context, "key")
        guard key.range(of: "^[a-z][a-z0-9_.]{0,63}$", options: .regularExpression) != nil else {
            throw APIError.badRequest("a setting key is lowercase letters, digits, '_' and '.', starting with a letter")
        }
        let body = try await body(request, as: SettingBody.self)
        let text = try CommandOutputFormat.json(body.value)
        let now = unixMilliseconds()
        try await platform.settings.set(key, to: text, at: now)
        await platform.cache.delete("global-flags")
        try await platform.audit.append(actor: principal.userId, action: "settings.set", target: key, detail: text, at: now)
        return try json(["key": key, "value": text])
    }
}

/// Whitelist decisions cached for 10 minutes (the original's TTL), per user and number, under a per-user version
/// that every change bumps (so a change is seen at once without deleting keys one by one).
enum WhitelistCache {
    static func version(_ userId: String, cache: any SharedCache) async -> String {
        await cache.get("whitelist-version:\(userId)") ?? "0"
    }

    static func invalidate(_ userId: String, cache: any SharedCache) async {
        await cache.set("whitelist-version:\(userId)", String(unixMilliseconds()), ttl: .seconds(86_400))
    }

    /// The decision for `number`, and whether it came from the cache. Cached as `<name> <reason>`
    /// (`allow whitelist:contact:+14155550123`), which `decode` reads back.
    static func check(userId: String, number: E164Number, platform: Platform) async throws -> (decision: WhitelistDecision, cached: Bool) {
        let key = "whitelist:\(userId):\(await version(userId, cache: platform.cache)):\(number.rawValue)"
        if let hit = await platform.cache.get(key), let separator = hit.firstIndex(of: " ") {
            return (decode(String(hit[..<separator]), reason: String(hit[hit.index(after: separator)...])), true)
        }
        let decision = try await platform.whitelist.check(userId: userId, number: number, now: unixMilliseconds())
        await platform.cache.set(key, "\(decision.name) \(decision.reason)", ttl: CacheTTL.whitelist)
        return (decision, false)
    }

    /// A cached decision back to its `WhitelistDecision` (the rule's list, source and pattern; its reason reads the
    /// same as the one stored); `unknown` for anything else.
    static func decode(_ name: String, reason: String) -> WhitelistDecision {
        let parts = reason.split(separator: ":", maxSplits: 2).map(String.init)
        guard ["allow", "block"].contains(name), parts.count == 3, let source = WhitelistEntry.Source(rawValue: parts[1]),
            let pattern = try? WhitelistPattern(parts[2])
        else { return .unknown }
        let entry = WhitelistEntry(pattern: pattern, list: name == "block" ? .block : .allow, source: source, createdAt: 0)
        return name == "block" ? .block(entry) : .allow(entry)
    }
}
