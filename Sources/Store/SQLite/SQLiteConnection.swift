import CSQLite

/// The one owner of a `sqlite3*` handle (CONVENTIONS.md §12): opened in a throwing init, closed in deinit, never
/// shared. Not Sendable: `SQLiteDatabase` confines it to its own thread.
final class SQLiteConnection: SQLConnection {
    private let handle: OpaquePointer

    /// Opens (creating) the database at `path`, in WAL mode with a busy timeout.
    init(path: String, busyTimeoutMilliseconds: Int32 = 5000) throws(StoreError) {
        var handle: OpaquePointer?
        let status = sqlite3_open_v2(path, &handle, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nil)
        guard status == SQLITE_OK, let handle else {
            let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? String(cString: sqlite3_errstr(status))
            if let handle { sqlite3_close_v2(handle) }
            throw .sqlite("cannot open \(path): \(message)")
        }
        self.handle = handle
        sqlite3_busy_timeout(handle, busyTimeoutMilliseconds)
        sqlite3_extended_result_codes(handle, 1)
        try execute("PRAGMA journal_mode=WAL; PRAGMA foreign_keys=ON; PRAGMA synchronous=NORMAL;")
    }

    deinit {
        sqlite3_close_v2(handle)
    }

    /// Runs one or more statements without results.
    func execute(_ sql: String) throws(StoreError) {
        var errorMessage: UnsafeMutablePointer<CChar>?
        let status = sqlite3_exec(handle, sql, nil, nil, &errorMessage)
        guard status == SQLITE_OK else {
            let message = errorMessage.map { String(cString: $0) } ?? String(cString: sqlite3_errstr(status))
            sqlite3_free(errorMessage)
            throw .sqlite(message)
        }
    }

    /// Runs one statement with `$1, $2, ...` (or `?1, ?2, ...`) bound to `bindings` by number, and returns its rows.
    /// SQLite takes `$1` as a named parameter numbered by first appearance, so each is bound by its name.
    @discardableResult
    func query(_ sql: String, _ bindings: [SQLValue]) throws(StoreError) -> [SQLRow] {
        var statement: OpaquePointer?
        guard sqlite3_prepare_v2(handle, sql, -1, &statement, nil) == SQLITE_OK, let statement else {
            throw .sqlite("cannot prepare \"\(sql.prefix(60))\": \(String(cString: sqlite3_errmsg(handle)))")
        }
        defer { sqlite3_finalize(statement) }
        let count = sqlite3_bind_parameter_count(statement)
        for position in stride(from: Int32(1), through: count, by: 1) {
            let name = sqlite3_bind_parameter_name(statement, position).map { String(cString: $0) }
            let number = name.flatMap { Int($0.dropFirst()) } ?? Int(position)
            guard number >= 1, number <= bindings.count else {
                throw .sqlite("parameter \(name ?? "?\(position)") of \"\(sql.prefix(60))\" has no value (\(bindings.count) given)")
            }
            let value = bindings[number - 1]
            let status: Int32
            switch value {
            case .null: status = sqlite3_bind_null(statement, position)
            case .integer(let integer): status = sqlite3_bind_int64(statement, position, integer)
            case .real(let real): status = sqlite3_bind_double(statement, position, real)
            case .text(let text): status = sqlite3_bind_text(statement, position, text, -1, cshim_sqlite_transient())
            case .blob(let bytes):
                status = bytes.withUnsafeBytes { sqlite3_bind_blob(statement, position, $0.baseAddress, Int32($0.count), cshim_sqlite_transient()) }
            }
            guard status == SQLITE_OK else { throw .sqlite("cannot bind parameter \(position): \(String(cString: sqlite3_errmsg(handle)))") }
        }
        var rows: [SQLRow] = []
        while true {
            let status = sqlite3_step(statement)
            if status == SQLITE_DONE { break }
            guard status == SQLITE_ROW else {
                let message = String(cString: sqlite3_errmsg(handle))
                throw status & 0xFF == SQLITE_CONSTRAINT ? .constraint(message) : .sqlite(message)
            }
            let columns = sqlite3_column_count(statement)
            rows.append((0..<columns).map { column in Self.value(statement, column) })
        }
        return rows
    }

    private static func value(_ statement: OpaquePointer, _ column: Int32) -> SQLValue {
        switch sqlite3_column_type(statement, column) {
        case SQLITE_INTEGER: return .integer(sqlite3_column_int64(statement, column))
        case SQLITE_FLOAT: return .real(sqlite3_column_double(statement, column))
        case SQLITE_TEXT: return .text(String(cString: sqlite3_column_text(statement, column)))
        case SQLITE_BLOB:
            let count = Int(sqlite3_column_bytes(statement, column))
            guard count > 0, let bytes = sqlite3_column_blob(statement, column) else { return .blob([]) }
            return .blob(Array(UnsafeRawBufferPointer(start: bytes, count: count)))
        default: return .null
        }
    }
}
