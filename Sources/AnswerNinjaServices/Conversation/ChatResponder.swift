import AnswerNinjaCore
import AsyncHTTPClient
import Conversation
import Foundation
import Logging
import NIOCore

/// The optional LLM responder: an OpenAI-compatible chat completions API (OpenAI, Azure OpenAI, vLLM, llama.cpp
/// server, Ollama) that rephrases the template reply in the persona's voice. The dialog policy has already decided
/// what happens (the action, the intent, whether to decline); the LLM only words it, and only when its first
/// token arrives within the budget (600 ms by default). Otherwise, or on any error, the template stands.
public final class ChatResponder: Sendable {
    public struct Settings: Sendable, Equatable {
        /// Base URL, e.g. `http://127.0.0.1:8000` (the request goes to `<base>/v1/chat/completions`).
        public var url: String
        public var model: String
        public var apiKey: String?
        /// Time to the first token; past it the template reply is used.
        public var budget: Duration
        /// Time for the whole answer once it started.
        public var completion: Duration = .seconds(3)
        /// Longest answer kept, in characters (a reply is spoken: long ones are cut at a sentence end).
        public var maximumCharacters = 300

        public init(url: String, model: String, apiKey: String?, budget: Duration) {
            self.url = url
            self.model = model
            self.apiKey = apiKey
            self.budget = budget
        }
    }

    /// What the LLM is told: who speaks, the decision, and the conversation so far.
    public struct Prompt: Sendable, Equatable {
        public var persona: Persona
        public var userName: String?
        public var intent: Intent?
        public var template: String
        /// The caller's utterances, oldest first (the last is what is being answered).
        public var callerSaid: [String]

        public init(persona: Persona, userName: String?, intent: Intent?, template: String, callerSaid: [String]) {
            self.persona = persona
            self.userName = userName
            self.intent = intent
            self.template = template
            self.callerSaid = callerSaid
        }

        var systemMessage: String {
            let user = userName ?? "the person being called"
            return """
                You are an AI phone assistant answering calls for \(user). You always say you are an AI assistant \
                if asked. Never share any personal information about \(user): no address, schedule, accounts, \
                numbers or codes. Speak in a \(persona.rawValue.replacingOccurrences(of: "_", with: " ")) tone, in at \
                most two short sentences, plain text only. The caller's intent is \(intent?.rawValue ?? "not yet known"). \
                The decision is already made: say this, in your own words, without changing what it means: "\(template)"
                """
        }
    }

    public let settings: Settings
    /// AsyncHTTPClient's process-wide client: nothing to shut down with the role.
    private let client = HTTPClient.shared
    private let logger: Logger

    public init(settings: Settings, logger: Logger) {
        self.settings = settings
        self.logger = logger
    }

    /// How a rewrite went, for the record and metrics.
    public enum Outcome: Sendable, Equatable {
        case rewritten(String)
        /// The first token did not arrive within the budget.
        case overBudget
        case failed(String)
    }

    /// The LLM's wording of `prompt.template`, or why the template stands.
    public func rewrite(_ prompt: Prompt) async -> Outcome {
        var request = HTTPClientRequest(url: settings.url.trimmingTrailingSlash + "/v1/chat/completions")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "Accept", value: "text/event-stream")
        if let key = settings.apiKey {
            request.headers.add(name: "Authorization", value: "Bearer \(key)")
            request.headers.add(name: "api-key", value: key)  // Azure OpenAI's header
        }
        var messages = [["role": "system", "content": prompt.systemMessage]]
        for said in prompt.callerSaid.suffix(6) { messages.append(["role": "user", "content": said]) }
        let body: [String: Any] = ["model": settings.model, "messages": messages, "stream": true, "max_tokens": 80, "temperature": 0.4]
        do {
            request.body = .bytes(ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: body, options: [.sortedKeys])))
        } catch {
            return .failed("cannot encode the request: \(error)")
        }
        let budget = settings.budget
        let completion = settings.completion
        let client = self.client
        let limit = settings.maximumCharacters
        // Two races: the first token against the budget, then the rest against the completion time.
        let first = FirstToken()
        let prepared = request
        return await withTaskGroup(of: Outcome?.self) { group in
            group.addTask {
                do {
                    let response = try await client.execute(prepared, timeout: .nanoseconds(Int64((budget + completion).nanosecondsClamped)))
                    guard response.status == .ok else { return .failed("HTTP \(response.status.code)") }
                    var parser = ServerSentEvents()
                    var text = ""
                    for try await buffer in response.body {
                        for data in parser.feed(buffer.readableBytesView) {
                            if data == "[DONE]" { return Self.finish(text, limit: limit) }
                            guard let delta = Self.delta(in: data) else { continue }
                            if !delta.isEmpty {
                                guard first.arrive() else { return nil }
                                text += delta
                            }
                        }
                    }
                    return Self.finish(text, limit: limit)
                } catch {
                    return .failed("\(error)")
                }
            }
            group.addTask {
                try? await Task.sleep(for: budget)
                return first.expire() ? .overBudget : nil
            }
            // AsyncHTTPClient's deadline ends with the response head: the body gets its own limit, so that a slowly
            // streaming LLM cannot hold the call's next frames.
            group.addTask {
                try? await Task.sleep(for: budget + completion)
                return Task.isCancelled ? nil : .failed("no complete answer within \(budget + completion)")
            }
            var outcome: Outcome = .failed("no answer")
            for await result in group {
                guard let result else { continue }
                outcome = result
                group.cancelAll()
                break
            }
            return outcome
        }
    }

    static func finish(_ text: String, limit: Int) -> Outcome {
        var answer = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !answer.isEmpty else { return .failed("empty answer") }
        if answer.count > limit {
            let cut = answer.prefix(limit)
            answer = String(cut.lastIndex(where: { ".!?".contains($0) }).map { cut[...$0] } ?? cut)
        }
        return .rewritten(answer)
    }

    /// `choices[0].delta.content` of a streamed chunk (nil when absent).
    static func delta(in data: String) -> String? {
        struct Chunk: Decodable {
            struct Choice: Decodable {
                struct Delta: Decodable { var content: String? }
                var delta: Delta?
            }
            var choices: [Choice]
        }
        return (try? JSONDecoder().decode(Chunk.self, from: Data(data.utf8)))?.choices.first?.delta?.content
    }

    /// Whether the first token beat the budget: exactly one of `arrive` and `expire` wins.
    final class FirstToken: @unchecked Sendable {
        private let lock = NSLock()
        private var state = 0  // 0 waiting, 1 arrived, 2 expired

        /// A token arrived; false when the budget had already expired.
        func arrive() -> Bool {
            lock.withLock {
                if state == 0 { state = 1 }
                return state == 1
            }
        }

        /// The budget is over; false when a token had already arrived.
        func expire() -> Bool {
            lock.withLock {
                if state == 0 { state = 2 }
                return state == 2
            }
        }
    }
}

/// Splits a `text/event-stream` body into the `data:` payloads of its events. Works on bytes and decodes only
/// whole events, so a character split across two network reads is not broken (a newline byte never occurs
/// inside a multi-byte UTF-8 sequence).
struct ServerSentEvents {
    private var buffer: [UInt8] = []

    mutating func feed(_ bytes: some Sequence<UInt8>) -> [String] {
        for byte in bytes where byte != UInt8(ascii: "\r") { buffer.append(byte) }
        var payloads: [String] = []
        var start = 0
        var index = 0
        while index + 1 < buffer.count {
            if buffer[index] == UInt8(ascii: "\n") && buffer[index + 1] == UInt8(ascii: "\n") {
                let event = String(decoding: buffer[start..<index], as: UTF8.self)
                let data = event.split(separator: "\n").filter { $0.hasPrefix("data:") }.map { $0.dropFirst(5).trimmingCharacters(in: .whitespaces) }
                if !data.isEmpty { payloads.append(data.joined(separator: "\n")) }
                index += 2
                start = index
            } else {
                index += 1
            }
        }
        buffer.removeFirst(start)
        return payloads
    }

    mutating func feed(_ text: String) -> [String] { feed(Array(text.utf8)) }
}

extension String {
    var trimmingTrailingSlash: String { hasSuffix("/") ? String(dropLast()) : self }
}
