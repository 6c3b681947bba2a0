import AnswerNinjaCore
import AsyncHTTPClient
import Foundation
import MediaDSP
import NIOCore
import NIOHTTP1

/// A cloud or self-hosted speech service reached over HTTP: an OpenAI-compatible API (`/v1/audio/transcriptions`,
/// which whisper servers offer, and `/v1/audio/speech`) or Azure Speech's REST API (as the original used).
public struct RemoteSpeechSettings: Sendable, Equatable {
    public enum API: String, Sendable, Equatable, CaseIterable {
        case openai, azure
    }

    public var api: API
    /// OpenAI-compatible: the base URL (`https://api.openai.com`, `http://whisper:8000`). Azure: the region's
    /// endpoint base (`https://westeurope.stt.speech.microsoft.com` for recognition,
    /// `https://westeurope.tts.speech.microsoft.com` for synthesis).
    public var url: String
    public var apiKey: String?
    /// OpenAI-compatible model (`whisper-1`, `tts-1`); unused by Azure.
    public var model: String
    /// The synthesis voice (`alloy`; Azure: `en-US-JennyNeural`).
    public var voice: String
    public var language: String
    /// Per attempt.
    public var timeout: Duration
    /// Attempts after the first, on a timeout, a connection error or a 5xx/429.
    public var retries: Int

    public init(api: API, url: String, apiKey: String?, model: String, voice: String, language: String = "en-US", timeout: Duration = .seconds(5), retries: Int = 1) {
        self.api = api
        self.url = url.hasSuffix("/") ? String(url.dropLast()) : url
        self.apiKey = apiKey
        self.model = model
        self.voice = voice
        self.language = language
        self.timeout = timeout
        self.retries = retries
    }
}

/// The HTTP side shared by the remote recogniser and synthesizer: retries with backoff, timeouts, and errors
/// that say which provider failed how.
struct RemoteSpeechClient: Sendable {
    let settings: RemoteSpeechSettings
    let client: HTTPClient

    struct Failure: Error, CustomStringConvertible {
        var description: String
        /// Worth another attempt (timeout, connection, 5xx, 429).
        var transient: Bool
    }

    func headers(contentType: String) -> HTTPHeaders {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: contentType)
        if let key = settings.apiKey {
            switch settings.api {
            case .openai: headers.add(name: "Authorization", value: "Bearer \(key)")
            case .azure: headers.add(name: "Ocp-Apim-Subscription-Key", value: key)
            }
        }
        return headers
    }

    /// POSTs `body` and returns the response body, retrying transient failures. Each attempt, body included, has
    /// `settings.timeout` (AsyncHTTPClient's own deadline ends with the response head).
    func post(_ url: String, headers: HTTPHeaders, body: [UInt8], limit: Int = 32 << 20) async throws -> (ByteBuffer, HTTPHeaders) {
        var attempt = 0
        while true {
            do {
                return try await withDeadline(settings.timeout, url: url) {
                    try await once(url, headers: headers, body: body, limit: limit)
                }
            } catch let failure as Failure where failure.transient && attempt < settings.retries {
                attempt += 1
                try await Task.sleep(for: .milliseconds(100 * attempt))
            }
        }
    }

    private func withDeadline<T: Sendable>(_ limit: Duration, url: String, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await body() }
            group.addTask {
                try await Task.sleep(for: limit)
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let value = first else {
                throw Failure(description: "\(settings.api.rawValue) \(url): no complete answer within \(limit)", transient: true)
            }
            return value
        }
    }

    private func once(_ url: String, headers: HTTPHeaders, body: [UInt8], limit: Int) async throws -> (ByteBuffer, HTTPHeaders) {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers = headers
        request.body = .bytes(ByteBuffer(bytes: body))
        let response: HTTPClientResponse
        do {
            response = try await client.execute(request, timeout: .nanoseconds(Int64(settings.timeout.nanosecondsClamped)))
        } catch {
            throw Failure(description: "\(settings.api.rawValue) \(url): \(error)", transient: true)
        }
        let status = response.status.code
        let payload: ByteBuffer
        do {
            payload = try await response.body.collect(upTo: limit)
        } catch {
            throw Failure(description: "\(settings.api.rawValue) \(url): reading the body: \(error)", transient: true)
        }
        guard (200..<300).contains(status) else {
            let text = String(buffer: payload).prefix(200)
            throw Failure(description: "\(settings.api.rawValue) \(url): HTTP \(status) \(text)", transient: status >= 500 || status == 429)
        }
        return (payload, response.headers)
    }
}

/// 16-bit little-endian PCM bytes as samples (a trailing odd byte is ignored).
func pcm16(_ bytes: ArraySlice<UInt8>) -> [Int16] {
    var samples: [Int16] = []
    samples.reserveCapacity(bytes.count / 2)
    var index = bytes.startIndex
    while index + 1 < bytes.endIndex {
        samples.append(Int16(bitPattern: UInt16(bytes[index]) | UInt16(bytes[index + 1]) << 8))
        index += 2
    }
    return samples
}
