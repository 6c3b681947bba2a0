import AnswerNinjaCore
import AnswerNinjaServices
import ArgumentParser
import Foundation
import Logging
import Metrics

/// `--config FILE`, shared by every command that reads the configuration.
struct ConfigurationOptions: ParsableArguments {
    @Option(name: .long, help: "A JSON configuration file (also ANSWER_NINJA_CONFIG_FILE); environment variables override it.")
    var config: String?

    /// The loader over the process environment and the file, read once; an unreadable file is a clear error.
    func loader() throws -> ConfigurationLoader {
        let environment = ProcessInfo.processInfo.environment
        var file: (name: String, contents: [UInt8])?
        if let path = config ?? environment[ConfigurationLoader.fileVariable] {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw ValidationError("cannot read configuration file \(path)")
            }
            file = (path, Array(data))
        }
        return ConfigurationLoader(environment: environment, file: file)
    }

    /// Loads and validates the configuration; a problem becomes a clear message and exit code 2.
    func load() throws -> NinjaConfiguration {
        let loader = try loader()
        do {
            return try loader.load()
        } catch {
            throw ValidationError("configuration: \(error.message)")
        }
    }
}

/// `--json`, shared by every tool.
struct OutputOptions: ParsableArguments {
    @Flag(name: .long, help: "Print one JSON object with snake_case keys (docs/cli.md).")
    var json = false

    func emit<Output: CommandOutput>(_ output: Output) throws {
        print(json ? try CommandOutputFormat.json(output) : output.humanReadable)
    }

    /// Prints a failure in the chosen format and returns the exit code to use.
    func fail(code: String, message: String) throws -> ExitCode {
        if json {
            print(try CommandOutputFormat.json(CommandOutputFormat.Failure(code: code, message: message)))
        } else {
            FileHandle.standardError.write(Data("error: \(message)\n".utf8))
        }
        return ExitCode(1)
    }
}

/// Sets up logging and metrics for a long-running role; once per process.
enum Bootstrap {
    static func logging(_ configuration: NinjaConfiguration) {
        let level = Logger.Level(rawValue: configuration.log.level) ?? .info
        switch configuration.log.format {
        case .json:
            LoggingSystem.bootstrap { label in JSONLogHandler(label: label, level: level) }
        case .text:
            LoggingSystem.bootstrap { label in
                var handler = StreamLogHandler.standardError(label: label)
                handler.logLevel = level
                return handler
            }
        }
    }

    /// Runs `roles` until SIGTERM or SIGINT.
    static func run(roles: [Role], options: ConfigurationOptions) async throws {
        let configuration = try options.load()
        logging(configuration)
        let telemetry = Telemetry(roles: roles)
        MetricsSystem.bootstrap(telemetry.factory)
        let logger = Logger(label: "answer-ninja")
        do {
            try await RoleRunner(configuration: configuration, roles: roles, logger: logger, telemetry: telemetry).run()
        } catch {
            logger.critical("stopped by an error", metadata: ["error": "\(error)"])
            FileHandle.standardError.write(Data("answer-ninja: \(error)\n".utf8))
            throw ExitCode(1)
        }
    }
}
