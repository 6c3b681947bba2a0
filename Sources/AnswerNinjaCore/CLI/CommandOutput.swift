import struct Foundation.Data
import class Foundation.JSONEncoder

/// The CLI convention (docs/cli.md): with `--json` every command prints exactly one JSON object on stdout, keys in
/// snake_case, sorted; logs go to stderr. A failure prints `{"error": {"code": ..., "message": ...}}` and exits
/// non-zero. Each command's output type documents its schema.
public protocol CommandOutput: Encodable {
    /// The text printed without `--json`.
    var humanReadable: String { get }
}

public enum CommandOutputFormat {
    public static func json<Output: Encodable>(_ output: Output) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        return String(decoding: try encoder.encode(output), as: UTF8.self)
    }

    /// The error object of a failed command.
    public struct Failure: Encodable, Sendable {
        public struct Detail: Encodable, Sendable {
            public var code: String
            public var message: String
        }
        public var error: Detail
        public init(code: String, message: String) {
            self.error = Detail(code: code, message: message)
        }
    }
}
