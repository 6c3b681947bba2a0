import AnswerNinjaCore
import CEspeakNG
import Foundation
import MediaDSP

/// Audio of a synthesis as it is produced: 16-bit mono PCM at the rate asked for.
public struct SpeechChunk: Sendable, Equatable {
    public var samples: [Int16]
    public var rate: AudioSampleRate
    /// The last chunk of the utterance.
    public var isLast: Bool

    public init(samples: [Int16], rate: AudioSampleRate, isLast: Bool) {
        self.samples = samples
        self.rate = rate
        self.isLast = isLast
    }
}

/// Text to speech, chunk by chunk, so that playback starts with the first chunk.
public protocol SpeechSynthesizer: Sendable {
    /// Speaks `text` at `rate`; chunks arrive as they are made. Cancelling the consumer stops the synthesis.
    func synthesize(_ text: String, rate: AudioSampleRate, priority: SynthesisPriority) -> AsyncThrowingStream<SpeechChunk, any Error>
}

extension SpeechSynthesizer {
    /// The whole utterance at once (the phrase cache, a scripted caller's lines, an announcement, tests).
    public func synthesizeAll(_ text: String, rate: AudioSampleRate, priority: SynthesisPriority = .reply) async throws -> [Int16] {
        var samples: [Int16] = []
        for try await chunk in synthesize(text, rate: rate, priority: priority) { samples += chunk.samples }
        return samples
    }
}

/// Replies to a caller waiting now go before cache warm-up.
public enum SynthesisPriority: Int, Sendable, Comparable {
    case background = 0
    case reply = 1

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// The voice of the embedded synthesizer.
public struct EspeakVoice: Sendable, Hashable, Codable {
    public var name: String
    /// Words per minute (espeak-ng: 80...450).
    public var wordsPerMinute: Int
    /// 0...100.
    public var pitch: Int

    public init(name: String = "en-us", wordsPerMinute: Int = 165, pitch: Int = 50) {
        self.name = name
        self.wordsPerMinute = wordsPerMinute
        self.pitch = pitch
    }
}

/// espeak-ng, which is process-global and not re-entrant: one thread of its own owns it (initialised there, used
/// only there), taking jobs from a priority queue, replies first, then in arrival order. Synchronous mode hands
/// the audio over in chunks of `chunkMilliseconds` while the text is being synthesized, so the first chunk is
/// ready long before the whole reply. Each job resamples espeak's 22,050 Hz to the rate asked for with a fresh
/// resampler.
///
/// Within one process espeak-ng 1.51 does not give bit-identical audio for the same text twice (a few samples of
/// timing differ, even with libc's rand() seeded, though separate `espeak-ng` processes are bit-identical), so
/// "identical" in the tests means the same duration and loudness envelope, not the same bytes.
///
/// Create one per process (`shared`): a second instance would share espeak-ng's global state.
public final class EspeakSynthesizer: SpeechSynthesizer, @unchecked Sendable {
    // @unchecked: the queue is guarded by `condition`; espeak-ng and `Job.run` are touched only on `thread`.

    /// The process's synthesizer, started on first use (espeak-ng loads on its own thread; the caller awaits it
    /// without blocking a thread). Throws when espeak-ng cannot start (no espeak-ng-data installed).
    public static func shared() async throws -> EspeakSynthesizer {
        try await startup.synthesizer()
    }

    private static let startup = Startup()

    /// Starts the one synthesizer once; every caller awaits the same start.
    private actor Startup {
        private var task: Task<EspeakSynthesizer, any Error>?

        func synthesizer() async throws -> EspeakSynthesizer {
            if let task { return try await task.value }
            let task = Task { try await EspeakSynthesizer.start() }
            self.task = task
            return try await task.value
        }
    }

    public static let chunkMilliseconds: Int32 = 60

    public let voice: EspeakVoice
    public let nativeRate = AudioSampleRate.espeak
    private let condition = NSCondition()
    private var queue = SynthesisQueue<Job>()
    private var thread: Thread?
    /// Syntheses the caller stopped (barge-in) before they were finished.
    private var abortedCount = 0

    private init(voice: EspeakVoice) {
        self.voice = voice
    }

    /// Creates the synthesizer and its thread, and waits (suspended, not blocking) until espeak-ng is ready there.
    private static func start(voice: EspeakVoice = EspeakVoice()) async throws -> EspeakSynthesizer {
        let synthesizer = EspeakSynthesizer(voice: voice)
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let thread = Thread { synthesizer.loop(started: continuation) }
            thread.name = "espeak-ng"
            thread.stackSize = 1 << 20
            synthesizer.thread = thread
            thread.start()
        }
        return synthesizer
    }

    /// Syntheses stopped early because their consumer went away.
    public var abortedSyntheses: Int {
        condition.lock()
        defer { condition.unlock() }
        return abortedCount
    }

    fileprivate func recordAbort() {
        condition.lock()
        abortedCount += 1
        condition.unlock()
    }

    public func synthesize(_ text: String, rate: AudioSampleRate, priority: SynthesisPriority = .reply) -> AsyncThrowingStream<SpeechChunk, any Error> {
        let (stream, continuation) = AsyncThrowingStream<SpeechChunk, any Error>.makeStream()
        let job = Job(text: text, rate: rate, priority: priority, continuation: continuation)
        continuation.onTermination = { _ in job.cancel() }
        condition.lock()
        queue.push(job, priority: priority)
        condition.signal()
        condition.unlock()
        return stream
    }


    /// Jobs waiting (not counting the one being synthesized).
    public var pendingJobs: Int {
        condition.lock()
        defer { condition.unlock() }
        return queue.count
    }

    // MARK: - The synthesis thread

    private func loop(started: CheckedContinuation<Void, any Error>) {
        // DONT_EXIT: without it espeak-ng calls exit() when its data is missing.
        let rate = espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, Self.chunkMilliseconds, nil, Int32(espeakINITIALIZE_DONT_EXIT))
        guard rate == Int32(nativeRate.hertz) else {
            started.resume(throwing: SpeechError(code: .init("tts_unavailable"), message: "espeak-ng did not start (espeak_Initialize returned \(rate)): is espeak-ng-data installed?"))
            return
        }
        espeak_SetSynthCallback(espeakCallback)
        guard espeak_SetVoiceByName(voice.name) == EE_OK else {
            started.resume(throwing: SpeechError(code: .init("tts_unavailable"), message: "espeak-ng has no voice \(voice.name)"))
            return
        }
        espeak_SetParameter(espeakRATE, Int32(voice.wordsPerMinute), 0)
        espeak_SetParameter(espeakPITCH, Int32(voice.pitch), 0)
        started.resume()
        while true {
            condition.lock()
            while queue.isEmpty { condition.wait() }
            let job = queue.pop()!
            condition.unlock()
            if job.run() == .aborted { recordAbort() }
        }
    }

    /// One utterance: runs on the synthesis thread only.
    final class Job: @unchecked Sendable {
        let text: String
        let rate: AudioSampleRate
        let priority: SynthesisPriority
        let continuation: AsyncThrowingStream<SpeechChunk, any Error>.Continuation
        private let cancelled = NSLock()
        private var isCancelled = false
        private var resampler: Resampler?
        private var failure: (any Error)?

        init(text: String, rate: AudioSampleRate, priority: SynthesisPriority, continuation: AsyncThrowingStream<SpeechChunk, any Error>.Continuation) {
            self.text = text
            self.rate = rate
            self.priority = priority
            self.continuation = continuation
        }

        func cancel() {
            cancelled.withLock { isCancelled = true }
        }

        var wasCancelled: Bool { cancelled.withLock { isCancelled } }

        enum Ending { case finished, aborted, failed }

        func run() -> Ending {
            guard !wasCancelled else {
                continuation.finish()
                return .aborted
            }
            do {
                if rate != .espeak { resampler = try Resampler(from: .espeak, to: rate) }
            } catch {
                continuation.finish(throwing: error)
                return .failed
            }
            let unmanaged = Unmanaged.passUnretained(self)
            var bytes = Array(text.utf8CString)
            let status = bytes.withUnsafeMutableBytes { raw in
                espeak_Synth(raw.baseAddress, raw.count, 0, POS_CHARACTER, 0, UInt32(espeakCHARS_UTF8), nil, unmanaged.toOpaque())
            }
            if let failure {
                continuation.finish(throwing: failure)
                return .failed
            }
            guard status == EE_OK else {
                continuation.finish(throwing: SpeechError(code: .init("tts_failed"), message: "espeak_Synth failed (\(status.rawValue))"))
                return .failed
            }
            if wasCancelled {
                continuation.finish()
                return .aborted
            }
            // Flush the resampler's filter delay with silence so that the end of the last word is not cut.
            var tail: [Int16] = []
            if let resampler { try? resampler.process(Array(repeating: 0, count: resampler.inputLatency), into: &tail) }
            continuation.yield(SpeechChunk(samples: tail, rate: rate, isLast: true))
            continuation.finish()
            return .finished
        }

        /// Audio from espeak-ng (22,050 Hz); returns false to stop the synthesis.
        @discardableResult
        func receive(_ samples: [Int16]) -> Bool {
            guard !wasCancelled else { return false }
            var converted: [Int16] = []
            if let resampler {
                do { try resampler.process(samples, into: &converted) } catch {
                    failure = error
                    return false
                }
            } else {
                converted = samples
            }
            if !converted.isEmpty { continuation.yield(SpeechChunk(samples: converted, rate: rate, isLast: false)) }
            return true
        }
    }
}

/// espeak-ng's synthesis callback (a C function: it finds its job in the event's user data).
private func espeakCallback(_ wav: UnsafeMutablePointer<Int16>?, _ count: Int32, _ events: UnsafeMutablePointer<espeak_EVENT>?) -> Int32 {
    guard let events, let userData = events.pointee.user_data else { return 0 }
    let job = Unmanaged<EspeakSynthesizer.Job>.fromOpaque(userData).takeUnretainedValue()
    guard let wav, count > 0 else { return job.wasCancelled ? 1 : 0 }
    return job.receive(Array(UnsafeBufferPointer(start: wav, count: Int(count)))) ? 0 : 1
}
