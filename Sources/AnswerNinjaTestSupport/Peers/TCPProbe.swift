import Foundation

/// Connects to a loopback TCP port, sends one payload and reads what comes back until the peer is quiet for
/// `timeout` (bounded), off the cooperative pool: for baresip's ctrl_tcp commands.
public enum TCPProbe {
    /// `sourceHost`: connect from 127.0.0.`sourceHost`.
    public static func exchange(port: Int, payload: String, timeout: Duration = .seconds(1), sourceHost: UInt8 = 1) async throws -> String {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                do {
                    continuation.resume(returning: try blockingExchange(port: port, payload: payload, timeout: timeout, sourceHost: sourceHost))
                } catch {
                    continuation.resume(throwing: error)
                }
            }
        }
    }

    private static func blockingExchange(port: Int, payload: String, timeout: Duration, sourceHost: UInt8) throws -> String {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw PeerError("socket: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        if sourceHost != 1 {
            var source = PeerEnvironment.loopback(port: 0, host: sourceHost)
            let bound = withUnsafePointer(to: &source) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard bound == 0 else { throw PeerError("bind to 127.0.0.\(sourceHost): \(String(cString: strerror(errno)))") }
        }
        var address = PeerEnvironment.loopback(port: port)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw PeerError("connect to 127.0.0.1:\(port): \(String(cString: strerror(errno)))") }
        let milliseconds = Int(timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
        var limit = timeval(tv_sec: milliseconds / 1000, tv_usec: (milliseconds % 1000) * 1000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        let bytes = Array(payload.utf8)
        guard send(fd, bytes, bytes.count, 0) == bytes.count else { throw PeerError("send: \(String(cString: strerror(errno)))") }
        var reply: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        for _ in 0..<4096 {
            let received = recv(fd, &buffer, buffer.count, 0)
            guard received > 0 else { break }
            reply += buffer[..<received]
        }
        return String(decoding: reply, as: UTF8.self)
    }
}

/// Audio checks for call tests: the best normalised cross-correlation of a reference within a signal (1 is the
/// reference found exactly, up to gain), and a linear chirp to look for.
public enum AudioCorrelation {
    public static func chirp(from start: Double, to end: Double, seconds: Double, sampleRate: Int = 8000) -> [Float] {
        let count = Int(seconds * Double(sampleRate))
        let rate = (end - start) / seconds
        return (0..<count).map { index in
            let t = Double(index) / Double(sampleRate)
            return Float(sin(2 * .pi * (start * t + rate * t * t / 2)))
        }
    }

    /// `chirp` at a quarter of full scale, `times` over, each followed by `gap` samples of silence (half a second).
    public static func repeated(_ chirp: [Float], times: Int, gap: Int = 4000) -> [Int16] {
        (0..<times).flatMap { _ in chirp.map { Int16($0 * 8000) } + [Int16](repeating: 0, count: gap) }
    }

    /// max over lags of Σ s[i+lag]·r[i] / (‖s[lag..<lag+n]‖·‖r‖), worked out on a thread of its own: in a debug
    /// build it is seconds of arithmetic, which must not hold one of the cooperative pool's threads (two here) that
    /// every test running alongside needs (a test waiting on a 10 s deadline missed it while two of these ran).
    public static func best(_ signal: [Int16], _ reference: [Float]) async -> Double {
        await withCheckedContinuation { continuation in
            Thread { continuation.resume(returning: bestMatch(signal, reference)) }.start()
        }
    }

    private static func bestMatch(_ signal: [Int16], _ reference: [Float]) -> Double {
        let s = signal.map(Float.init)
        guard s.count >= reference.count, !reference.isEmpty else { return 0 }
        let referenceNorm = sqrt(reference.reduce(0) { $0 + Double($1) * Double($1) })
        var best = 0.0
        s.withUnsafeBufferPointer { s in
            reference.withUnsafeBufferPointer { r in
                var energy = 0.0
                for i in 0..<r.count { energy += Double(s[i]) * Double(s[i]) }
                for lag in 0...(s.count - r.count) {
                    if lag > 0 {
                        let out = Double(s[lag - 1]), into = Double(s[lag + r.count - 1])
                        energy += into * into - out * out
                    }
                    guard energy > 1 else { continue }
                    var dot: Float = 0
                    for i in 0..<r.count { dot += s[lag + i] * r[i] }
                    best = max(best, Double(dot) / (sqrt(max(energy, 1)) * referenceNorm))
                }
            }
        }
        return best
    }

    /// The 16-bit PCM of a WAV file as mono 8 kHz: `channel` alone (0 is the left: the caller in the gateway's
    /// stereo recordings) or the channels averaged, a rate that is a multiple of 8 kHz decimated.
    public static func samples(ofWAV url: URL, channel: Int? = nil) throws -> [Int16] {
        let data = try Data(contentsOf: url)
        guard let range = data.range(of: Data("data".utf8)) else { throw PeerError("\(url.lastPathComponent) has no data chunk") }
        let body = data[(range.upperBound + 4)...]
        let samples = body.withUnsafeBytes { Array($0.bindMemory(to: Int16.self)) }.map { Int16(littleEndian: $0) }
        // The fmt chunk: channels at +10, rate at +12 (a softphone may dump at its codec's rate, 48 kHz for Opus).
        guard let format = data.range(of: Data("fmt ".utf8)), data.count >= format.upperBound + 12 else { return samples }
        let bytes = [UInt8](data[format.upperBound..<format.upperBound + 12])
        let channels = max(1, Int(bytes[6]) | Int(bytes[7]) << 8)
        let rate = Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
        var mono = samples
        if channels > 1 {
            if let channel {
                guard channel < channels else { throw PeerError("\(url.lastPathComponent) has \(channels) channels, not \(channel + 1)") }
                mono = stride(from: channel, to: samples.count, by: channels).map { samples[$0] }
            } else {
                mono = stride(from: 0, to: samples.count - channels + 1, by: channels).map { start in
                    Int16(samples[start..<start + channels].reduce(0) { $0 + Int($1) } / channels)
                }
            }
        }
        let step = max(1, rate / 8000)
        guard step > 1, rate % 8000 == 0 else { return mono }
        // Down to 8 kHz by averaging each group of samples (what is above 4 kHz is negligible in a chirp).
        return stride(from: 0, to: mono.count - step + 1, by: step).map { start in
            Int16(mono[start..<start + step].reduce(0) { $0 + Int($1) } / step)
        }
    }

    /// Writes 16-bit mono 8 kHz PCM as a WAV file.
    public static func writeWAV(_ samples: [Int16], to url: URL, sampleRate: Int = 8000) throws {
        var data = Data()
        func le<T: FixedWidthInteger>(_ value: T) { withUnsafeBytes(of: value.littleEndian) { data.append(contentsOf: $0) } }
        data.append(contentsOf: Array("RIFF".utf8)); le(UInt32(36 + samples.count * 2)); data.append(contentsOf: Array("WAVEfmt ".utf8))
        le(UInt32(16)); le(UInt16(1)); le(UInt16(1)); le(UInt32(sampleRate)); le(UInt32(sampleRate * 2)); le(UInt16(2)); le(UInt16(16))
        data.append(contentsOf: Array("data".utf8)); le(UInt32(samples.count * 2))
        for sample in samples { le(sample) }
        try data.write(to: url)
    }
}
