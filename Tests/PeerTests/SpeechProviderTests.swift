import AnswerNinjaCore
import AnswerNinjaServices
import Conversation
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Speech
import Testing

/// The remote providers against a PROTOCOL DOUBLE: a small local Hummingbird server speaking the same HTTP APIs as
/// OpenAI (`/v1/audio/transcriptions`, `/v1/audio/speech`, `/v1/chat/completions` with server-sent events) and
/// Azure Speech (REST recognition and synthesis), since the real services cannot be reached from here. It checks
/// what the real APIs require (auth headers, content types, a WAVE file in the multipart body) and can be made to
/// fail or stall.
final class SpeechAPIDouble: @unchecked Sendable {
    private let lock = NSLock()
    private var failuresLeft = 0
    private var stall: Duration = .zero
    private var requestCount = 0
    private var tokenDelay: Duration = .zero
    private var bodyStall: Duration = .zero

    var firstTokenDelay: Duration {
        get { lock.withLock { tokenDelay } }
        set { lock.withLock { tokenDelay = newValue } }
    }

    /// A pause in the middle of a streamed body (after the headers and the first piece).
    var midBodyStall: Duration {
        get { lock.withLock { bodyStall } }
        set { lock.withLock { bodyStall = newValue } }
    }

    func failNext(_ count: Int) { lock.withLock { failuresLeft = count } }
    func stallFor(_ duration: Duration) { lock.withLock { stall = duration } }
    var requests: Int { lock.withLock { requestCount } }

    /// Counts the request; throws a 503 while failures are queued, after any stall.
    private func admit() async throws {
        let (fail, wait) = lock.withLock { () -> (Bool, Duration) in
            requestCount += 1
            if failuresLeft > 0 {
                failuresLeft -= 1
                return (true, stall)
            }
            return (false, stall)
        }
        if wait > .zero { try await Task.sleep(for: wait) }
        if fail { throw HTTPError(.serviceUnavailable) }
    }

    static func header(_ request: Request, _ name: String) -> String? {
        request.headers.first { $0.name.rawName.lowercased() == name.lowercased() }?.value
    }

    static let transcript = "Hello, this is Main Street Pharmacy: your prescription is ready."

    /// One second of a 440 Hz tone at `rate`, as 16-bit little-endian PCM.
    static func tone(rate: Int) -> ByteBuffer {
        var buffer = ByteBuffer()
        for n in 0..<rate { buffer.writeInteger(Int16(8000 * sin(2 * Double.pi * 440 * Double(n) / Double(rate))), endianness: .little) }
        return buffer
    }

    func router() -> Router<BasicRequestContext> {
        let router = Router()
        router.post("/v1/audio/transcriptions") { request, _ -> Response in
            try await self.admit()
            guard request.headers[.authorization] == "Bearer test-key" else { throw HTTPError(.unauthorized) }
            let contentType = request.headers[.contentType] ?? ""
            guard contentType.hasPrefix("multipart/form-data; boundary=") else { throw HTTPError(.unsupportedMediaType) }
            let body = String(buffer: try await request.body.collect(upTo: 1 << 22))
            guard body.contains("name=\"model\"\r\n\r\nwhisper-1"), body.contains("filename=\"utterance.wav\""), body.contains("RIFF"), body.contains("WAVEfmt ") else {
                throw HTTPError(.badRequest, message: "expected model and a WAVE file")
            }
            let json = #"{"text": "\#(Self.transcript)", "segments": [{"avg_logprob": -0.2}, {"avg_logprob": -0.4}]}"#
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: json)))
        }
        router.post("/v1/audio/speech") { request, _ -> Response in
            try await self.admit()
            let body = try await request.body.collect(upTo: 1 << 16)
            let json = try JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: String]
            guard json?["response_format"] == "pcm", json?["input"]?.isEmpty == false, json?["voice"] == "alloy" else { throw HTTPError(.badRequest) }
            // Streamed in pieces, as the real API does.
            let tone = Self.tone(rate: 24000)
            let stall = self.midBodyStall
            return Response(status: .ok, headers: [.contentType: "audio/pcm"], body: .init { writer in
                var rest = tone
                while let piece = rest.readSlice(length: min(4801, rest.readableBytes)), piece.readableBytes > 0 {
                    try await writer.write(piece)
                    if stall > .zero { try await Task.sleep(for: stall) }
                    if rest.readableBytes == 0 { break }
                }
                try await writer.finish(nil)
            })
        }
        router.post("/speech/recognition/conversation/cognitiveservices/v1") { request, _ -> Response in
            try await self.admit()
            guard Self.header(request, "Ocp-Apim-Subscription-Key") == "test-key",
                request.headers[.contentType] == "audio/wav; codecs=audio/pcm; samplerate=16000",
                request.uri.queryParameters.get("format") == "detailed"
            else { throw HTTPError(.badRequest) }
            let json = #"{"RecognitionStatus": "Success", "DisplayText": "\#(Self.transcript)", "NBest": [{"Confidence": 0.87, "Lexical": "hello this is main street pharmacy your prescription is ready"}]}"#
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: json)))
        }
        router.post("/cognitiveservices/v1") { request, _ -> Response in
            try await self.admit()
            guard Self.header(request, "X-Microsoft-OutputFormat") == "raw-8khz-16bit-mono-pcm",
                String(buffer: try await request.body.collect(upTo: 1 << 16)).contains("<voice name='en-US-JennyNeural'>")
            else { throw HTTPError(.badRequest) }
            return Response(status: .ok, headers: [.contentType: "audio/basic"], body: .init(byteBuffer: Self.tone(rate: 8000)))
        }
        router.post("/v1/chat/completions") { request, _ -> Response in
            try await self.admit()
            let body = try await request.body.collect(upTo: 1 << 16)
            let json = try JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any]
            guard json?["stream"] as? Bool == true, let messages = json?["messages"] as? [[String: String]], messages.first?["role"] == "system" else {
                throw HTTPError(.badRequest)
            }
            let delay = self.firstTokenDelay
            return Response(status: .ok, headers: [.contentType: "text/event-stream"], body: .init { writer in
                try await Task.sleep(for: delay)
                for word in ["Thanks for calling, ", "but we are not interested. ", "Please remove this number."] {
                    let chunk = #"{"choices":[{"delta":{"content":"\#(word)"}}]}"#
                    try await writer.write(ByteBuffer(string: "data: \(chunk)\n\n"))
                }
                try await writer.write(ByteBuffer(string: "data: [DONE]\n\n"))
                try await writer.finish(nil)
            })
        }
        return router
    }

    /// Runs the double on a loopback port for `body`.
    func run(_ body: @escaping @Sendable (String) async throws -> Void) async throws {
        let app = Application(router: router(), configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        try await app.test(.live) { client in
            try await body("http://127.0.0.1:\(client.port!)")
        }
    }
}

@Suite(.serialized) struct SpeechProviderTests {
    static let logger = Logger(label: "speech-provider-test")

    static func speech(_ base: String, _ api: RemoteSpeechSettings.API, timeout: Duration = .seconds(2), retries: Int = 1) -> RemoteSpeechSettings {
        RemoteSpeechSettings(
            api: api, url: base, apiKey: "test-key", model: api == .openai ? "whisper-1" : "", voice: api == .openai ? "alloy" : "en-US-JennyNeural",
            timeout: timeout, retries: retries
        )
    }

    static let utterance: [Int16] = (0..<8000).map { Int16(3000 * sin(Double($0) / 5)) }

    static func recognise(_ recognizer: any SpeechRecognizer) async throws -> RecognitionResult {
        let stream = try await recognizer.makeStream(rate: .narrowband)
        #expect(try await stream.feed(utterance) == nil, "REST recognisers have no partials")
        let result = try await stream.finish()
        await stream.close()
        return result
    }

    @Test(.timeLimit(.minutes(1)))
    func openAICompatibleTranscriptionAndSpeech() async throws {
        let double = SpeechAPIDouble()
        try await double.run { base in
            let result = try await Self.recognise(RemoteRecognizer(settings: Self.speech(base, .openai)))
            #expect(result.text == "hello this is main street pharmacy your prescription is ready")
            #expect(abs(result.confidence - exp(-0.3)) < 1e-9)

            var chunks: [SpeechChunk] = []
            for try await chunk in RemoteSynthesizer(settings: Self.speech(base, .openai)).synthesize("Goodbye.", rate: .narrowband, priority: .reply) {
                chunks.append(chunk)
            }
            #expect(chunks.count > 2, "streamed, not in one piece")
            let samples = chunks.flatMap(\.samples)
            #expect(abs(samples.count - 8000) < 100, "one second resampled from 24 kHz to 8 kHz: \(samples.count)")
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func azureRecognitionAndSynthesis() async throws {
        let double = SpeechAPIDouble()
        try await double.run { base in
            let result = try await Self.recognise(RemoteRecognizer(settings: Self.speech(base, .azure)))
            #expect(result.text == "hello this is main street pharmacy your prescription is ready")
            #expect(result.confidence == 0.87)
            var samples: [Int16] = []
            for try await chunk in RemoteSynthesizer(settings: Self.speech(base, .azure)).synthesize("Goodbye & thanks.", rate: .narrowband, priority: .reply) {
                samples += chunk.samples
            }
            #expect(samples.count == 8000)
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func aTransientFailureIsRetried() async throws {
        let double = SpeechAPIDouble()
        try await double.run { base in
            double.failNext(1)
            let result = try await Self.recognise(RemoteRecognizer(settings: Self.speech(base, .openai, retries: 1)))
            #expect(!result.text.isEmpty)
            #expect(double.requests == 2)
        }
    }

    @Test(.timeLimit(.minutes(2)))
    func failuresFallBackToTheEmbeddedEngineAndOpenTheCircuit() async throws {
        let double = SpeechAPIDouble()
        let embedded = try await PocketSphinxRecognizer.make(model: .standard(), decoders: 1)
        try await double.run { base in
            let recognizer = FallbackRecognizer(
                primary: RemoteRecognizer(settings: Self.speech(base, .openai, retries: 0)), fallback: embedded,
                breaker: CircuitBreaker(failureThreshold: 2, cooldown: .seconds(60))
            )
            double.failNext(100)
            for _ in 0..<2 {
                let result = try await Self.recognise(recognizer)
                #expect(result.isFinal, "the embedded engine answered")
            }
            #expect(recognizer.fallbacks == 2)
            #expect(recognizer.circuitOpen)
            let before = double.requests
            _ = try await Self.recognise(recognizer)
            #expect(double.requests == before, "an open circuit sends nothing to the provider")
            #expect(recognizer.fallbacks == 3)
            #expect(embedded.idleDecoders == 1, "the fallback's decoder went back to the pool")
        }
        try await embedded.shutdown()
    }

    @Test(.timeLimit(.minutes(1)))
    func aStalledProviderTimesOutAndTheEmbeddedVoiceSpeaks() async throws {
        let double = SpeechAPIDouble()
        try await double.run { base in
            double.stallFor(.seconds(6))
            let synthesizer = FallbackSynthesizer(
                primary: RemoteSynthesizer(settings: Self.speech(base, .openai, timeout: .milliseconds(300), retries: 0)),
                fallback: try await EspeakSynthesizer.shared()
            )
            let started = ContinuousClock.now
            var samples: [Int16] = []
            for try await chunk in synthesizer.synthesize("Sorry, could you repeat that?", rate: .narrowband, priority: .reply) { samples += chunk.samples }
            #expect(samples.count > 4000, "espeak-ng spoke it")
            #expect(ContinuousClock.now - started < .seconds(4), "the 300 ms timeout, not the 6 s stall")
            #expect(synthesizer.fallbacks == 1)
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func aProviderThatStallsMidStreamIsCutOff() async throws {
        let double = SpeechAPIDouble()
        try await double.run { base in
            double.midBodyStall = .seconds(20)
            let synthesizer = RemoteSynthesizer(settings: Self.speech(base, .openai, timeout: .milliseconds(500), retries: 0))
            let started = ContinuousClock.now
            var chunks = 0
            await #expect(throws: (any Error).self) {
                for try await _ in synthesizer.synthesize("Hello.", rate: .narrowband, priority: .reply) { chunks += 1 }
            }
            #expect(chunks >= 1, "the first piece arrived before the stall")
            #expect(ContinuousClock.now - started < .seconds(10), "cut off after 500 ms without audio, not after the 20 s stall")
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func theLLMWordsTheReplyOnlyWithinItsBudget() async throws {
        let double = SpeechAPIDouble()
        try await double.run { base in
            let responder = ChatResponder(settings: .init(url: base, model: "test-model", apiKey: "test-key", budget: .milliseconds(600)), logger: Self.logger)
            let prompt = ChatResponder.Prompt(
                persona: .polite, userName: "Sam", intent: .salesCall, template: "The person you called isn't interested.", callerSaid: ["buy solar"]
            )
            #expect(await responder.rewrite(prompt) == .rewritten("Thanks for calling, but we are not interested. Please remove this number."))
            double.firstTokenDelay = .seconds(4)
            let started = ContinuousClock.now
            #expect(await responder.rewrite(prompt) == .overBudget)
            #expect(ContinuousClock.now - started < .seconds(3), "the template is not kept waiting for a late LLM")
            double.firstTokenDelay = .zero
            double.failNext(1)
            if case .failed = await responder.rewrite(prompt) {} else { Issue.record("a 503 is a failure") }
        }
    }
}
