import AnswerNinjaCore
import Benchmark
import MediaDSP
import MediaTransport
import NIOCore
import SRTP

/// The per-packet costs and allocations of the media path (docs/benchmarks.md), each with its baseline in the same
/// run. `answer-ninja bench media` times the same `MediaPath` and checks the targets as ratios; this package adds
/// what needs the malloc interposer: allocations per packet, which must be 0 in steady state.
///
/// Each benchmark builds its state and warms it up (first packets, first talkspurt) before `startMeasurement`,
/// runs 1,000 packets (scaling factor kilo: figures are per packet with `--scale`), and calls `stopMeasurement`
/// before its state is torn down, so that setup and teardown (srtp_create, srtp_dealloc) are never counted. An
/// earlier version let the teardown fall inside the measurement and charged libsrtp about 50 µs per packet.
///
/// Names have no spaces or slashes: `thresholds update` writes its files with them replaced by underscores but
/// `thresholds check` looks for the names as they are (ordo-one/benchmark 1.x).
///
/// - `SRTP.protect+unprotect.<implementation>.<suite>`: one packet protected and unprotected (the baselines);
/// - `TransportPath.<implementation>.<suite>`: one 20 ms G.711 packet received and played, one sent;
/// - `TransportPath.plainRTP`: the same without SRTP, our code alone;
/// - `Bridge.relay.native.GCM`: one packet relayed across a bridge (unprotect, header rewrite, protect);
/// - `VAD.oneFrameOf20ms`: the VAD on 20 ms at 8 kHz;
/// - `NegativeControl.oneAllocationPerIteration`: must count 1.
func perPacket() -> Benchmark.Configuration {
    .init(
        metrics: [.wallClock, .mallocCountTotal, .throughput], scalingFactor: .kilo, maxDuration: .seconds(2), maxIterations: 10_000,
        thresholds: [.mallocCountTotal: .init(absolute: [.p0: 0, .p25: 0, .p50: 0, .p75: 0, .p90: 0, .p99: 0, .p100: 0])]
    )
}

/// A far end and our leg, keyed for `suite` (plain RTP when nil), with `count` far-end packets made in advance.
struct Call {
    var path: MediaPath
    var arriving: [ByteBuffer] = []
    var wire = ByteBuffer(), outgoing = ByteBuffer()
    var now = MediaInstant(nanoseconds: 1_000_000_000)
    var next = 0
    let speech = [Int16](repeating: 1200, count: 160)

    init(suite: SRTPCryptoSuite?, implementation: SRTPImplementation, count: Int) throws {
        let farKey = suite.map(SRTPKeyMaterial.random(for:)), ourKey = suite.map(SRTPKeyMaterial.random(for:))
        func make(_ key: SRTPKeyMaterial?, _ direction: SRTPSession.Direction) throws -> (any SRTPTransform)? {
            try key.map { try implementation.make(suite: suite!, material: $0, direction: direction) }
        }
        var far = MediaPath(law: .muLaw, ssrc: 0x1234, inbound: nil, outbound: try make(farKey, .outbound))
        path = MediaPath(law: .muLaw, ssrc: 0x5678, inbound: try make(farKey, .inbound), outbound: try make(ourKey, .outbound))
        arriving.reserveCapacity(count)
        for index in 0..<count {
            var datagram = ByteBuffer()
            try far.send(speech[...], marker: index == 0, into: &datagram)
            arriving.append(datagram)
        }
        wire.reserveCapacity(256)
        outgoing.reserveCapacity(256)
    }

    /// One packet received and played, one sent.
    mutating func step() throws {
        wire.clear()
        wire.writeImmutableBuffer(arriving[next])
        next += 1
        _ = path.receive(&wire, at: now)
        path.playout(now: now)
        try path.send(speech[...], into: &outgoing)
        now = now.advanced(by: .milliseconds(20))
    }
}

let benchmarks: @Sendable () -> Void = {
    for suite in [SRTPCryptoSuite.aeadAES128GCM, .aesCM128HMACSHA1_80] {
        for implementation in SRTPImplementation.allCases {
            Benchmark("SRTP.protect+unprotect.\(implementation.rawValue).\(suite.rawValue)", configuration: perPacket()) { benchmark in
                let material = SRTPKeyMaterial.random(for: suite)
                let sender = try implementation.make(suite: suite, material: material, direction: .outbound)
                let receiver = try implementation.make(suite: suite, material: material, direction: .inbound)
                var buffer = ByteBuffer()
                buffer.reserveCapacity(256)
                var sequence: UInt16 = 0
                func packet() throws {
                    buffer.clear()
                    buffer.writeMultipleIntegers(UInt8(0x80), UInt8(0), sequence, UInt32(sequence) &* 160, UInt32(0xCAFE_BABE))
                    buffer.writeRepeatingByte(0xFF, count: 160)
                    try sender.protect(&buffer)
                    try receiver.unprotect(&buffer)
                    sequence &+= 1
                }
                for _ in 0..<100 { try packet() }
                benchmark.startMeasurement()
                for _ in benchmark.scaledIterations { try packet() }
                benchmark.stopMeasurement()
                blackHole(buffer.readableBytes)
            }

            Benchmark("TransportPath.\(implementation.rawValue).\(suite.rawValue)", configuration: perPacket()) { benchmark in
                var call = try Call(suite: suite, implementation: implementation, count: 100 + benchmark.scaledIterations.count)
                for _ in 0..<100 { try call.step() }
                benchmark.startMeasurement()
                for _ in benchmark.scaledIterations { try call.step() }
                benchmark.stopMeasurement()
                blackHole(call.outgoing.readableBytes)
            }
        }
    }

    Benchmark("TransportPath.plainRTP", configuration: perPacket()) { benchmark in
        var call = try Call(suite: nil, implementation: .native, count: 100 + benchmark.scaledIterations.count)
        for _ in 0..<100 { try call.step() }
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations { try call.step() }
        benchmark.stopMeasurement()
        blackHole(call.outgoing.readableBytes)
    }

    // A bridge that relays (same codec on both legs): native GCM in on the caller's leg, native GCM out on the
    // device's with other keys; no jitter buffer, no codec. Steady state must not allocate.
    Benchmark("Bridge.relay.native.GCM", configuration: perPacket()) { benchmark in
        let suite = SRTPCryptoSuite.aeadAES128GCM
        let trunk = SRTPKeyMaterial.random(for: suite), phone = SRTPKeyMaterial.random(for: suite)
        var far = MediaPath(law: .muLaw, ssrc: 1, inbound: nil, outbound: try SRTPImplementation.native.make(suite: suite, material: trunk, direction: .outbound))
        var callerLeg = MediaPath(law: .muLaw, ssrc: 2, inbound: try SRTPImplementation.native.make(suite: suite, material: trunk, direction: .inbound), outbound: nil)
        var deviceLeg = MediaPath(law: .muLaw, ssrc: 3, inbound: nil, outbound: try SRTPImplementation.native.make(suite: suite, material: phone, direction: .outbound))
        let speech = [Int16](repeating: 1200, count: 160)
        var arriving: [ByteBuffer] = []
        for index in 0..<(100 + benchmark.scaledIterations.count) {
            var datagram = ByteBuffer()
            try far.send(speech[...], marker: index == 0, into: &datagram)
            arriving.append(datagram)
        }
        var wire = ByteBuffer()
        wire.reserveCapacity(256)
        var now = MediaInstant(nanoseconds: 1_000_000_000)
        var next = 0
        func step() throws {
            wire.clear()
            wire.writeImmutableBuffer(arriving[next])
            next += 1
            if case .forward = callerLeg.receive(&wire, at: now, forwarding: true) { _ = try deviceLeg.relay(&wire, event: false, at: now) }
            now = now.advanced(by: .milliseconds(20))
        }
        for _ in 0..<100 { try step() }
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations { try step() }
        benchmark.stopMeasurement()
        blackHole(wire.readableBytes)
    }

    Benchmark("VAD.oneFrameOf20ms", configuration: perPacket()) { benchmark in
        var vad = VoiceActivityDetector()
        var state: UInt32 = 1
        let frame = (0..<160).map { _ -> Int16 in
            state = state &* 1_103_515_245 &+ 12345
            return Int16(truncatingIfNeeded: Int32(bitPattern: state) >> 20)
        }
        blackHole(vad.process(frame[0..<80]))
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(vad.process(frame[0..<80]))
            blackHole(vad.process(frame[80..<160]))
        }
        benchmark.stopMeasurement()
    }

    Benchmark(
        "NegativeControl.oneAllocationPerIteration",
        configuration: .init(
            metrics: [.wallClock, .mallocCountTotal], maxDuration: .seconds(1), maxIterations: 10_000,
            thresholds: [.mallocCountTotal: .init(absolute: [.p0: 0, .p50: 0, .p100: 0])]
        )
    ) { benchmark in
        for index in benchmark.scaledIterations {
            blackHole([index, index + 1, index + 2])
        }
    }
}
