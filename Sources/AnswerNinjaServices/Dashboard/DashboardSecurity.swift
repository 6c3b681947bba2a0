import AnswerNinjaCore
import Crypto
import Foundation
import Hummingbird
import Store

/// The dashboard's sessions and request checks. A session is a random token in a `__Host-` cookie (Secure, HttpOnly,
/// SameSite=Lax, Path=/), stored only as its hash (`WebSessionStore`). Every form post carries a CSRF token: bound
/// to the session (an HMAC of its token under the server's key) once signed in, and before that the sign-in form's
/// own double-submit cookie. A post or an event stream whose `Origin` or `Sec-Fetch-Site` names another site is
/// refused whatever it carries.
struct DashboardSecurity: Sendable {
    static let sessionCookie = "__Host-ninja_session"
    /// The sign-in form's double-submit token (no session exists yet to bind one to).
    static let signInCookie = "__Host-ninja_signin"
    static let sessionLifetime: Int64 = 12 * 3600
    /// `default-src 'self'`, no inline script or style, no framing, forms only to us.
    static let contentSecurityPolicy = "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; object-src 'none'"

    let sessions: WebSessionStore
    let users: UserDirectory
    let key: SymmetricKey

    init(platform: Platform) {
        sessions = platform.sessions
        users = platform.users
        key = SymmetricKey(data: platform.jwtSecret)
    }

    /// A signed-in visitor: their account, and the CSRF token their forms carry.
    struct Visitor: Sendable {
        var account: UserAccount
        var csrf: String
        var principal: Principal { Principal(userId: account.id, role: account.role) }
    }

    /// The visitor of a request with a live session cookie, or nil.
    func visitor(_ request: Request) async throws -> Visitor? {
        guard let token = request.cookies[Self.sessionCookie]?.value, !token.isEmpty,
              let userId = try await sessions.user(hash: APIAuth.digest(token), now: unixMilliseconds()),
              let account = try await users.account(id: userId)
        else { return nil }
        return Visitor(account: account, csrf: csrf(for: token))
    }

    /// Starts a session for `account`: the cookie to set.
    func startSession(for account: UserAccount) async throws -> Cookie {
        let token = APIAuth.randomToken()
        let now = unixMilliseconds()
        try await sessions.create(hash: APIAuth.digest(token), userId: account.id, createdAt: now, expiresAt: now + Self.sessionLifetime * 1000)
        return Self.cookie(Self.sessionCookie, token, maxAge: Int(Self.sessionLifetime))
    }

    /// Ends the request's session (if any): the cookie that clears it.
    func endSession(_ request: Request) async throws -> Cookie {
        if let token = request.cookies[Self.sessionCookie]?.value, !token.isEmpty {
            try await sessions.revoke(hash: APIAuth.digest(token), now: unixMilliseconds())
        }
        return Self.cookie(Self.sessionCookie, "", maxAge: 0)
    }

    /// The CSRF token of a session: HMAC-SHA256 of its token under the server's key, base64url.
    func csrf(for sessionToken: String) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Array("csrf:\(sessionToken)".utf8), using: key)
        return APIAuth.base64URL(Data(mac))
    }

    static func cookie(_ name: String, _ value: String, maxAge: Int) -> Cookie {
        Cookie(name: name, value: value, maxAge: maxAge, path: "/", secure: true, httpOnly: true, sameSite: .lax)
    }

    /// Whether `given` equals `expected`, in time that does not depend on where they differ; an empty expected
    /// token matches nothing.
    static func same(_ given: String?, _ expected: String) -> Bool {
        guard let given, !expected.isEmpty else { return false }
        return ConstantTime.equal(given, expected)
    }

    /// False when the browser says the request comes from another site: an `Origin` whose host is not the `Host`
    /// asked for, or `Sec-Fetch-Site` other than same-origin or none (typed in). Requests without either (same-origin
    /// GETs of older browsers, tools) pass: the session cookie is SameSite=Lax and posts need the CSRF token anyway.
    static func sameSite(_ request: Request) -> Bool {
        if let site = request.headers[.init("Sec-Fetch-Site")!], site != "same-origin", site != "none" { return false }
        guard let origin = request.headers[.origin] else { return true }
        guard let host = request.head.authority, let url = URL(string: origin), let originHost = url.host else { return false }
        let originAuthority = url.port.map { "\(originHost):\($0)" } ?? originHost
        return originAuthority.lowercased() == host.lowercased()
    }
}

/// An `application/x-www-form-urlencoded` body (HTML forms): `+` is a space, then percent-decoding. Repeated names:
/// the last wins.
enum FormBody {
    static func parse(_ text: String) -> [String: String] {
        var fields: [String: String] = [:]
        for pair in text.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ part: Substring) -> String { part.replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? "" }
            fields[decode(parts[0])] = parts.count > 1 ? decode(parts[1]) : ""
        }
        return fields
    }

    /// A field's value without the spaces around it; nil when there is none.
    static func text(_ fields: [String: String], _ name: String) -> String? {
        fields[name].map { $0.trimmingCharacters(in: .whitespaces) }.flatMap { $0.isEmpty ? nil : $0 }
    }

    /// The same form back: every character but letters, digits and `-._~` percent-encoded (a `+` too, which would
    /// read as a space).
    static func encode(_ fields: [(String, String)]) -> String {
        let safe = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~")
        func encoded(_ text: String) -> String { text.addingPercentEncoding(withAllowedCharacters: safe) ?? "" }
        return fields.map { encoded($0.0) + "=" + encoded($0.1) }.joined(separator: "&")
    }
}
