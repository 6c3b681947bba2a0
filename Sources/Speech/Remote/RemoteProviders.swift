import AnswerNinjaCore
import AsyncHTTPClient
import Capture
import Foundation
import MediaDSP
import NIOCore
import NIOHTTP1

/// Speech to text by a remote service, one request per utterance (REST APIs answer whole utterances: there are
/// no partial results).
public final class RemoteRecognizer: SpeechRecognizer {
    let http: RemoteSpeechClient

    public init(settings: RemoteSpeechSettings, client: HTTPClient = .shared) {
        self.http = RemoteSpeechClient(settings: settings, client: client)
    }

    public var settings: RemoteSpeechSettings { http.settings }

    public func makeStream(rate: AudioSampleRate) async throws -> any RecognitionStream {
        RemoteRecognitionStream(recognizer: self, rate: rate)
    }

    /// Recognises one utterance.
    func recognise(_ samples: [Int16], rate: AudioSampleRate) async throws -> RecognitionResult {
        switch settings.api {
        case .openai:
            let wav = Self.wave(samples, rate: rate.hertz)
            let boundary = "answer-ninja-\(UUID().uuidString)"
            var body: [UInt8] = []
            func field(_ name: String, _ value: String) {
                body += Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"\(name)\"\r\n\r\n\(value)\r\n".utf8)
            }
            field("model", settings.model)
            field("response_format", "verbose_json")
            field("language", String(settings.language.prefix(2)))
            body += Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"utterance.wav\"\r\nContent-Type: audio/wav\r\n\r\n".utf8)
            body += wav
            body += Array("\r\n--\(boundary)--\r\n".utf8)
            let (payload, _) = try await http.post(
                settings.url + "/v1/audio/transcriptions", headers: http.headers(contentType: "multipart/form-data; boundary=\(boundary)"), body: body
            )
            struct Answer: Decodable {
                struct Segment: Decodable { var avg_logprob: Double? }
                var text: String
                var segments: [Segment]?
            }
            let answer = try JSONDecoder().decode(Answer.self, from: Data(payload.readableBytesView))
            let logprobs = (answer.segments ?? []).compactMap(\.avg_logprob)
            let confidence = logprobs.isEmpty ? 0 : exp(logprobs.reduce(0, +) / Double(logprobs.count))
            return RecognitionResult(text: Self.normalise(answer.text), isFinal: true, confidence: min(1, max(0, confidence)))
        case .azure:
            // The short-audio REST API takes 16 kHz PCM WAV.
            var wide = samples
            if rate != .wideband {
                wide = []
                try Resampler(from: rate, to: .wideband).process(samples, into: &wide)
            }
            let url = settings.url + "/speech/recognition/conversation/cognitiveservices/v1?language=\(settings.language)&format=detailed"
            let (payload, _) = try await http.post(
                url, headers: http.headers(contentType: "audio/wav; codecs=audio/pcm; samplerate=16000"), body: Self.wave(wide, rate: 16000)
            )
            struct Answer: Decodable {
                struct Best: Decodable {
                    var Confidence: Double
                    var Lexical: String
                }
                var RecognitionStatus: String
                var DisplayText: String?
                var NBest: [Best]?
            }
            let answer = try JSONDecoder().decode(Answer.self, from: Data(payload.readableBytesView))
            switch answer.RecognitionStatus {
            case "Success":
                let best = answer.NBest?.first
                return RecognitionResult(text: Self.normalise(best?.Lexical ?? answer.DisplayText ?? ""), isFinal: true, confidence: best?.Confidence ?? 0)
            case "NoMatch", "InitialSilenceTimeout", "BabbleTimeout":
                return RecognitionResult(text: "", isFinal: true, confidence: 0)
            default:
                throw SpeechError(code: .init("stt_failed"), message: "azure: RecognitionStatus \(answer.RecognitionStatus)")
            }
        }
    }

    /// The utterance as a WAVE file (Capture's writer).
    static func wave(_ samples: [Int16], rate: Int) -> [UInt8] {
        var buffer = ByteBuffer()
        WAVFile(sampleRate: rate, samples: samples).write(to: &buffer)
        return Array(buffer.readableBytesView)
    }

    /// Lower case words without punctuation, as the classifier and the embedded recogniser write them.
    static func normalise(_ text: String) -> String {
        String(text.lowercased().map { $0.isLetter || $0.isNumber || $0 == "'" ? $0 : " " })
            .split(separator: " ").joined(separator: " ")
    }
}

actor RemoteRecognitionStream: RecognitionStream {
    let recognizer: RemoteRecognizer
    let rate: AudioSampleRate
    private var utterance: [Int16] = []

    init(recognizer: RemoteRecognizer, rate: AudioSampleRate) {
        self.recognizer = recognizer
        self.rate = rate
    }

    func feed(_ samples: [Int16]) async throws -> RecognitionResult? {
        utterance += samples
        return nil
    }

    func finish() async throws -> RecognitionResult {
        let audio = utterance
        utterance = []
        guard !audio.isEmpty else { return RecognitionResult(text: "", isFinal: true, confidence: 0) }
        return try await recognizer.recognise(audio, rate: rate)
    }

    func close() async {}
}

/// Text to speech by a remote service, streamed: audio chunks are passed on (resampled to the call's rate) as the
/// response body arrives.
public final class RemoteSynthesizer: SpeechSynthesizer {
    let http: RemoteSpeechClient

    public init(settings: RemoteSpeechSettings, client: HTTPClient = .shared) {
        self.http = RemoteSpeechClient(settings: settings, client: client)
    }

    public var settings: RemoteSpeechSettings { http.settings }

    public func synthesize(_ text: String, rate: AudioSampleRate, priority: SynthesisPriority) -> AsyncThrowingStream<SpeechChunk, any Error> {
        let (stream, continuation) = AsyncThrowingStream<SpeechChunk, any Error>.makeStream()
        let activity = Activity()
        let task = Task { [http] in
            do {
                try await Self.stream(text, rate: rate, http: http, activity: activity, into: continuation)
                continuation.finish()
            } catch {
                continuation.finish(throwing: activity.stalled ? SpeechError(code: .init("tts_failed"), message: "\(http.settings.api.rawValue): no audio for \(http.settings.timeout)") : error)
            }
        }
        // A watchdog: AsyncHTTPClient's deadline ends with the response head, so a body that stops flowing for
        // longer than the timeout is cut off here (and the fallback speaks).
        let timeout = http.settings.timeout
        let watchdog = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(50))
                if activity.idle(longerThan: timeout) {
                    activity.markStalled()
                    task.cancel()
                    return
                }
            }
        }
        continuation.onTermination = { _ in
            task.cancel()
            watchdog.cancel()
        }
        return stream
    }

    /// When the last audio (or the request) was seen.
    final class Activity: @unchecked Sendable {
        // @unchecked: guarded by `lock`.
        private let lock = NSLock()
        private var last = ContinuousClock.now
        private var didStall = false

        func touch() { lock.withLock { last = .now } }
        func idle(longerThan limit: Duration) -> Bool { lock.withLock { ContinuousClock.now - last > limit } }
        func markStalled() { lock.withLock { didStall = true } }
        var stalled: Bool { lock.withLock { didStall } }
    }

    static func stream(
        _ text: String, rate: AudioSampleRate, http: RemoteSpeechClient, activity: Activity, into continuation: AsyncThrowingStream<SpeechChunk, any Error>.Continuation
    ) async throws {
        let settings = http.settings
        var request: HTTPClientRequest
        let sourceRate: AudioSampleRate
        switch settings.api {
        case .openai:
            request = HTTPClientRequest(url: settings.url + "/v1/audio/speech")
            request.headers = http.headers(contentType: "application/json")
            let body: [String: String] = ["model": settings.model, "input": text, "voice": settings.voice, "response_format": "pcm"]
            request.body = .bytes(ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: body, options: [.sortedKeys])))
            sourceRate = .speechService
        case .azure:
            request = HTTPClientRequest(url: settings.url + "/cognitiveservices/v1")
            request.headers = http.headers(contentType: "application/ssml+xml")
            sourceRate = rate == .narrowband ? .narrowband : .wideband
            request.headers.add(name: "X-Microsoft-OutputFormat", value: sourceRate == .narrowband ? "raw-8khz-16bit-mono-pcm" : "raw-16khz-16bit-mono-pcm")
            request.headers.add(name: "User-Agent", value: "answer-ninja")
            let escaped = text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
            let ssml = "<speak version='1.0' xml:lang='\(settings.language)'><voice name='\(settings.voice)'>\(escaped)</voice></speak>"
            request.body = .bytes(ByteBuffer(string: ssml))
        }
        request.method = .POST
        var attempt = 0
        let response: HTTPClientResponse
        while true {
            do {
                let candidate = try await http.client.execute(request, timeout: .nanoseconds(Int64(settings.timeout.nanosecondsClamped)))
                activity.touch()
                if candidate.status.code >= 500 || candidate.status.code == 429, attempt < settings.retries {
                    attempt += 1
                    try await Task.sleep(for: .milliseconds(100 * attempt))
                    continue
                }
                guard candidate.status == .ok else {
                    throw SpeechError(code: .init("tts_failed"), message: "\(settings.api.rawValue): HTTP \(candidate.status.code)")
                }
                response = candidate
                break
            } catch let error as SpeechError {
                throw error
            } catch {
                guard attempt < settings.retries, !Task.isCancelled else {
                    throw SpeechError(code: .init("tts_failed"), message: "\(settings.api.rawValue): \(error)")
                }
                attempt += 1
                try await Task.sleep(for: .milliseconds(100 * attempt))
                activity.touch()
            }
        }
        let resampler = sourceRate == rate ? nil : try Resampler(from: sourceRate, to: rate)
        var carry: UInt8?
        for try await buffer in response.body {
            activity.touch()
            var bytes = Array(buffer.readableBytesView)
            if let odd = carry {
                bytes.insert(odd, at: 0)
                carry = nil
            }
            if bytes.count % 2 == 1 { carry = bytes.removeLast() }
            let samples = pcm16(bytes[...])
            guard !samples.isEmpty else { continue }
            if let resampler {
                var converted: [Int16] = []
                try resampler.process(samples, into: &converted)
                continuation.yield(SpeechChunk(samples: converted, rate: rate, isLast: false))
            } else {
                continuation.yield(SpeechChunk(samples: samples, rate: rate, isLast: false))
            }
        }
        var tail: [Int16] = []
        if let resampler { try resampler.process(Array(repeating: 0, count: resampler.inputLatency), into: &tail) }
        continuation.yield(SpeechChunk(samples: tail, rate: rate, isLast: true))
    }
}

/// Shared state of a fallback pair: the circuit breaker and the count of calls that fell back.
final class FallbackState: @unchecked Sendable {
    // @unchecked: guarded by `lock`.
    private let lock = NSLock()
    private var breaker: CircuitBreaker
    private var fellBack = 0

    init(breaker: CircuitBreaker) { self.breaker = breaker }

    func allows() -> Bool { lock.withLock { breaker.allows(at: .now) } }
    func succeeded() { lock.withLock { breaker.succeeded() } }
    func failed() { lock.withLock { breaker.failed(at: .now) } }
    func recordFallback() { lock.withLock { fellBack += 1 } }
    var fallbacks: Int { lock.withLock { fellBack } }
    var isOpen: Bool { lock.withLock { breaker.isOpen } }
}

/// A remote recogniser with the embedded one behind it: when the remote call fails (after its retries) or its
/// circuit is open, the utterance is recognised locally instead. Nothing is lost: the stream keeps the
/// utterance's audio until the final result.
public final class FallbackRecognizer: SpeechRecognizer {
    public let primary: any SpeechRecognizer
    public let fallback: any SpeechRecognizer
    let state: FallbackState

    public init(primary: any SpeechRecognizer, fallback: any SpeechRecognizer, breaker: CircuitBreaker = CircuitBreaker()) {
        self.primary = primary
        self.fallback = fallback
        self.state = FallbackState(breaker: breaker)
    }

    /// Utterances recognised by the fallback.
    public var fallbacks: Int { state.fallbacks }
    public var circuitOpen: Bool { state.isOpen }

    public func makeStream(rate: AudioSampleRate) async throws -> any RecognitionStream {
        FallbackRecognitionStream(owner: self, primary: try await primary.makeStream(rate: rate), rate: rate)
    }
}

actor FallbackRecognitionStream: RecognitionStream {
    let owner: FallbackRecognizer
    private var primary: any RecognitionStream
    let rate: AudioSampleRate
    private var utterance: [Int16] = []
    private var local: (any RecognitionStream)?

    init(owner: FallbackRecognizer, primary: any RecognitionStream, rate: AudioSampleRate) {
        self.owner = owner
        self.primary = primary
        self.rate = rate
    }

    func feed(_ samples: [Int16]) async throws -> RecognitionResult? {
        utterance += samples
        return try await primary.feed(samples)
    }

    func speculate() async { await primary.speculate() }
    func speechResumed() async { await primary.speechResumed() }
    func hypothesis() async -> String? { await primary.hypothesis() }

    func finish() async throws -> RecognitionResult {
        let audio = utterance
        utterance = []
        if owner.state.allows() {
            do {
                let result = try await primary.finish()
                owner.state.succeeded()
                return result
            } catch {
                owner.state.failed()
            }
        } else {
            // Open circuit: nothing goes to the provider; a fresh stream forgets this utterance's audio.
            await primary.close()
            primary = try await owner.primary.makeStream(rate: rate)
        }
        owner.state.recordFallback()
        let stream: any RecognitionStream
        if let local {
            stream = local
        } else {
            stream = try await owner.fallback.makeStream(rate: rate)
            local = stream
        }
        _ = try await stream.feed(audio)
        return try await stream.finish()
    }

    func close() async {
        await primary.close()
        await local?.close()
    }
}

/// A remote synthesizer with the embedded one behind it: if the remote fails before its first chunk (after its
/// retries) or its circuit is open, the reply is synthesized locally.
public final class FallbackSynthesizer: SpeechSynthesizer {
    public let primary: any SpeechSynthesizer
    public let fallback: any SpeechSynthesizer
    let state: FallbackState

    public init(primary: any SpeechSynthesizer, fallback: any SpeechSynthesizer, breaker: CircuitBreaker = CircuitBreaker()) {
        self.primary = primary
        self.fallback = fallback
        self.state = FallbackState(breaker: breaker)
    }

    public var fallbacks: Int { state.fallbacks }
    public var circuitOpen: Bool { state.isOpen }

    public func synthesize(_ text: String, rate: AudioSampleRate, priority: SynthesisPriority) -> AsyncThrowingStream<SpeechChunk, any Error> {
        let (stream, continuation) = AsyncThrowingStream<SpeechChunk, any Error>.makeStream()
        let task = Task { [primary, fallback, state] in
            var started = false
            if state.allows() {
                do {
                    for try await chunk in primary.synthesize(text, rate: rate, priority: priority) {
                        started = true
                        continuation.yield(chunk)
                    }
                    // A reply cut short by the caller (barge-in) says nothing about the provider.
                    if Task.isCancelled { return continuation.finish() }
                    state.succeeded()
                    continuation.finish()
                    return
                } catch {
                    state.failed()
                    // Audio already played cannot be taken back: a failure mid-reply ends the reply.
                    if started { return continuation.finish(throwing: error) }
                }
            }
            state.recordFallback()
            do {
                for try await chunk in fallback.synthesize(text, rate: rate, priority: priority) { continuation.yield(chunk) }
                continuation.finish()
            } catch {
                continuation.finish(throwing: error)
            }
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }
}
