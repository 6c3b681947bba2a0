import AnswerNinjaCore
import Conversation
import Foundation
import Hummingbird
import Mustache
import NIOCore
import Store

/// The web dashboard, served by the API role (and `serve`) beside `/api/v1`: sign-in, the live calls with their
/// transcripts as they grow (server-sent events, the session cookie, `Origin` checked) and their controls, the call
/// history with filters and pages, and each call's detail with its recording and latency waterfall. Pages are
/// rendered on the server (mustache); one small script (`/assets/live.js`) keeps the live page current. Everything
/// a page shows is the signed-in user's own: another user's call is "not found", as a missing one is.
final class DashboardRoutes: Sendable {
    let api: APIRoutes
    let security: DashboardSecurity
    let library: MustacheLibrary
    /// This process's readiness checks, for the admin page's health.
    let readiness: Readiness
    var platform: Platform { api.platform }

    init(api: APIRoutes, readiness: Readiness) throws {
        self.api = api
        self.readiness = readiness
        security = DashboardSecurity(platform: api.platform)
        library = try DashboardTemplates.library()
    }

    func register(on router: Router<NinjaRequestContext>) {
        router.get("/") { request, _ in try await self.home(request) }
        router.get("/login") { request, _ in try await self.signInPage(request) }
        router.post("/login") { request, context in try await self.signIn(request, context) }
        router.post("/logout") { request, _ in try await self.signOut(request) }
        router.get("/setup") { request, _ in try await self.setupPage(request) }
        router.post("/setup") { request, context in try await self.setUp(request, context) }
        router.get("/signup") { request, _ in try await self.signUpPage(request) }
        router.post("/signup") { request, context in try await self.signUp(request, context) }
        router.get("/calls/live") { request, _ in try await self.livePage(request) }
        router.get("/calls/live/card") { request, _ in try await self.liveCard(request) }
        router.get("/calls/live/events") { request, _ in try await self.liveEvents(request) }
        router.get("/calls") { request, _ in try await self.historyPage(request) }
        router.get("/calls/:id") { request, context in try await self.detailPage(request, context) }
        router.get("/calls/:id/recording") { request, context in try await self.recording(request, context) }
        router.post("/calls/:id/hangup") { request, context in try await self.control(.hangup, request, context) }
        router.post("/calls/:id/takeover") { request, context in try await self.control(.takeover, request, context) }
        router.post("/calls/:id/whitelist-caller") { request, context in try await self.whitelistCaller(request, context) }
        router.get("/whitelist") { request, _ in try await self.whitelistPage(request) }
        router.post("/whitelist") { request, _ in try await self.addEntry(request) }
        router.post("/whitelist/remove") { request, _ in try await self.removeEntry(request) }
        router.post("/whitelist/import") { request, _ in try await self.importContacts(request) }
        router.get("/profiles/:number") { request, context in try await self.profilePage(request, context) }
        router.post("/profiles/:number/verdict") { request, context in try await self.verdict(request, context) }
        router.get("/settings") { request, _ in try await self.settingsPage(request) }
        router.post("/settings") { request, _ in try await self.saveSettings(request) }
        router.get("/settings/export") { request, context in try await self.export(request, context) }
        router.post("/settings/delete") { request, _ in try await self.deleteEverything(request) }
        router.post("/settings/totp/start") { request, _ in try await self.startTOTP(request) }
        router.post("/settings/totp/verify") { request, _ in try await self.totp(request, turningOn: true) }
        router.post("/settings/totp/stop") { request, _ in try await self.totp(request, turningOn: false) }
        router.get("/admin") { request, _ in try await self.adminPage(request) }
        router.post("/admin/users/role") { request, _ in try await self.setRole(request) }
        router.post("/admin/users/number") { request, _ in try await self.assignNumber(request) }
        router.get("/assets/dashboard.css") { _, _ in Self.asset(DashboardAssets.css, type: "text/css; charset=utf-8") }
        router.get("/assets/live.js") { _, _ in Self.asset(DashboardAssets.liveScript, type: "text/javascript; charset=utf-8") }
    }

    // MARK: Sign-in

    func home(_ request: Request) async throws -> Response {
        if try await security.visitor(request) != nil { return Self.redirect("/calls/live") }
        return Self.redirect(try await platform.users.hasOwner() ? "/login" : "/setup")
    }

    func signInPage(_ request: Request, error: String? = nil, email: String = "", status: HTTPResponse.Status = .ok) async throws -> Response {
        if error == nil, try await security.visitor(request) != nil { return Self.redirect("/calls/live") }
        let message = request.uri.queryParameters.get("done") == "deleted" ? "Your account and everything of yours are deleted." : nil
        return try await signedOutPage(request, "Sign in", "signin", [
            "error": error, "email": email, "message": message, "needsSetup": !(try await platform.users.hasOwner()),
        ], status: status)
    }

    /// A page with a form for a visitor not signed in (sign-in, sign-up, setup). Its CSRF token is also a cookie
    /// (double submit: no session exists yet to bind one to); `signedOutForm` checks the post carries both, equal.
    /// The browser's token is kept when it has one, so that two such pages open in two tabs both post.
    func signedOutPage(
        _ request: Request, _ title: String, _ template: String, _ values: [String: Any?], status: HTTPResponse.Status
    ) async throws -> Response {
        let kept = request.cookies[DashboardSecurity.signInCookie]?.value ?? ""
        let token = kept.count == 43 && kept.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }) ? kept : APIAuth.randomToken()
        var values = values
        values["csrf"] = token
        var response = page(title, template, values, visitor: nil, status: status)
        response.setCookie(DashboardSecurity.cookie(DashboardSecurity.signInCookie, token, maxAge: 3600))
        return response
    }

    /// A signed-out post's form, and why it is refused: nil when its double-submit token and origin are right.
    func signedOutForm(_ request: Request) async throws -> (form: [String: String], refusal: String?) {
        let form = try await form(request)
        guard let cookie = request.cookies[DashboardSecurity.signInCookie] else {
            // A browser keeps a Secure cookie only from HTTPS, or over plain HTTP from localhost or 127.0.0.1.
            return (form, "Your browser did not keep the form's cookie. Over plain HTTP, browsers keep the dashboard's cookies only at http://localhost or http://127.0.0.1: open it there, or over HTTPS.")
        }
        let valid = DashboardSecurity.sameSite(request) && DashboardSecurity.same(form["csrf"], cookie.value)
        return (form, valid ? nil : Self.expired)
    }

    /// Signs `account` in: to `location` with a new session, the signed-out form's cookie cleared.
    func signedIn(_ account: UserAccount, to location: String) async throws -> Response {
        var response = Self.redirect(location)
        response.setCookie(try await security.startSession(for: account))
        response.setCookie(DashboardSecurity.cookie(DashboardSecurity.signInCookie, "", maxAge: 0))
        return response
    }

    static let expired = "The form expired. Please try again."

    func signIn(_ request: Request, _ context: NinjaRequestContext) async throws -> Response {
        let (form, refusal) = try await signedOutForm(request)
        let email = form["email"] ?? ""
        if let refusal { return try await signInPage(request, error: refusal, email: email, status: .forbidden) }
        do {
            let account = try await api.authenticate(email: email, password: form["password"] ?? "", totp: form["totp"], clientAddress: context.clientAddress)
            return try await signedIn(account, to: "/calls/live")
        } catch let error as APIError {
            let messages = [
                "invalid_credentials": "The email or the password is wrong.",
                "totp_required": "Enter the 6-digit code of your authenticator.",
                "invalid_totp": "The authenticator code is wrong or too old.",
                "rate_limited": "Too many failed sign-ins. Wait a minute, then try again.",
            ]
            return try await signInPage(request, error: messages[error.code] ?? error.message, email: email, status: error.status)
        }
    }

    // MARK: First-run setup and sign-up

    /// The first-run setup: while the install has no owner, the first visitor with the setup code `serve` printed
    /// makes themselves its admin (the demo user's numbers and calls become theirs). Afterwards it leads to sign-in.
    func setupPage(_ request: Request, error: String? = nil, fields: [String: String] = [:], status: HTTPResponse.Status = .ok) async throws -> Response {
        guard try await !platform.users.hasOwner() else { return Self.redirect("/login") }
        return try await signedOutPage(request, "Set up", "setup", [
            "error": error, "email": fields["email"] ?? "", "name": fields["name"] ?? "", "demo": api.configuration.demoAlias?.rawValue,
        ], status: status)
    }

    func setUp(_ request: Request, _ context: NinjaRequestContext) async throws -> Response {
        // An owner made meanwhile (`already_set_up`): the setup page itself sends the visitor to sign in.
        try await newAccount(
            request, page: { try await self.setupPage(request, error: $0, fields: $1, status: $2) },
            // An email with an account already (signed up before the setup): the owner's account is a new one.
            messages: ["email_taken": "That email has an account already: choose another email for the owner."]
        ) { form in
            let account = try await self.api.claimOwner(
                code: form["code"] ?? "", email: form["email"] ?? "", password: form["password"] ?? "", displayName: FormBody.text(form, "name"),
                clientAddress: context.clientAddress
            )
            return try await self.signedIn(account, to: "/calls/live?done=setup")
        }
    }

    /// A new account's form (setup, sign-up): its token and origin, the password typed twice alike, then `create`;
    /// `page` draws the form again with what was wrong (`messages` first, then `accountMessages`).
    func newAccount(
        _ request: Request, page: (String, [String: String], HTTPResponse.Status) async throws -> Response, messages: [String: String] = [:],
        create: ([String: String]) async throws -> Response
    ) async throws -> Response {
        let (form, refusal) = try await signedOutForm(request)
        if let refusal { return try await page(refusal, form, .forbidden) }
        guard form["password"] == form["password_again"] else { return try await page("The two passwords differ.", form, .badRequest) }
        do {
            return try await create(form)
        } catch let error as APIError {
            return try await page(messages[error.code] ?? Self.accountMessages[error.code] ?? error.message, form, error.status)
        }
    }

    static let accountMessages = [
        "invalid_setup_code": "The setup code is wrong. serve printed it when it started, on the line that begins with setup.",
        "invalid_email": "That is not an email address.",
        "weak_password": "The password must be 10 to 128 characters.",
        "email_taken": "An account with this email exists: sign in instead.",
        "rate_limited": "Too many tries from this address. Try again in an hour.",
        "invalid_request": "Your name must be 1 to 100 characters.",
    ]

    /// Sign-up, as the API's: the new account owns no number until an admin gives it one.
    func signUpPage(_ request: Request, error: String? = nil, fields: [String: String] = [:], status: HTTPResponse.Status = .ok) async throws -> Response {
        if error == nil, try await security.visitor(request) != nil { return Self.redirect("/calls/live") }
        return try await signedOutPage(request, "Sign up", "signup", ["error": error, "email": fields["email"] ?? "", "name": fields["name"] ?? ""], status: status)
    }

    func signUp(_ request: Request, _ context: NinjaRequestContext) async throws -> Response {
        try await newAccount(request, page: { try await self.signUpPage(request, error: $0, fields: $1, status: $2) }) { form in
            let account = try await self.api.signUp(
                email: form["email"] ?? "", password: form["password"] ?? "", displayName: FormBody.text(form, "name"), clientAddress: context.clientAddress
            )
            return try await self.signedIn(account, to: "/calls/live")
        }
    }

    func signOut(_ request: Request) async throws -> Response {
        try await posted(request) { _, _ in
            var response = Self.redirect("/login")
            response.setCookie(try await security.endSession(request))
            return response
        }
    }

    // MARK: Live calls

    func livePage(_ request: Request, message: String? = nil, error: String? = nil, status: HTTPResponse.Status = .ok) async throws -> Response {
        guard let visitor = try await security.visitor(request) else { return Self.redirect("/login") }
        let recent = try await platform.records.records(userId: visitor.account.id, limit: 50)
        var calls: [[String: Any]] = []
        for record in recent where !record.state.isTerminal {
            calls.append(Self.liveCall(try await platform.records.record(id: record.id) ?? record))
        }
        let done = request.uri.queryParameters.get("done").flatMap { Self.doneMessages[$0] }
        return page("Live calls", "live", [
            "calls": calls, "empty": calls.isEmpty, "message": message ?? done, "error": error, "onLive": true,
            "numbers": visitor.account.numbers.isEmpty ? nil : visitor.account.numbers.joined(separator: ", "), "noNumber": visitor.account.numbers.isEmpty,
        ], visitor: visitor, script: "/assets/live.js", status: status)
    }

    static let doneMessages = [
        "hangup": "The call is being hung up.", "takeover": "Your devices are ringing: answer to take the call.",
        "forwarded": "Sent to the gateway that holds the call.", "whitelist-caller": "The caller is on your whitelist now.",
        "setup": "Answer Ninja is yours: you are its admin. Calls to your numbers appear here as they happen.",
    ]

    /// One live call's card, for the live page's script when an event names a call it does not show yet. The call's
    /// record may not have reached the database yet: then the card is drawn from what the event said (`caller`),
    /// which the script got from this user's own event stream.
    func liveCard(_ request: Request) async throws -> Response {
        guard let visitor = try await security.visitor(request) else { return problem(nil, .unauthorized, "Signed out", "Sign in again.") }
        guard let id = request.uri.queryParameters.get("id").map({ String($0) }), !id.isEmpty else {
            return problem(visitor, .badRequest, "Bad request", "id is missing.")
        }
        let card: [String: Any]
        // Another user's call is drawn as an unknown one (from the request alone): the answer does not tell which ids exist.
        if let record = try await platform.records.record(id: id), record.userId == visitor.account.id {
            card = Self.liveCall(record)
        } else {
            let caller = request.uri.queryParameters.get("caller").map { String($0) } ?? "unknown"
            card = ["id": id, "path": Self.pathComponent(id), "caller": caller, "state": "screening", "decision": "", "reasons": "", "intent": "", "confidence": "", "lines": []]
        }
        var context = card
        context["csrf"] = visitor.csrf
        return Self.html(library.render(context, withTemplate: "live-call") ?? "", status: .ok)
    }

    /// The signed-in user's live events (server-sent events), for the live page. Refused to other sites.
    func liveEvents(_ request: Request) async throws -> Response {
        guard DashboardSecurity.sameSite(request) else { return Self.html("", status: .forbidden) }
        guard let visitor = try await security.visitor(request) else { return Self.html("", status: .unauthorized) }
        return api.eventStream(of: visitor.principal)
    }

    func control(_ action: CallControlCommand.Action, _ request: Request, _ context: NinjaRequestContext) async throws -> Response {
        try await posted(request) { visitor, _ in
            do {
                let answer = try await api.control(action, callId: try api.parameter(context, "id"), of: visitor.principal)
                return Self.redirect("/calls/live?done=\(answer.status == "forwarded" ? "forwarded" : action.rawValue)")
            } catch let error as APIError {
                return try await livePage(request, error: Self.controlMessages[error.code] ?? error.message, status: error.status)
            }
        }
    }

    static let controlMessages = [
        "call_ended": "That call has ended.", "not_live": "That call is not in progress.", "not_found": "No such call.",
        "already_bridged": "The call is already with you, or your devices are ringing for it.",
        "no_device_target": "Set your device as the forwarding target in the settings to take calls over.",
        "no_device_registered": "None of your devices is registered.",
        "anonymous_caller": "The caller sent no number to whitelist.",
    ]

    func whitelistCaller(_ request: Request, _ context: NinjaRequestContext) async throws -> Response {
        try await posted(request) { visitor, _ in
            do {
                _ = try await api.whitelistCaller(callId: try api.parameter(context, "id"), of: visitor.principal)
                return Self.redirect("/calls/live?done=whitelist-caller")
            } catch let error as APIError {
                return try await livePage(request, error: Self.controlMessages[error.code] ?? error.message, status: error.status)
            }
        }
    }

    // MARK: History and detail

    func historyPage(_ request: Request) async throws -> Response {
        guard let visitor = try await security.visitor(request) else { return Self.redirect("/login") }
        // A GET form sends a space as `+`, which the router's query parameters keep: read the query as a form.
        let query = FormBody.parse(request.uri.query ?? "")
        func value(_ name: String) -> String? { FormBody.text(query, name) }
        var filter = CallRecordFilter(outcome: value("outcome"), intent: value("intent"), number: value("number"), text: value("q"))
        var error: String?
        if let from = value("from") {
            if let day = Self.day(from) { filter.from = day } else { error = "From is not a date (YYYY-MM-DD)." }
        }
        if let to = value("to") {
            if let day = Self.day(to) { filter.until = day + 86_400_000 } else { error = "To is not a date (YYYY-MM-DD)." }
        }
        let before = value("before").flatMap(Int64.init)
        let limit = 25
        let records = error != nil ? [] : try await platform.records.records(
            userId: visitor.account.id, matching: filter, limit: limit, before: before, beforeId: before == nil ? nil : value("before_id")
        )
        var next: String?
        if records.count == limit, let last = records.last {
            let kept = ["from", "to", "outcome", "intent", "number", "q"].compactMap { name in value(name).map { (name, $0) } }
            next = "/calls?" + FormBody.encode(kept + [("before", String(last.startedAt)), ("before_id", last.id)])
        }
        let calls: [[String: Any]] = records.map { record in
            Self.present([
                "path": Self.pathComponent(record.id), "caller": record.caller, "started": Self.time(record.startedAt), "decision": record.decision ?? "pending",
                "outcome": record.outcome ?? record.state.rawValue, "intent": record.intent, "duration": Self.duration(record),
            ])
        }
        let outcomeOptions = try await platform.records.outcomes(userId: visitor.account.id).map { ["value": $0, "selected": $0 == filter.outcome] as [String: Any] }
        return page("History", "history", [
            "calls": calls, "next": next, "error": error, "onHistory": true, "outcomes": outcomeOptions,
            "from": value("from") ?? "", "to": value("to") ?? "", "intent": filter.intent ?? "", "number": filter.number ?? "", "q": filter.text ?? "",
            "count": calls.isEmpty ? "No calls match." : "\(calls.count) call\(calls.count == 1 ? "" : "s")\(next == nil ? "" : " on this page").",
        ], visitor: visitor, status: error == nil ? .ok : .badRequest)
    }

    func detailPage(_ request: Request, _ context: NinjaRequestContext) async throws -> Response {
        guard let visitor = try await security.visitor(request) else { return Self.redirect("/login") }
        let id = try api.parameter(context, "id")
        guard let record = try await platform.records.record(id: id), record.userId == visitor.account.id else {
            return problem(visitor, .notFound, "Not found", "No such call.")
        }
        var timeline: [[String: String]] = [["at": Self.time(record.startedAt), "what": "The call came in from \(record.caller)."]]
        if let decision = record.decision {
            timeline.append(["at": Self.time(record.startedAt), "what": "Decided: \(decision) (\(record.reasons.joined(separator: ", ")))."])
        }
        if let answered = record.answeredAt { timeline.append(["at": Self.time(answered), "what": "Answered."]) }
        for turn in record.turns {
            let what = turn.callerText.isEmpty ? "the assistant spoke" : "the caller said \"\(turn.callerText)\"; the assistant answered"
            timeline.append(["at": Self.time(turn.at), "what": "Turn \(turn.turn): \(what)."])
        }
        if let ended = record.endedAt { timeline.append(["at": Self.time(ended), "what": "Ended: \(record.outcome ?? "") (\(record.endReason ?? ""))."]) }
        let turns: [[String: Any]] = record.turns.map { ["callerText": $0.callerText, "replyText": $0.replyText] }
        return page("Call from \(record.caller)", "detail", [
            "path": Self.pathComponent(record.id), "caller": record.caller, "started": Self.time(record.startedAt), "duration": Self.duration(record),
            "decision": record.decision ?? "pending", "reasons": record.reasons.joined(separator: ", "), "intent": record.intent ?? "none",
            "confidence": record.intentConfidence.map { String(format: "(%.0f %%)", $0 * 100) } ?? "", "outcome": record.outcome ?? record.state.rawValue,
            "endReason": record.endReason ?? "", "recording": record.recordingPath != nil, "timeline": timeline, "turns": turns,
            "waterfall": LatencyWaterfall.svg(record.turns), "onHistory": true,
            "profile": record.caller.hasPrefix("+") ? Self.pathComponent(record.caller) : nil,
        ], visitor: visitor)
    }

    func recording(_ request: Request, _ context: NinjaRequestContext) async throws -> Response {
        guard let visitor = try await security.visitor(request) else { return problem(nil, .unauthorized, "Signed out", "Sign in again.") }
        do {
            return try await api.recording(callId: try api.parameter(context, "id"), of: visitor.principal, range: request.headers[.range])
        } catch let error as APIError {
            var response = problem(visitor, error.status, "Not available", error.message)
            for field in error.headers { response.headers.append(field) }
            return response
        }
    }

    // MARK: Whitelist

    func whitelistPage(
        _ request: Request, message: String? = nil, error: String? = nil, problems: [String] = [], status: HTTPResponse.Status = .ok
    ) async throws -> Response {
        guard let visitor = try await security.visitor(request) else { return Self.redirect("/login") }
        let limit = 50
        // Bounded: an offset near Int.max would overflow `offset + limit`.
        let offset = min(max(0, request.uri.queryParameters.get("offset").flatMap { Int($0) } ?? 0), 10_000_000)
        let listed = try await platform.whitelist.page(userId: visitor.account.id, limit: limit, offset: offset)
        let entries: [[String: Any]] = listed.entries.map { entry in
            Self.present([
                "pattern": entry.pattern.rawValue, "label": entry.label, "list": entry.list.rawValue, "source": entry.source.rawValue, "reason": entry.reason,
                "expires": entry.expiresAt.map(Self.time), "number": entry.pattern.rawValue.hasSuffix("*") ? nil : Self.pathComponent(entry.pattern.rawValue),
            ])
        }
        let done = request.uri.queryParameters.get("done").flatMap { Self.whitelistMessages[$0] }
        return page("Whitelist", "whitelist", [
            "entries": entries, "total": listed.total, "one": listed.total == 1, "next": offset + limit < listed.total ? "/whitelist?offset=\(offset + limit)" : nil,
            "message": message ?? done, "error": error, "problems": problems, "hasProblems": !problems.isEmpty, "onWhitelist": true,
        ], visitor: visitor, status: status)
    }

    static let whitelistMessages = ["added": "Added.", "removed": "Removed."]

    func addEntry(_ request: Request) async throws -> Response {
        try await posted(request) { visitor, form in
            let minutes = form["minutes"].flatMap { $0.isEmpty ? nil : $0 }
            guard minutes == nil || Int(minutes!) != nil else { return try await whitelistPage(request, error: "Minutes must be a whole number.", status: .badRequest) }
            let entry = APIRoutes.NewEntry(
                pattern: form["pattern"] ?? "", list: form["list"], label: form["label"].flatMap { $0.isEmpty ? nil : $0 }, reason: "added in the dashboard",
                expiresInMinutes: minutes.flatMap { Int($0) }
            )
            do {
                _ = try await api.add(entry, for: visitor.account)
                return Self.redirect("/whitelist?done=added")
            } catch let error as APIError {
                return try await whitelistPage(request, error: error.message, status: error.status)
            }
        }
    }

    func removeEntry(_ request: Request) async throws -> Response {
        try await posted(request) { visitor, form in
            do {
                try await api.removeEntry(pattern: form["pattern"] ?? "", userId: visitor.account.id)
                return Self.redirect("/whitelist?done=removed")
            } catch let error as APIError {
                return try await whitelistPage(request, error: error.message, status: error.status)
            }
        }
    }

    func importContacts(_ request: Request) async throws -> Response {
        try await posted(request) { visitor, form in
            let text = form["contacts"] ?? ""
            guard !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
                return try await whitelistPage(request, error: "Paste a CSV export or a vCard file first.", status: .badRequest)
            }
            do {
                let result = try await api.importContacts(text, for: visitor.account)
                let problems = result.problems.map { "line \($0.line): \($0.message)" }
                return try await whitelistPage(request, message: "Read \(result.read) contacts, added \(result.added).", problems: problems)
            } catch let error as APIError {
                return try await whitelistPage(request, error: error.message, status: error.status)
            }
        }
    }

    // MARK: Caller profiles

    func profilePage(_ request: Request, _ context: NinjaRequestContext, message: String? = nil) async throws -> Response {
        guard let visitor = try await security.visitor(request) else { return Self.redirect("/login") }
        do {
            let number = try api.number(try api.parameter(context, "number"), for: visitor.account)
            let view = try await api.profileView(number, key: try await platform.profileKey(for: number), userId: visitor.account.id)
            return profile(view, visitor: visitor, message: message)
        } catch let error as APIError {
            return problem(visitor, error.status, "Not a number", error.message)
        }
    }

    func verdict(_ request: Request, _ context: NinjaRequestContext) async throws -> Response {
        try await posted(request) { visitor, form in
            do {
                let number = try api.number(try api.parameter(context, "number"), for: visitor.account)
                let verdict = form["verdict"].flatMap { $0.isEmpty ? nil : $0 }
                let view = try await api.setVerdict(verdict, on: number, for: visitor.account)
                return profile(view, visitor: visitor, message: verdict == nil ? "Your verdict is forgotten." : "Saved: \(verdict == "spam" ? "spam" : "not spam").")
            } catch let error as APIError {
                return problem(visitor, error.status, "Not saved", error.message)
            }
        }
    }

    func profile(_ view: APIRoutes.ProfileView, visitor: DashboardSecurity.Visitor, message: String?) -> Response {
        let signals: [[String: String]] = view.signals.map {
            ["name": $0.name, "detail": $0.detail, "contribution": String(format: "%+.2f", $0.contribution)]
        }
        return page("Caller \(view.number)", "profile", [
            "number": view.number, "score": String(format: "%.2f", view.score), "calls": view.calls, "oneCall": view.calls == 1,
            "verdict": view.userVerdict.map { $0 == "spam" ? "spam" : "not spam" }, "signals": signals, "message": message, "onWhitelist": true,
        ], visitor: visitor)
    }

    // MARK: Settings

    static let weekdays = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]

    func settingsPage(_ request: Request) async throws -> Response {
        guard let visitor = try await security.visitor(request) else { return Self.redirect("/login") }
        let done = request.uri.queryParameters.get("done").flatMap { Self.settingsMessages[$0] }
        return settings(of: visitor, message: done)
    }

    static let settingsMessages = [
        "saved": "Saved: the next call uses these settings.", "totp-on": "Two-factor sign-in is on.", "totp-off": "Two-factor sign-in is off.",
    ]

    /// The settings page of `visitor`: their stored settings, or what they just submitted (`editing`) when it was
    /// refused.
    func settings(
        of visitor: DashboardSecurity.Visitor, editing: (settings: UserSettings, forwardingTarget: String?)? = nil, message: String? = nil,
        error: String? = nil, totp: APIRoutes.TOTPStart? = nil, status: HTTPResponse.Status = .ok
    ) -> Response {
        let settings = editing?.settings ?? UserSettings(stored: visitor.account.settings)
        let forwardingTarget = editing == nil ? visitor.account.forwardingTarget : editing?.forwardingTarget
        let personas = Persona.allCases.map { ["value": $0.rawValue, "selected": $0.rawValue == settings.persona] as [String: Any] }
        let days = (1...7).map { ["number": $0, "name": Self.weekdays[$0 - 1], "selected": settings.schedule?.days.contains($0) == true] as [String: Any] }
        return page("Settings", "settings", [
            "personas": personas, "greeting": settings.greeting, "recordingDisclosure": settings.recordingDisclosure, "aiEnabled": settings.aiEnabled,
            "challenge": settings.challenge, "timeWaster": settings.timeWaster, "days": days, "from": settings.schedule?.from, "to": settings.schedule?.to,
            "timeZone": settings.schedule?.timeZone, "blockThreshold": settings.blockThreshold, "reject": settings.blockAction == "reject",
            "bridge": settings.wantedTreatment == "bridge", "forwardingTarget": forwardingTarget, "webhookURL": settings.webhookURL,
            "retentionDays": settings.retentionDays, "region": settings.region, "message": message, "error": error, "onSettings": true,
            "totpOn": visitor.account.totpSecret != nil, "totpKey": totp?.secret, "totpURL": totp?.otpauthUrl,
        ], visitor: visitor, status: status)
    }

    func saveSettings(_ request: Request) async throws -> Response {
        try await posted(request) { visitor, form in
            func text(_ name: String) -> String? { FormBody.text(form, name) }
            var settings = UserSettings(stored: visitor.account.settings)
            var problems: [String] = []
            settings.persona = text("persona") ?? settings.persona
            settings.greeting = text("greeting")
            settings.recordingDisclosure = form["recording_disclosure"] == "on"
            settings.aiEnabled = form["ai_enabled"] == "on"
            settings.challenge = form["challenge"] == "on"
            settings.timeWaster = form["time_waster"] == "on"
            let days = (1...7).filter { form["day\($0)"] == "on" }
            if days.isEmpty && text("from") == nil && text("to") == nil {
                settings.schedule = nil
            } else {
                settings.schedule = .init(days: days, from: text("from") ?? "", to: text("to") ?? "", timeZone: text("time_zone") ?? "UTC")
            }
            if let threshold = text("block_threshold") {
                if let value = Double(threshold) { settings.blockThreshold = value } else { problems.append("the block threshold must be a number") }
            }
            settings.blockAction = text("block_action") ?? settings.blockAction
            settings.wantedTreatment = text("wanted_treatment") ?? settings.wantedTreatment
            settings.webhookURL = text("webhook_url")
            if let retention = text("retention_days") {
                if let value = Int(retention) { settings.retentionDays = value } else { problems.append("the days to keep calls must be a whole number") }
            }
            settings.region = text("region")?.uppercased()
            var target = visitor.account.forwardingTarget
            do {
                if let wanted = text("forwarding_target") { target = try APIRoutes.forwardingTarget(wanted, normalizer: try api.normalizer(for: visitor.account)) }
            } catch let error as APIError {
                problems.append(error.message)
            }
            problems += settings.problems()
            guard problems.isEmpty else {
                return self.settings(
                    of: visitor, editing: (settings, text("forwarding_target")), error: "Not saved: " + problems.joined(separator: "; ") + ".", status: .badRequest
                )
            }
            _ = try await api.save(settings, userId: visitor.account.id)
            if target != visitor.account.forwardingTarget, let target {
                try await platform.users.update(id: visitor.account.id, .init(forwardingTarget: target))
                await platform.cache.delete("user-settings:\(visitor.account.id)")
            }
            return Self.redirect("/settings?done=saved")
        }
    }

    /// Starts TOTP set-up: the settings page shows the key and asks for a code made with it.
    func startTOTP(_ request: Request) async throws -> Response {
        try await posted(request) { visitor, _ in
            do {
                return settings(of: visitor, totp: try await api.startTOTP(for: visitor.account))
            } catch let error as APIError {
                return settings(of: visitor, error: error.message, status: error.status)
            }
        }
    }

    /// Turns two-factor sign-in on (with the pending key) or off, given a code.
    func totp(_ request: Request, turningOn: Bool) async throws -> Response {
        try await posted(request) { visitor, form in
            do {
                if turningOn {
                    try await api.verifyTOTP(form["code"] ?? "", for: visitor.account)
                } else {
                    try await api.stopTOTP(form["code"] ?? "", for: visitor.account)
                }
                return Self.redirect("/settings?done=\(turningOn ? "totp-on" : "totp-off")")
            } catch let error as APIError {
                let message = error.code == "invalid_totp" ? "The code does not match. Nothing changed." : error.message
                return settings(of: visitor, error: message, status: error.status)
            }
        }
    }

    /// Everything of the user's, as the API's export gives it.
    func export(_ request: Request, _ context: NinjaRequestContext) async throws -> Response {
        guard let visitor = try await security.visitor(request) else { return Self.redirect("/login") }
        return try await api.export(visitor.account, logger: context.logger)
    }

    /// Deletes the account and everything of it, once the password is given again; the session goes with it.
    func deleteEverything(_ request: Request) async throws -> Response {
        try await posted(request) { visitor, form in
            guard let hash = visitor.account.passwordHash, try await api.auth.verify(form["password"] ?? "", hash: hash) else {
                return settings(of: visitor, error: "Nothing was deleted: the password is wrong.", status: .forbidden)
            }
            do {
                try await api.deleteEverything(of: visitor.account.id)
            } catch let error as APIError where error.code == "last_admin" {
                return settings(of: visitor, error: "Nothing was deleted: you are the only admin. Make another user an admin first.", status: error.status)
            }
            var response = Self.redirect("/login?done=deleted")
            response.setCookie(DashboardSecurity.cookie(DashboardSecurity.sessionCookie, "", maxAge: 0))
            return response
        }
    }

    // MARK: Admin

    /// System health, calls per hour and latency percentiles (from the call records) and the users; admins only
    /// (to anyone else the page does not exist).
    func adminPage(_ request: Request, error: String? = nil, status: HTTPResponse.Status = .ok) async throws -> Response {
        guard let visitor = try await security.visitor(request) else { return Self.redirect("/login") }
        guard visitor.account.role == .admin else { return problem(visitor, .notFound, "Not found", "There is no such page.") }
        let (ready, checks) = readiness.snapshot()
        let since = unixMilliseconds() - 24 * 3_600_000
        let hours = try await platform.records.callsPerHour(since: since)
        let turns = try await platform.records.turnLatencies(since: since)
        var latency: [[String: String]] = []
        for stage in LatencyWaterfall.stages.map(\.rawValue) + ["total"] {
            let values = turns.compactMap { turn in stage == "total" ? (turn.isEmpty ? nil : turn.values.reduce(0, +)) : turn[stage] }
                .filter { $0.isFinite && $0 >= 0 && $0 < 1e9 }.sorted()
            guard !values.isEmpty else { continue }
            func percentile(_ p: Double) -> String { "\(Int(values[min(values.count - 1, Int(Double(values.count) * p))].rounded())) ms" }
            latency.append(["stage": stage, "p50": percentile(0.5), "p95": percentile(0.95)])
        }
        let users: [[String: Any]] = try await platform.users.accounts(limit: 100, after: nil).map { account in
            Self.present([
                "email": account.email ?? "(no email)", "name": account.displayName, "role": account.role.rawValue, "id": account.id,
                "otherRole": account.role == .admin ? "user" : "admin", "isSelf": account.id == visitor.account.id,
                "numbers": account.numbers.isEmpty ? nil : account.numbers.joined(separator: ", "),
            ])
        }
        return page("Admin", "admin", [
            "overall": ready ? "Ready: every check passes." : "Not ready: a check fails.",
            "checks": checks.sorted { $0.key < $1.key }.map { ["name": $0.key, "state": $0.value.ready ? "ready" : "not ready", "detail": $0.value.detail] },
            "callsChart": Self.hourChart(hours, since: since), "callsTotal": hours.reduce(0) { $0 + $1.calls }, "turns": turns.count,
            "latency": latency, "users": users, "onAdmin": true, "error": error,
            "message": request.uri.queryParameters.get("done").flatMap { ["role": "The role is changed.", "number": "The number is given."][$0] },
        ], visitor: visitor, status: status)
    }

    /// An admin changes another user's role (audited by the API's operation).
    func setRole(_ request: Request) async throws -> Response {
        try await administered(request) { visitor, form in
            _ = try await api.setRole(form["role"] ?? "", of: form["id"] ?? "", by: visitor.principal)
            return "role"
        }
    }

    func assignNumber(_ request: Request) async throws -> Response {
        try await administered(request) { visitor, form in
            _ = try await api.assignNumber(FormBody.text(form, "number") ?? "", to: form["id"] ?? "", by: visitor.principal)
            return "number"
        }
    }

    /// An admin's form post: `body` does it and names what was done; another visitor gets "not found", as for the page.
    func administered(
        _ request: Request, _ body: (DashboardSecurity.Visitor, [String: String]) async throws -> String
    ) async throws -> Response {
        guard let visitor = try await security.visitor(request) else { return Self.redirect("/login") }
        guard visitor.account.role == .admin else { return problem(visitor, .notFound, "Not found", "There is no such page.") }
        guard let form = try await checked(request, visitor) else { return forbidden(visitor) }
        do {
            return Self.redirect("/admin?done=\(try await body(visitor, form))")
        } catch let error as APIError {
            return try await adminPage(request, error: error.message, status: error.status)
        }
    }

    /// The last 24 hours' calls as SVG bars, one per hour (empty hours too), with the counts in words.
    static func hourChart(_ hours: [(hour: Int64, calls: Int)], since: Int64) -> String {
        let first = since / 3_600_000 * 3_600_000
        let counts = (0..<25).map { index in hours.first { $0.hour == first + Int64(index) * 3_600_000 }?.calls ?? 0 }
        let highest = max(1, counts.max() ?? 1)
        var parts = [
            #"<svg id="calls-per-hour" class="chart" role="img" aria-labelledby="calls-title calls-description" viewBox="0 0 500 120" xmlns="http://www.w3.org/2000/svg">"#,
            #"<title id="calls-title">Calls per hour</title>"#,
            #"<desc id="calls-description">\#(counts.enumerated().filter { $0.element > 0 }.map { "\(time(first + Int64($0.offset) * 3_600_000)): \($0.element)" }.joined(separator: "; "))</desc>"#,
        ]
        for (index, count) in counts.enumerated() where count > 0 {
            let height = Double(count) / Double(highest) * 100
            parts.append(#"<rect class="bar" x="\#(index * 20)" y="\#(LatencyWaterfall.format(105 - height))" width="16" height="\#(LatencyWaterfall.format(height))"><title>\#(count)</title></rect>"#)
        }
        parts.append(#"<line x1="0" y1="105" x2="500" y2="105" class="axis"/></svg>"#)
        return parts.joined(separator: "\n")
    }

    // MARK: Rendering

    /// A page in the layout, with the dashboard's security headers.
    func page(
        _ title: String, _ template: String, _ values: [String: Any?], visitor: DashboardSecurity.Visitor?, script: String? = nil, status: HTTPResponse.Status = .ok
    ) -> Response {
        var context = Self.present(values)
        if let visitor { context["csrf"] = visitor.csrf }
        let content = library.render(context, withTemplate: template) ?? ""
        var layout = context
        layout["title"] = title
        layout["content"] = content
        layout["signedIn"] = visitor != nil
        layout["isAdmin"] = visitor?.account.role == .admin
        if let script { layout["script"] = script }
        return Self.html(library.render(layout, withTemplate: "layout") ?? "", status: status)
    }

    /// The values that are there: a nil would render as "nil" and open its section.
    static func present(_ values: [String: Any?]) -> [String: Any] {
        values.compactMapValues { $0 }
    }

    func problem(_ visitor: DashboardSecurity.Visitor?, _ status: HTTPResponse.Status, _ heading: String, _ message: String) -> Response {
        page(heading, "problem", ["heading": heading, "message": message], visitor: visitor, status: status)
    }

    func forbidden(_ visitor: DashboardSecurity.Visitor) -> Response {
        problem(visitor, .forbidden, "Refused", "This form expired or came from another site. Go back, reload the page and try again.")
    }

    /// A form post: `body` gets the signed-in user and the form when its CSRF token and origin are right; a visitor
    /// not signed in goes to the sign-in page, a post without the token or from another site gets 403.
    func posted(
        _ request: Request, _ body: (DashboardSecurity.Visitor, [String: String]) async throws -> Response
    ) async throws -> Response {
        guard let visitor = try await security.visitor(request) else { return Self.redirect("/login") }
        guard let form = try await checked(request, visitor) else { return forbidden(visitor) }
        return try await body(visitor, form)
    }

    /// The form of a post whose CSRF token and origin are right, or nil.
    func checked(_ request: Request, _ visitor: DashboardSecurity.Visitor) async throws -> [String: String]? {
        guard DashboardSecurity.sameSite(request) else { return nil }
        let form = try await form(request)
        return DashboardSecurity.same(form["csrf"], visitor.csrf) ? form : nil
    }

    func form(_ request: Request) async throws -> [String: String] {
        let buffer = try await request.body.collect(upTo: 64 * 1024)
        return FormBody.parse(String(buffer: buffer))
    }

    static func html(_ text: String, status: HTTPResponse.Status) -> Response {
        var headers = securityHeaders()
        headers[.contentType] = "text/html; charset=utf-8"
        headers[.cacheControl] = "no-store"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    static func redirect(_ location: String) -> Response {
        var headers = securityHeaders()
        headers[.location] = location
        return Response(status: .seeOther, headers: headers)
    }

    static func asset(_ text: String, type: String) -> Response {
        var headers = securityHeaders()
        headers[.contentType] = type
        headers[.cacheControl] = "public, max-age=300"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    static func securityHeaders() -> HTTPFields {
        var headers = HTTPFields()
        headers[.contentSecurityPolicy] = DashboardSecurity.contentSecurityPolicy
        headers[.xContentTypeOptions] = "nosniff"
        headers[.init("Referrer-Policy")!] = "same-origin"
        return headers
    }

    static func liveCall(_ record: CallRecord) -> [String: Any] {
        var lines: [[String: String]] = []
        for turn in record.turns {
            if !turn.callerText.isEmpty { lines.append(["speaker": "caller", "who": "Caller", "text": turn.callerText]) }
            if !turn.replyText.isEmpty { lines.append(["speaker": "assistant", "who": "Assistant", "text": turn.replyText]) }
        }
        return [
            "id": record.id, "path": pathComponent(record.id), "caller": record.caller, "state": record.state.rawValue, "decision": record.decision ?? "",
            "reasons": record.reasons.joined(separator: ", "), "intent": record.intent ?? "", "confidence": record.intentConfidence.map { String(format: "%.0f %%", $0 * 100) } ?? "",
            "lines": lines,
        ]
    }

    /// A call id as one path segment (ids hold `@` and dots; a `/` would split it).
    static func pathComponent(_ id: String) -> String {
        id.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "/"))) ?? id
    }

    /// `YYYY-MM-DD` (a UTC day) in Unix milliseconds, or nil.
    static func day(_ text: String) -> Int64? {
        let parts = text.split(separator: "-").compactMap { Int($0) }
        guard parts.count == 3, (1970...9999).contains(parts[0]), (1...12).contains(parts[1]), (1...31).contains(parts[2]) else { return nil }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        guard let date = calendar.date(from: DateComponents(year: parts[0], month: parts[1], day: parts[2])),
              calendar.component(.day, from: date) == parts[2]
        else { return nil }
        return Int64(date.timeIntervalSince1970 * 1000)
    }

    /// Unix milliseconds as `YYYY-MM-DD HH:MM:SS UTC`.
    static func time(_ milliseconds: Int64) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss 'UTC'"
        return formatter.string(from: Date(timeIntervalSince1970: Double(milliseconds) / 1000))
    }

    static func duration(_ record: CallRecord) -> String {
        guard let ended = record.endedAt else { return "in progress" }
        let seconds = max(0, Int((ended - record.startedAt) / 1000))
        return seconds >= 60 ? "\(seconds / 60) min \(seconds % 60) s" : "\(seconds) s"
    }
}
