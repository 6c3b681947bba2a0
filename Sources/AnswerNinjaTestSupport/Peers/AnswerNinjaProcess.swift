import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The built `answer-ninja` binary run as a peer: `serve` (or one role) with its own data directory and port 0,
/// so that tests run side by side; the HTTP address is read from the line `serve` prints.
public struct AnswerNinjaProcess: StoppablePeer {
    public let process: PeerProcess
    public let httpPort: Int
    public let dataDirectory: URL

    public var baseURL: String { "http://127.0.0.1:\(httpPort)" }

    /// `NINJA_TEST_BINARY`, or the debug build of this package.
    public static func binary(packageRoot: String = packageRootFromSource()) throws -> String {
        if let path = ProcessInfo.processInfo.environment["NINJA_TEST_BINARY"] { return path }
        for candidate in [".build/debug/answer-ninja", ".build/release/answer-ninja"] {
            let path = packageRoot + "/" + candidate
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        throw PeerError("answer-ninja binary not found: run swift build, or set NINJA_TEST_BINARY")
    }

    /// The package root, from this file's own path (Sources/AnswerNinjaTestSupport/Peers/AnswerNinjaProcess.swift).
    public static func packageRootFromSource() -> String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    }

    /// Starts `answer-ninja <command>` with `environment` added to ANSWER_NINJA_HTTP_HOST=127.0.0.1,
    /// ANSWER_NINJA_HTTP_PORT=0, SIP on 127.0.0.1 port 0 and a fresh data directory, and waits until it prints its
    /// HTTP address. Screened callers get the greeting mode's chirp (`sip.answer_mode` greeting), the known signal
    /// the media tests correlate against; the assistant's own tests ask for `assistant`. `launcher`: a program and
    /// its arguments that run the binary (`setpriv` dropping a capability, say).
    public static func start(
        command: String = "serve", environment extra: [String: String] = [:], dataDirectory: URL? = nil, launcher: [String] = [],
        executable: String? = nil
    ) async throws -> AnswerNinjaProcess {
        let executable = try executable ?? binary()
        let directory = try PeerEnvironment.makeDirectory(for: "answer-ninja-\(command)")
        let data = dataDirectory ?? directory.appendingPathComponent("data")
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("ANSWER_NINJA_") }
        environment["ANSWER_NINJA_HTTP_HOST"] = "127.0.0.1"
        environment["ANSWER_NINJA_HTTP_PORT"] = "0"
        environment["ANSWER_NINJA_DATA_DIR"] = data.path
        environment["ANSWER_NINJA_SHUTDOWN_GRACE"] = "5s"
        environment["ANSWER_NINJA_SIP_HOST"] = "127.0.0.1"
        environment["ANSWER_NINJA_SIP_PORT"] = "0"
        environment["ANSWER_NINJA_SIP_ANSWER_MODE"] = "greeting"
        environment.merge(extra) { _, new in new }
        let process = try PeerProcess(
            name: "answer-ninja-\(command)", executable: launcher.first ?? executable, arguments: launcher.dropFirst() + (launcher.isEmpty ? [] : [executable]) + [command],
            environment: environment, directory: directory
        )
        var port: Int?
        // The roles with SIP print its listener after HTTP's: wait for both, so that `sipPort` is there at once.
        let listensForSIP = command == "serve" || command == "gateway"
        do {
            try await process.waitUntilReady(timeout: .seconds(60)) {
                let log = process.log()
                port = Self.httpPort(in: log)
                return port != nil && (!listensForSIP || Self.sipPort(in: log) != nil)
            }
        } catch {
            await process.stop()
            throw error
        }
        return AnswerNinjaProcess(process: process, httpPort: port!, dataDirectory: data)
    }

    /// Reads the port from the line `  http      http://127.0.0.1:PORT  (...)`.
    static func httpPort(in log: String) -> Int? {
        for line in log.split(separator: "\n") where line.contains("http://127.0.0.1:") && line.trimmingCharacters(in: .whitespaces).hasPrefix("http ") {
            let tail = line.split(separator: "http://127.0.0.1:", maxSplits: 1).last ?? ""
            return Int(tail.prefix { $0.isNumber })
        }
        return nil
    }

    /// The SIP/UDP port it printed (`  sip       sip:HOST:PORT (udp)`), for roles that listen for SIP.
    public var sipPort: Int? { Self.sipPort(in: process.log()) }

    static func sipPort(in log: String) -> Int? {
        for line in log.split(separator: "\n") where line.trimmingCharacters(in: .whitespaces).hasPrefix("sip ") {
            if let address = line.split(separator: " ").first(where: { $0.hasPrefix("sip:") }) {
                return Int(address.split(separator: ":").last ?? "")
            }
        }
        return nil
    }

    /// The WAV recordings under the data directory: written by the gateway into `recordings/`, then moved into their
    /// user's folder (`recordings/users/<id>/`). Polls for up to `timeout` until there is one (the move is a rename:
    /// a file is always in one of the two places, but a listing can fall between them).
    public func recordings(timeout: Duration = .seconds(5)) async throws -> [URL] {
        let root = dataDirectory.appendingPathComponent("recordings")
        let deadline = ContinuousClock.now + timeout
        while true {
            let files = (FileManager.default.enumerator(at: root, includingPropertiesForKeys: nil)?.allObjects as? [URL] ?? [])
                .filter { $0.pathExtension == "wav" }
            if !files.isEmpty || ContinuousClock.now >= deadline { return files }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    /// A JSON request to the process's API: `json` as the body, `token` as the bearer; returns the status, the body
    /// as a JSON object (nil when it is not one) and as text.
    public func api(_ method: String, _ path: String, json: Any? = nil, token: String? = nil) async throws -> (status: Int, object: [String: Any]?, text: String) {
        guard let url = URL(string: baseURL + path) else { throw PeerError("bad path \(path)") }
        var request = URLRequest(url: url)
        request.httpMethod = method
        request.timeoutInterval = 10
        if let json {
            request.httpBody = try JSONSerialization.data(withJSONObject: json)
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        let (data, response) = try await URLSession.shared.data(for: request)
        guard let http = response as? HTTPURLResponse else { throw PeerError("not an HTTP response from \(url)") }
        return (http.statusCode, try? JSONSerialization.jsonObject(with: data) as? [String: Any], String(decoding: data, as: UTF8.self))
    }

    /// GET `path` on the running process; returns status and body (bounded by `timeout`).
    public func get(_ path: String, timeout: Duration = .seconds(10)) async throws -> (status: Int, body: String, contentType: String?) {
        try await HTTPProbe.get(url: baseURL + path, timeout: timeout)
    }
}

/// Plain HTTP GET and POST with URLSession, for tests.
public enum HTTPProbe {
    public static func get(url: String, timeout: Duration = .seconds(10)) async throws -> (status: Int, body: String, contentType: String?) {
        try await fetch(url: url, method: "GET", timeout: timeout)
    }

    public static func post(url: String, timeout: Duration = .seconds(40)) async throws -> (status: Int, body: String, contentType: String?) {
        try await fetch(url: url, method: "POST", timeout: timeout)
    }

    static func fetch(url: String, method: String, timeout: Duration) async throws -> (status: Int, body: String, contentType: String?) {
        guard let target = URL(string: url) else { throw PeerError("bad URL \(url)") }
        var request = URLRequest(url: target)
        request.httpMethod = method
        request.timeoutInterval = Double(timeout.components.seconds) + 1
        let (data, response) = try await URLSession.shared.data(for: request)
        guard let http = response as? HTTPURLResponse else { throw PeerError("not an HTTP response from \(url)") }
        return (http.statusCode, String(decoding: data, as: UTF8.self), http.value(forHTTPHeaderField: "Content-Type"))
    }
}
