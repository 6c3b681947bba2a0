import CHiredis
import Foundation

/// Where Redis is and how long to wait for it.
public struct RedisSettings: Sendable, Equatable {
    public var host: String
    public var port: Int
    public var database: Int
    /// `redisConnectWithTimeout`.
    public var connectTimeout: Duration
    /// `redisSetTimeout`: a command not answered in this time fails (a hung server is noticed in this time).
    public var commandTimeout: Duration
    /// `AUTH` after connecting: the URL's password (and user, for Redis 6 ACLs).
    public var user: String?
    public var password: String?

    public init(host: String = "127.0.0.1", port: Int = 6379, database: Int = 0, connectTimeout: Duration = .milliseconds(500), commandTimeout: Duration = .milliseconds(250)) {
        self.host = host
        self.port = port
        self.database = database
        self.connectTimeout = connectTimeout
        self.commandTimeout = commandTimeout
    }

    /// `redis://host:port/db`.
    public init(url: String) throws(StoreError) {
        guard let components = URLComponents(string: url), components.scheme == "redis", let host = components.host, !host.isEmpty else {
            throw StoreError(code: .init("redis_url"), message: "not a redis://host:port/db URL: \(url) (TLS needs a sidecar: docs/store.md)")
        }
        let path = components.path.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        guard path.isEmpty || Int(path) != nil else { throw StoreError(code: .init("redis_url"), message: "the database in \(url) is not a number") }
        self.init(host: host, port: components.port ?? 6379, database: Int(path) ?? 0)
        password = components.password?.removingPercentEncoding
        user = components.user?.removingPercentEncoding.flatMap { $0.isEmpty ? nil : $0 }
    }
}

/// A Redis reply.
public enum RedisReply: Sendable, Equatable {
    case string(String)
    case integer(Int)
    case array([RedisReply])
    case null
    case status(String)
    case error(String)

    public var string: String? {
        switch self {
        case .string(let value), .status(let value): value
        default: nil
        }
    }
    public var integer: Int? { if case .integer(let value) = self { value } else { nil } }
}

/// The one owner of a hiredis `redisContext*` (CONVENTIONS.md §12), blocking, used by one thread at a time. After
/// any I/O error hiredis leaves the context unusable: the connection reports `isBroken` and is replaced.
final class RedisConnection {
    private let context: UnsafeMutablePointer<redisContext>
    private(set) var isBroken = false

    init(settings: RedisSettings) throws(StoreError) {
        guard let context = redisConnectWithTimeout(settings.host, Int32(settings.port), Self.timeval(settings.connectTimeout)) else {
            throw .unavailable("hiredis could not allocate a context")
        }
        guard context.pointee.err == 0 else {
            let message = Self.message(context)
            redisFree(context)
            throw .unavailable("cannot connect to Redis at \(settings.host):\(settings.port): \(message)")
        }
        self.context = context
        redisSetTimeout(context, Self.timeval(settings.commandTimeout))
        redisEnableKeepAlive(context)
        if let password = settings.password {
            let reply = try command(["AUTH"] + (settings.user.map { [$0] } ?? []) + [password])
            if case .error(let message) = reply { throw .unavailable("Redis AUTH: \(message)") }
        }
        if settings.database != 0 {
            let reply = try command(["SELECT", String(settings.database)])
            if case .error(let message) = reply { throw .unavailable("Redis SELECT \(settings.database): \(message)") }
        }
    }

    deinit { redisFree(context) }

    /// Sends one command (`redisCommandArgv`: binary-safe, not variadic) and waits for its reply, at most the
    /// command timeout.
    func command(_ arguments: [String]) throws(StoreError) -> RedisReply {
        let raw = Self.withArguments(arguments) { argv, lengths in redisCommandArgv(context, Int32(arguments.count), argv, lengths) }
        return try reply(raw)
    }

    /// Waits for the next pushed reply (a subscriber's messages); with no timeout set it blocks until one comes or
    /// the socket is shut down.
    func nextReply() throws(StoreError) -> RedisReply {
        var raw: UnsafeMutableRawPointer?
        guard redisGetReply(context, &raw) == REDIS_OK else {
            isBroken = true
            throw .unavailable("Redis: \(Self.message(context))")
        }
        return try reply(raw)
    }

    /// Removes the command timeout (a subscriber waits for messages as long as it takes).
    func waitWithoutTimeout() {
        redisSetTimeout(context, Self.timeval(.zero))
    }

    /// Makes a blocked `nextReply` return (from another thread; the socket is shut down, not closed).
    var socket: Int32 { context.pointee.fd }

    private func reply(_ raw: UnsafeMutableRawPointer?) throws(StoreError) -> RedisReply {
        guard let raw else {
            isBroken = true
            throw .unavailable("Redis: \(Self.message(context))")
        }
        defer { freeReplyObject(raw) }
        return Self.convert(raw.assumingMemoryBound(to: redisReply.self))
    }

    private static func convert(_ reply: UnsafeMutablePointer<redisReply>) -> RedisReply {
        let value = reply.pointee
        func text() -> String {
            guard let bytes = value.str else { return "" }
            return String(decoding: UnsafeRawBufferPointer(start: bytes, count: Int(value.len)), as: UTF8.self)
        }
        switch value.type {
        case REDIS_REPLY_STRING: return .string(text())
        case REDIS_REPLY_STATUS: return .status(text())
        case REDIS_REPLY_ERROR: return .error(text())
        case REDIS_REPLY_INTEGER: return .integer(Int(value.integer))
        case REDIS_REPLY_ARRAY:
            return .array((0..<Int(value.elements)).compactMap { index in value.element[index].map(convert) })
        default: return .null
        }
    }

    private static func message(_ context: UnsafeMutablePointer<redisContext>) -> String {
        withUnsafeBytes(of: context.pointee.errstr) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
    }

    private static func timeval(_ duration: Duration) -> timeval {
        let (seconds, attoseconds) = duration.components
        return Glibc.timeval(tv_sec: Int(seconds), tv_usec: Int(attoseconds / 1_000_000_000_000))
    }

    private static func withArguments<R>(_ arguments: [String], _ body: (UnsafeMutablePointer<UnsafePointer<CChar>?>, UnsafePointer<Int>) -> R) -> R {
        let copies = arguments.map { argument -> (UnsafeMutablePointer<CChar>, Int) in
            let bytes = Array(argument.utf8)
            let copy = UnsafeMutablePointer<CChar>.allocate(capacity: max(1, bytes.count))
            bytes.withUnsafeBytes { UnsafeMutableRawPointer(copy).copyMemory(from: $0.baseAddress ?? UnsafeRawPointer(copy), byteCount: bytes.count) }
            return (copy, bytes.count)
        }
        defer { copies.forEach { $0.0.deallocate() } }
        var pointers: [UnsafePointer<CChar>?] = copies.map { UnsafePointer($0.0) }
        let lengths = copies.map(\.1)
        return pointers.withUnsafeMutableBufferPointer { argv in
            lengths.withUnsafeBufferPointer { body(argv.baseAddress!, $0.baseAddress!) }
        }
    }
}
