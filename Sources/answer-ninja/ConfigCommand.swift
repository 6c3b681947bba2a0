import AnswerNinjaCore
import ArgumentParser

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
        /// With `--keys`: the variable that may name a file holding the value instead (secrets and store URLs).
        var fileEnvironment: String? = nil
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
                Entry(
                    key: $0.key, environment: $0.environmentName, value: $0.defaultValue, source: nil, kind: $0.kind.rawValue, defaultValue: $0.defaultValue,
                    summary: $0.summary, fileEnvironment: $0.readsFromFile ? $0.environmentName + ConfigurationLoader.fileSuffix : nil
                )
            }
            try output.emit(Output(valid: true, entries: entries, error: nil))
            return
        }
        let resolved: [ConfigurationLoader.ResolvedValue]
        do {
            let loader = try configurationOptions.loader()
            _ = try loader.load()
            resolved = try loader.resolve()
        } catch let error as CoreError {
            try output.emit(Output(valid: false, entries: [], error: "configuration: \(error.message)"))
            throw ExitCode(2)
        } catch let error as ValidationError {
            try output.emit(Output(valid: false, entries: [], error: error.message))
            throw ExitCode(2)
        }
        let entries = resolved.map { value in
            Entry(
                key: value.key.key, environment: value.key.environmentName,
                value: value.key.kind == .url ? value.value.map(ConfigurationLoader.redactingPassword) : value.key.kind == .secret ? value.value.map { _ in "***" } : value.value,
                source: value.source.rawValue
            )
        }
        try output.emit(Output(valid: true, entries: entries, error: nil))
    }

}
