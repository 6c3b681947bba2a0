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
}
