import AnswerNinjaCore
import ArgumentParser
import Foundation

/// `answer-ninja config`: the resolved configuration with where each value came from; exit 2 with every problem
/// listed when it is invalid.
struct ConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Show the resolved configuration (value and source of every key) or the catalogue of keys.",
        discussion: "Exits 2 and lists every problem when the configuration is invalid."
    )

    @Flag(help: "List every key with its environment variable, type and default instead of resolving.")
    var keys = false

    @OptionGroup var configurationOptions: ConfigurationOptions
    @OptionGroup var output: OutputOptions

    struct Entry: Codable {
        var key: String
        var environment: String
        var value: String?
        var source: String?
        var kind: String?
        var defaultValue: String?
        var summary: String?
    }

    struct Output: CommandOutput {
        var valid: Bool
        var entries: [Entry]
        var error: String?
        var humanReadable: String {
            if let error { return "invalid configuration: \(error)" }
            return entries.map { entry in
                "\(entry.environment)=\(entry.value ?? "") " + (entry.source.map { "(\($0))" } ?? "# \(entry.kind ?? "") \(entry.summary ?? "")")
            }.joined(separator: "\n")
        }
    }

    func run() async throws {
        if keys {
            let entries = ConfigurationKey.all.map {
                Entry(key: $0.key, environment: $0.environmentName, value: $0.defaultValue, source: nil, kind: $0.kind.rawValue, defaultValue: $0.defaultValue, summary: $0.summary)
            }
            try output.emit(Output(valid: true, entries: entries, error: nil))
            return
        }
        do {
            _ = try configurationOptions.load()
        } catch let error as ValidationError {
            try output.emit(Output(valid: false, entries: [], error: error.message))
            throw ExitCode(2)
        }
        var file: (name: String, contents: [UInt8])?
        let environment = ProcessInfo.processInfo.environment
        if let path = configurationOptions.config ?? environment[ConfigurationLoader.fileVariable], let data = FileManager.default.contents(atPath: path) {
            file = (path, Array(data))
        }
        let resolved = try ConfigurationLoader(environment: environment, file: file).resolve()
        let entries = resolved.map { value in
            Entry(key: value.key.key, environment: value.key.environmentName, value: Self.redact(value), source: value.source.rawValue)
        }
        try output.emit(Output(valid: true, entries: entries, error: nil))
    }

    /// Passwords in URLs are never printed.
    static func redact(_ value: ConfigurationLoader.ResolvedValue) -> String? {
        guard let text = value.value, value.key.kind == .url, let scheme = text.range(of: "://"), let at = text.lastIndex(of: "@"), scheme.upperBound < at else {
            return value.value
        }
        let credentials = text[scheme.upperBound..<at]
        guard let colon = credentials.firstIndex(of: ":") else { return text }
        return String(text[..<colon]) + ":***" + String(text[at...])
    }
}
