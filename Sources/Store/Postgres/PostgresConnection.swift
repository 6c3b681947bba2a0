import AnswerNinjaCore
import CPostgres
import Foundation

/// Connection settings for libpq, with the timeouts every connection carries (docs/store.md).
public struct PostgresSettings: Sendable, Equatable {
    /// A libpq URI (`postgresql://user@host:port/db?...`) or key/value string.
    public var url: String
    /// Connections in the pool, and threads: each connection has a thread of its own while it works.
    public var poolSize: Int
    /// libpq `connect_timeout`, whole seconds (libpq's unit; at least 2 it says).
    public var connectTimeoutSeconds: Int
    /// Server-side `statement_timeout`, sent as a start-up option.
    public var statementTimeout: Duration
    /// libpq `tcp_user_timeout`: how long sent data may stay unacknowledged before the connection is dropped (a host
    /// that vanished mid-query is noticed in this time, not after the kernel's 15 minutes of retransmission).
    public var tcpUserTimeout: Duration

    public init(url: String, poolSize: Int = 4, connectTimeoutSeconds: Int = 5, statementTimeout: Duration = .seconds(10), tcpUserTimeout: Duration = .seconds(10)) {
        self.url = url
        self.poolSize = poolSize
        self.connectTimeoutSeconds = connectTimeoutSeconds
        self.statementTimeout = statementTimeout
        self.tcpUserTimeout = tcpUserTimeout
    }

}

/// The one owner of a `PGconn*` (CONVENTIONS.md §12): connected in a throwing init, finished in deinit, used by
/// one thread at a time (the pool hands it out). Statements are prepared once per connection and kept by their
/// text; a connection found down before a statement resets (which forgets them).
final class PostgresConnection: SQLConnection {
    private let handle: OpaquePointer
    private var prepared: [String: String] = [:]

    init(settings: PostgresSettings) throws(StoreError) {
        let timeouts = (statement: Int64(settings.statementTimeout.milliseconds), tcp: Int64(settings.tcpUserTimeout.milliseconds))
        let keywords = ["dbname", "connect_timeout", "tcp_user_timeout", "options", "application_name", "keepalives", "keepalives_idle"]
        let values = [
            settings.url, String(max(2, settings.connectTimeoutSeconds)), String(timeouts.tcp), "-c statement_timeout=\(timeouts.statement)",
            "answer-ninja", "1", "30",
        ]
        // expand_dbname = 1: "dbname" holds the URI and the other keywords add to it.
        let connection = Self.withCStrings(keywords) { keywordPointers in
            Self.withCStrings(values) { valuePointers in PQconnectdbParams(keywordPointers, valuePointers, 1) }
        }
        guard let connection else { throw .unavailable("libpq could not allocate a connection") }
        guard PQstatus(connection) == CONNECTION_OK else {
            let message = String(cString: PQerrorMessage(connection)).trimmingCharacters(in: .whitespacesAndNewlines)
            PQfinish(connection)
            throw .unavailable("cannot connect to PostgreSQL: \(message)")
        }
        handle = connection
    }

    deinit { PQfinish(handle) }

    var isHealthy: Bool { PQstatus(handle) == CONNECTION_OK }

    func execute(_ sql: String) throws(StoreError) {
        try run { () throws(StoreError) in
            let result = PQexec(handle, sql)
            defer { PQclear(result) }
            try check(result, sql)
        }
    }

    @discardableResult
    func query(_ sql: String, _ parameters: [SQLValue]) throws(StoreError) -> [SQLRow] {
        try run { () throws(StoreError) -> [SQLRow] in
            let name = try statement(for: sql, count: parameters.count)
            // Text format for everything but blobs, which go as binary (bytea).
            let texts: [String?] = parameters.map { value in
                switch value {
                case .null, .blob: nil
                case .integer(let integer): String(integer)
                case .real(let real): real.isFinite ? "\(real)" : (real.isNaN ? "NaN" : (real > 0 ? "Infinity" : "-Infinity"))
                case .text(let text): text
                }
            }
            let formats: [Int32] = parameters.map { if case .blob = $0 { 1 } else { 0 } }
            let lengths: [Int32] = parameters.map { if case .blob(let bytes) = $0 { Int32(bytes.count) } else { 0 } }
            let result = Self.withParameterPointers(parameters, texts) { pointers in
                PQexecPrepared(handle, name, Int32(parameters.count), pointers, lengths, formats, 0)
            }
            defer { PQclear(result) }
            try check(result, sql)
            return Self.rows(of: result!)
        }
    }

    // MARK: Internals

    private func statement(for sql: String, count: Int) throws(StoreError) -> String {
        if let name = prepared[sql] { return name }
        let name = "s\(prepared.count)"
        let result = PQprepare(handle, name, sql, Int32(count), nil)
        defer { PQclear(result) }
        try check(result, sql)
        prepared[sql] = name
        return name
    }

    /// Runs `body` on a connection that is up (reset first if it went down since its last use: a server restart is
    /// noticed here). A statement that fails because the connection broke under it is not run again, since it may
    /// have committed before the break: the error reaches the caller (the journal replayer retries idempotently),
    /// and the connection is reset for the next statement.
    private func run<T>(_ body: () throws(StoreError) -> T) throws(StoreError) -> T {
        if PQstatus(handle) != CONNECTION_OK { try reset() }
        do {
            return try body()
        } catch {
            guard PQstatus(handle) != CONNECTION_OK else { throw error }
            try? reset()
            throw .unavailable("the connection was lost (\(error.message)); it will be re-established for the next statement")
        }
    }

    private func reset() throws(StoreError) {
        PQreset(handle)
        prepared.removeAll()
        guard PQstatus(handle) == CONNECTION_OK else {
            throw .unavailable("cannot reconnect to PostgreSQL: \(String(cString: PQerrorMessage(handle)).trimmingCharacters(in: .whitespacesAndNewlines))")
        }
    }

    private func check(_ result: OpaquePointer?, _ sql: String) throws(StoreError) {
        guard let result else {
            throw .unavailable(String(cString: PQerrorMessage(handle)).trimmingCharacters(in: .whitespacesAndNewlines))
        }
        let status = PQresultStatus(result)
        guard status != PGRES_COMMAND_OK, status != PGRES_TUPLES_OK else { return }
        let message = String(cString: PQresultErrorMessage(result)).trimmingCharacters(in: .whitespacesAndNewlines)
        let state = PQresultErrorField(result, Int32(UInt8(ascii: "C"))).map { String(cString: $0) } ?? ""
        if state.hasPrefix("23") { throw .constraint("\(message) [\(state)]") }
        if state.hasPrefix("08") || state == "57P01" || PQstatus(handle) != CONNECTION_OK { throw .unavailable("\(message) [\(state)]") }
        throw .postgres("\(message) [\(state)] in \"\(sql.prefix(80))\"")
    }

    /// Rows in text format, turned into values by column type: integers, floats, booleans and bytea become their
    /// kinds, everything else text.
    private static func rows(of result: OpaquePointer) -> [SQLRow] {
        let rowCount = PQntuples(result), columnCount = PQnfields(result)
        guard rowCount > 0 else { return [] }
        let types = (0..<columnCount).map { PQftype(result, $0) }
        var rows: [SQLRow] = []
        rows.reserveCapacity(Int(rowCount))
        for row in 0..<rowCount {
            var values: SQLRow = []
            values.reserveCapacity(Int(columnCount))
            for column in 0..<columnCount {
                guard PQgetisnull(result, row, column) == 0, let raw = PQgetvalue(result, row, column) else {
                    values.append(.null)
                    continue
                }
                let text = String(cString: raw)
                switch types[Int(column)] {
                case 20, 21, 23, 26: values.append(Int64(text).map(SQLValue.integer) ?? .text(text))  // int8, int2, int4, oid
                case 700, 701, 1700: values.append(Double(text).map(SQLValue.real) ?? .text(text))  // float4, float8, numeric
                case 16: values.append(.integer(text == "t" ? 1 : 0))  // bool
                case 17: values.append(.blob(Self.bytea(text)))
                default: values.append(.text(text))
                }
            }
            rows.append(values)
        }
        return rows
    }

    /// bytea's hex output form: `\x` then two hex digits a byte.
    static func bytea(_ text: String) -> [UInt8] {
        let digits = Array(text.utf8.dropFirst(2))
        func nibble(_ c: UInt8) -> UInt8 { c <= 57 ? c - 48 : (c | 0x20) - 87 }
        return stride(from: 0, to: digits.count - 1, by: 2).map { nibble(digits[$0]) << 4 | nibble(digits[$0 + 1]) }
    }

    private static func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
        let copies = strings.map { strdup($0) }
        defer { copies.forEach { free($0) } }
        var pointers: [UnsafePointer<CChar>?] = copies.map { UnsafePointer($0) } + [nil]
        return pointers.withUnsafeMutableBufferPointer { body(UnsafePointer($0.baseAddress!)) }
    }

    private static func withParameterPointers<R>(_ parameters: [SQLValue], _ texts: [String?], _ body: (UnsafePointer<UnsafePointer<CChar>?>?) -> R) -> R {
        var copies: [UnsafeMutablePointer<CChar>?] = []
        copies.reserveCapacity(parameters.count)
        for (value, text) in zip(parameters, texts) {
            if case .blob(let bytes) = value {
                let copy = UnsafeMutablePointer<CChar>.allocate(capacity: max(1, bytes.count))
                bytes.withUnsafeBytes { raw in
                    if let base = raw.baseAddress { UnsafeMutableRawPointer(copy).copyMemory(from: base, byteCount: bytes.count) }
                }
                copies.append(copy)
            } else {
                copies.append(text.map { strdup($0) } ?? nil)
            }
        }
        defer {
            for (value, copy) in zip(parameters, copies) {
                if case .blob = value { copy?.deallocate() } else { free(copy) }
            }
        }
        var pointers: [UnsafePointer<CChar>?] = copies.map { $0.map { UnsafePointer($0) } }
        if pointers.isEmpty { return body(nil) }
        return pointers.withUnsafeMutableBufferPointer { body(UnsafePointer($0.baseAddress!)) }
    }
}
