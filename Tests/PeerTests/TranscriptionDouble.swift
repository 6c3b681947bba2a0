import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import Synchronization

/// A PROTOCOL DOUBLE of OpenAI's `/v1/audio/transcriptions` (the real service cannot be reached from here). What it
/// "hears" in each uploaded WAVE file is decided by `hear`: lines in order (`scripted`), or the closest of the lines a
/// test's callers say (`matching`). So the assistant's dialog is deterministic, and a test is about the pipeline, not
/// about how pocketsphinx hears espeak-ng (recognition is measured on human recordings in the unit tier).
final class TranscriptionDouble: Sendable {
    private let hear: @Sendable (_ samples: [Int16], _ rate: Int) -> String
    private let answered = Mutex<[String]>([])

    init(hear: @escaping @Sendable (_ samples: [Int16], _ rate: Int) -> String) { self.hear = hear }

    /// What it answered, request by request.
    var heard: [String] { answered.withLock { $0 } }

    /// Serves on a free loopback port while `body` runs with its base URL (key `test-key`).
    func run(_ body: @escaping @Sendable (String) async throws -> Void) async throws {
        let router = Router()
        router.post("/v1/audio/transcriptions") { request, _ -> Response in
            guard request.headers[.authorization] == "Bearer test-key" else { throw HTTPError(.unauthorized) }
            let upload = [UInt8](try await request.body.collect(upTo: 1 << 22).readableBytesView)
            guard let (samples, rate) = Self.wave(in: upload) else { throw HTTPError(.badRequest, message: "expected a WAVE file") }
            let text = self.hear(samples, rate)
            self.answered.withLock { $0.append(text) }
            let json = try JSONSerialization.data(withJSONObject: ["text": text, "segments": [["avg_logprob": -0.1]]])
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: json)))
        }
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        try await app.test(.live) { client in try await body("http://127.0.0.1:\(client.port!)") }
    }

    /// The samples and rate of the 16-bit WAVE file (a 44-byte header, as ours are) inside a multipart body.
    static func wave(in body: [UInt8]) -> (samples: [Int16], rate: Int)? {
        guard let riff = body.indices.first(where: { body[$0...].starts(with: Array("RIFF".utf8)) }), body.count >= riff + 44 else { return nil }
        func word(_ offset: Int) -> Int { (0..<4).reduce(0) { $0 | Int(body[riff + offset + $1]) << (8 * $1) } }
        let end = min(body.count, riff + 44 + word(40))
        let samples = stride(from: riff + 44, to: end - 1, by: 2).map { Int16(bitPattern: UInt16(body[$0]) | UInt16(body[$0 + 1]) << 8) }
        return (samples, word(24))
    }

    /// Hears `lines` in order, one per utterance; the same audio again (the client retrying a request that timed out
    /// on a loaded machine) hears the same line.
    static func scripted(_ lines: [String]) -> TranscriptionDouble {
        let state = Mutex<(lines: [String], known: [[Int16]: String])>((lines, [:]))
        return TranscriptionDouble { samples, _ in
            state.withLock { state in
                if let known = state.known[samples] { return known }
                let line = state.lines.isEmpty ? "" : state.lines.removeFirst()
                state.known[samples] = line
                return line
            }
        }
    }

    /// Hears the one of `lines` (each with its audio as the caller's tool says it) whose level contour matches the
    /// utterance best: 10 ms levels in dB, trimmed to within 30 dB of the loudest, correlated at every offset and
    /// weighted by how alike the two lengths are. Nothing matching at 0.5 or better is heard as "" (not speech).
    /// Concurrent calls need this: which call an upload comes from is not in the request.
    static func matching(_ lines: [(text: String, audio: [Int16])]) -> TranscriptionDouble {
        let templates = lines.map { (text: $0.text, contour: contour($0.audio, rate: 8000)) }
        return TranscriptionDouble { samples, rate in
            let heard = contour(samples, rate: rate)
            let best = templates.map { (text: $0.text, score: similarity($0.contour, heard)) }.max { $0.score < $1.score }
            guard let best, best.score >= 0.5 else { return "" }
            return best.text
        }
    }

    static func contour(_ samples: [Int16], rate: Int) -> [Double] {
        let frame = max(1, rate / 100)
        let levels = stride(from: 0, to: samples.count - frame + 1, by: frame).map { start in
            10 * log10(samples[start..<start + frame].reduce(0.0) { $0 + Double($1) * Double($1) } / Double(frame) + 1)
        }
        guard let top = levels.max(), let first = levels.firstIndex(where: { $0 > top - 30 }), let last = levels.lastIndex(where: { $0 > top - 30 }) else {
            return []
        }
        return Array(levels[first...last])
    }

    /// The best correlation of the shorter contour within the longer, times the ratio of their lengths.
    static func similarity(_ a: [Double], _ b: [Double]) -> Double {
        let (short, long) = a.count <= b.count ? (a, b) : (b, a)
        guard short.count >= 10 else { return 0 }
        let best = (0...(long.count - short.count)).map { lag in correlation(short[...], long[lag..<lag + short.count]) }.max() ?? 0
        return best * Double(short.count) / Double(long.count)
    }

    private static func correlation(_ x: ArraySlice<Double>, _ y: ArraySlice<Double>) -> Double {
        let n = Double(x.count), meanX = x.reduce(0, +) / n, meanY = y.reduce(0, +) / n
        var products = 0.0, squaresX = 0.0, squaresY = 0.0
        for (u, v) in zip(x, y) {
            products += (u - meanX) * (v - meanY)
            squaresX += (u - meanX) * (u - meanX)
            squaresY += (v - meanY) * (v - meanY)
        }
        return squaresX > 0 && squaresY > 0 ? products / (squaresX * squaresY).squareRoot() : 0
    }
}
