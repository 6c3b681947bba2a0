import AnswerNinjaCore
import Benchmark
import Codecs
import MediaDSP
import NIOCore
import RTP
import SRTP

/// The per-call, per-20 ms costs of the media path, each with its baseline in the same run (docs/media.md):
/// - raw libsrtp protect + unprotect of one packet (the baseline the transport path is held to, at most 2×);
/// - the transport path: receive (unprotect → RTP parse → jitter buffer insert and pull → G.711 decode) and send
///   (G.711 encode → RTP serialise → protect), with reused buffers;
/// - the VAD alone on one 20 ms frame at 8 kHz (two 10 ms frames);
/// - a negative control that allocates once per iteration, which the malloc counter must report as 1.
/// One call's G.711 media path without SRTP, with every buffer reused: what both transport benchmarks run.
struct G711TransportPath {
    var jitter = JitterBuffer(configuration: .init(clockRate: 8000))
    var outgoing = ByteBuffer()
    var decoded: [Int16] = []
    var encoded: [UInt8] = []
    let speech = [Int16](repeating: 1200, count: 160)

    init() {
        outgoing.reserveCapacity(512)
        decoded.reserveCapacity(160)
        encoded.reserveCapacity(160)
    }

    /// A far-end packet as it arrives (before any SRTP), written into `wire`.
    static func farEnd(_ sequence: UInt16, into wire: inout ByteBuffer) {
        wire.clear()
        wire.writeMultipleIntegers(UInt8(0x80), UInt8(0), sequence, UInt32(sequence) &* 160, UInt32(0x1234))
        wire.writeRepeatingByte(0xFF, count: 160)
    }

    /// Receive: RTP parse → jitter buffer insert and pull → G.711 decode.
    mutating func receive(_ wire: ByteBuffer, first: Bool, now: UInt64) throws {
        let packet = try RTPPacket(parsing: wire)
        packet.payload.withUnsafeReadableBytes { payload in
            _ = jitter.insert(sequence: packet.sequenceNumber, timestamp: packet.timestamp, ssrc: packet.ssrc, marker: first, payload: payload, arrival: MediaInstant(nanoseconds: now))
        }
        let playout = jitter.pull(now: MediaInstant(nanoseconds: now))
        _ = jitter.payload(of: playout) { G711.decode($0, law: .muLaw, into: &decoded) }
    }

    /// Send: G.711 encode → RTP serialise into `outgoing`.
    mutating func send(_ sequence: UInt16) {
        G711.encode(speech, law: .muLaw, into: &encoded)
        outgoing.clear()
        outgoing.writeMultipleIntegers(UInt8(0x80), UInt8(0), sequence, UInt32(sequence) &* 160, UInt32(0x5678))
        outgoing.writeBytes(encoded)
    }
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(metrics: [.wallClock, .mallocCountTotal, .throughput], maxDuration: .seconds(2), maxIterations: 200_000)

    for suite in [SRTPCryptoSuite.aeadAES128GCM, .aesCM128HMACSHA1_80] {
        for implementation in SRTPImplementation.allCases {
            let name = implementation == .libsrtp ? "Baseline: libsrtp" : "Native SRTP (OpenSSL)"
            Benchmark("\(name) protect + unprotect (\(suite.rawValue))") { benchmark in
                let material = SRTPKeyMaterial.random(for: suite)
                let sender = try implementation.make(suite: suite, material: material, direction: .outbound)
                let receiver = try implementation.make(suite: suite, material: material, direction: .inbound)
                var buffer = ByteBuffer()
                buffer.reserveCapacity(512)
                var sequence: UInt16 = 0
                benchmark.startMeasurement()
                for _ in benchmark.scaledIterations {
                    buffer.clear()
                    buffer.writeMultipleIntegers(UInt8(0x80), UInt8(0), sequence, UInt32(sequence) &* 160, UInt32(0xCAFE_BABE))
                    buffer.writeRepeatingByte(0xFF, count: 160)
                    try sender.protect(&buffer)
                    try receiver.unprotect(&buffer)
                    sequence &+= 1
                    blackHole(buffer.readableBytes)
                }
            }
        }

        for implementation in SRTPImplementation.allCases {
        Benchmark("Transport path, \(implementation.rawValue) SRTP: receive and send one 20 ms G.711 packet (\(suite.rawValue))") { benchmark in
            let material = SRTPKeyMaterial.random(for: suite)
            let peer = try implementation.make(suite: suite, material: material, direction: .outbound)
            let receiver = try implementation.make(suite: suite, material: material, direction: .inbound)
            let sender = try implementation.make(suite: suite, material: SRTPKeyMaterial.random(for: suite), direction: .outbound)
            var path = G711TransportPath()
            var wire = ByteBuffer()
            wire.reserveCapacity(512)
            var sequence: UInt16 = 0
            var now: UInt64 = 1_000_000_000
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations {
                // What the far end sent (the same cost as our send side's protect).
                G711TransportPath.farEnd(sequence, into: &wire)
                try peer.protect(&wire)
                try receiver.unprotect(&wire)
                try path.receive(wire, first: sequence == 0, now: now)
                path.send(sequence)
                try sender.protect(&path.outgoing)
                blackHole(path.outgoing.readableBytes)
                sequence &+= 1
                now += 20_000_000
            }
        }
        }
    }

    Benchmark("Transport path without SRTP: our code alone (parse, jitter buffer, G.711 both ways, serialise)") { benchmark in
        var path = G711TransportPath()
        var wire = ByteBuffer()
        wire.reserveCapacity(512)
        var sequence: UInt16 = 0
        var now: UInt64 = 1_000_000_000
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            G711TransportPath.farEnd(sequence, into: &wire)
            try path.receive(wire, first: sequence == 0, now: now)
            path.send(sequence)
            blackHole(path.outgoing.readableBytes)
            sequence &+= 1
            now += 20_000_000
        }
    }

    Benchmark("VAD: one 20 ms frame at 8 kHz") { benchmark in
        var vad = VoiceActivityDetector()
        var state: UInt32 = 1
        let frame = (0..<160).map { _ -> Int16 in
            state = state &* 1_103_515_245 &+ 12345
            return Int16(truncatingIfNeeded: Int32(bitPattern: state) >> 20)
        }
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(vad.process(frame[0..<80]))
            blackHole(vad.process(frame[80..<160]))
        }
    }

    Benchmark("Negative control: one allocation per iteration") { benchmark in
        for index in benchmark.scaledIterations {
            blackHole([index, index + 1, index + 2])
        }
    }
}
