import AnswerNinjaCore

public enum StoreErrorDomain: NinjaErrorDomain {
    public static let name = "store"
}

/// The error type of the Store module: database, cache and journal errors, with the C library's text (libpq, hiredis, SQLite).
public typealias StoreError = NinjaError<StoreErrorDomain>

extension NinjaError where Domain == StoreErrorDomain {
    public static func sqlite(_ message: String, file: String = #fileID, line: Int = #line) -> Self {
        Self(code: .init("sqlite"), message: message, file: file, line: line)
    }

    public static func postgres(_ message: String, file: String = #fileID, line: Int = #line) -> Self {
        Self(code: .init("postgres"), message: message, file: file, line: line)
    }

    /// A unique, primary-key, foreign-key or check constraint refused the change (SQLite's SQLITE_CONSTRAINT,
    /// PostgreSQL's SQLSTATE class 23).
    public static func constraint(_ message: String, file: String = #fileID, line: Int = #line) -> Self {
        Self(code: .init("constraint"), message: message, file: file, line: line)
    }

    /// The database cannot be reached (connection refused or lost, timed out); the caller may retry.
    public static func unavailable(_ message: String, file: String = #fileID, line: Int = #line) -> Self {
        Self(code: .init("unavailable"), message: message, file: file, line: line)
    }
}
