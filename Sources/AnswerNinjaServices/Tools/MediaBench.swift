import AnswerNinjaCore
import MediaDSP
import MediaTransport
import NIOCore
import SRTP

/// `answer-ninja bench media`: the per-packet costs of the media path, timed in this process against baselines
/// measured in the same run, and the targets of the media issue checked as ratios (docs/benchmarks.md). Build in
/// release: a debug build is 10-50× slower and says so. Allocation counts need a malloc interposer and live in the
/// benchmark package (Benchmarks/), which runs the same `MediaPath`.
public struct MediaBench: Sendable {
    /// "debug" or "release": what the figures of a report were measured with.
    public static var buildKind: String {
        #if DEBUG
        "debug"
        #else
        "release"
        #endif
    }

    public struct Measurement: Codable, Sendable, Equatable {
        public var name: String
        /// Nanoseconds per operation: the best of the rounds (the least disturbed by other work on the machine).
        public var nanoseconds: Double
    }

    public struct Check: Codable, Sendable, Equatable {
        public var target: String
        public var value: Double
        public var limit: String
        public var met: Bool
    }

    public struct Report: Codable, Sendable, CommandOutput {
        public var build: String
        public var packets: Int
        public var measurements: [Measurement]
        public var callsPerCore: [String: Double]
        public var checks: [Check]
        public var ok: Bool { checks.allSatisfy(\.met) }

        public var humanReadable: String {
            var lines = ["media path, \(packets) packets per round, \(build) build" + (build == "debug" ? " (figures are not representative: build with -c release)" : "")]
            lines += measurements.map { String(format: "%10.0f ns  %@", $0.nanoseconds, $0.name) }
            lines += callsPerCore.sorted { $0.key < $1.key }.map { String(format: "%10.0f calls per core  %@", $0.value, $0.key) }
            lines += checks.map { String(format: "%@ %@: %.2f (%@)", $0.met ? "met " : "MISS", $0.target, $0.value, $0.limit) }
            return lines.joined(separator: "\n")
        }
    }

    public var packets: Int
    public var rounds: Int

    public init(packets: Int = 20_000, rounds: Int = 5) {
        self.packets = max(100, packets)
        self.rounds = max(1, rounds)
    }

    public func run() throws -> Report {
        var measurements: [Measurement] = []
        var calls: [String: Double] = [:]
        var checks: [Check] = []
        let vad = measure("VAD: one 20 ms frame at 8 kHz", Self.vadLoop)
        measurements.append(vad)
        checks.append(Check(target: "VAD per 20 ms frame, µs", value: vad.nanoseconds / 1000, limit: "≤ 3", met: vad.nanoseconds <= 3000))
        let plain = try measure("transport path, plain RTP (our code alone)") { try Self.pathLoop(suite: nil, implementation: .native, packets: $0) }
        measurements.append(plain)
        for suite in [SRTPCryptoSuite.aeadAES128GCM, .aesCM128HMACSHA1_80] {
            for implementation in SRTPImplementation.allCases {
                let raw = try measure("\(implementation.rawValue) SRTP protect + unprotect (\(suite.rawValue))") {
                    try Self.srtpLoop(suite: suite, implementation: implementation, packets: $0)
                }
                let path = try measure("transport path, \(implementation.rawValue) SRTP (\(suite.rawValue))") {
                    try Self.pathLoop(suite: suite, implementation: implementation, packets: $0)
                }
                measurements += [raw, path]
                let ratio = path.nanoseconds / raw.nanoseconds
                checks.append(Check(
                    target: "transport path ÷ raw \(implementation.rawValue) SRTP (\(suite.rawValue))", value: ratio, limit: "≤ 2", met: ratio <= 2
                ))
                let perCore = 1e9 / (50 * (path.nanoseconds + vad.nanoseconds))
                calls["\(implementation.rawValue) SRTP, \(suite.rawValue)"] = perCore
                if implementation == .native && suite == .aeadAES128GCM {
                    checks.append(Check(target: "calls per core, GCM, the media path's SRTP", value: perCore, limit: "≥ 3000", met: perCore >= 3000))
                }
            }
        }
        // A bridged packet, SRTP in on one leg (GCM) and out on the other: relayed as it came, against transcoded.
        let relay = try measure("bridge, relayed (same codec): unprotect, rewrite, protect") { try Self.bridgeLoop(relay: true, packets: $0) }
        let transcode = try measure("bridge, transcoded: unprotect, jitter buffer, decode, encode, protect") { try Self.bridgeLoop(relay: false, packets: $0) }
        measurements += [relay, transcode]
        let bridgeRatio = relay.nanoseconds / transcode.nanoseconds
        checks.append(Check(target: "bridge: relayed ÷ transcoded packet", value: bridgeRatio, limit: "< 1", met: bridgeRatio < 1))
        let build = MediaBench.buildKind
        return Report(build: build, packets: packets, measurements: measurements, callsPerCore: calls, checks: checks)
    }

    /// Runs `body(packets)` `rounds` times after one warm-up round and keeps the fastest, per packet. `body`
    /// returns the time of the work measured (it prepares its inputs outside it).
    private func measure(_ name: String, _ body: (Int) throws -> Duration) rethrows -> Measurement {
        _ = try body(min(packets, 1000))
        var best = Duration.seconds(3600)
        for _ in 0..<rounds { best = min(best, try body(packets)) }
        return Measurement(name: name, nanoseconds: Double(best.nanosecondsClamped) / Double(packets))
    }

    /// A 20 ms G.711 packet received (unprotect → parse → jitter buffer → decode) and one sent (encode →
    /// serialise → protect) per iteration, through `MediaPath`. The far end's packets are made by a second path
    /// before the clock starts; each is copied into the receive buffer as a socket read would.
    static func pathLoop(suite: SRTPCryptoSuite?, implementation: SRTPImplementation, packets: Int) throws -> Duration {
        let farKey = suite.map(SRTPKeyMaterial.random(for:)), ourKey = suite.map(SRTPKeyMaterial.random(for:))
        var far = MediaPath(law: .muLaw, ssrc: 0x1234, inbound: nil, outbound: try farKey.map { try implementation.make(suite: suite!, material: $0, direction: .outbound) })
        var path = MediaPath(
            law: .muLaw, ssrc: 0x5678, inbound: try farKey.map { try implementation.make(suite: suite!, material: $0, direction: .inbound) },
            outbound: try ourKey.map { try implementation.make(suite: suite!, material: $0, direction: .outbound) }
        )
        let speech = [Int16](repeating: 1200, count: 160)
        let arriving = try Self.arriving(from: &far, speech: speech, packets: packets)
        var wire = ByteBuffer(), outgoing = ByteBuffer()
        wire.reserveCapacity(256)
        outgoing.reserveCapacity(256)
        var now = MediaInstant(nanoseconds: 1_000_000_000)
        let elapsed = try ContinuousClock().measure {
            for datagram in arriving {
                wire.clear()
                wire.writeImmutableBuffer(datagram)
                _ = path.receive(&wire, at: now)
                path.playout(now: now)
                try path.send(speech[...], into: &outgoing)
                now = now.advanced(by: .milliseconds(20))
            }
        }
        precondition(path.jitter.statistics.played > packets / 2, "the path played what it received")
        blackHole(outgoing.readableBytes + path.audio.count)
        return elapsed
    }

    /// The far end's packets of a loop, made before its clock starts: `speech` in each.
    static func arriving(from far: inout MediaPath, speech: [Int16], packets: Int) throws -> [ByteBuffer] {
        var arriving: [ByteBuffer] = []
        arriving.reserveCapacity(packets)
        for index in 0..<packets {
            var datagram = ByteBuffer()
            try far.send(speech[...], marker: index == 0, into: &datagram)
            arriving.append(datagram)
        }
        return arriving
    }

    /// One packet across a bridge per iteration, native SRTP (GCM) on both legs with different keys: the caller's
    /// leg takes it and the device's leg sends it — relayed (`receive(forwarding:)` then `relay`: no jitter buffer,
    /// no codec) or transcoded (receive, play out through the jitter buffer and decoder, encode and send).
    static func bridgeLoop(relay: Bool, packets: Int) throws -> Duration {
        let suite = SRTPCryptoSuite.aeadAES128GCM
        let trunk = SRTPKeyMaterial.random(for: suite), phone = SRTPKeyMaterial.random(for: suite)
        var far = MediaPath(law: .muLaw, ssrc: 0x1234, inbound: nil, outbound: try NativeSRTPSession(suite: suite, material: trunk, direction: .outbound))
        var callerLeg = MediaPath(law: .muLaw, ssrc: 0x5678, inbound: try NativeSRTPSession(suite: suite, material: trunk, direction: .inbound), outbound: nil)
        var deviceLeg = MediaPath(law: .muLaw, ssrc: 0x9ABC, inbound: nil, outbound: try NativeSRTPSession(suite: suite, material: phone, direction: .outbound))
        let speech = [Int16](repeating: 1200, count: 160)
        let arriving = try Self.arriving(from: &far, speech: speech, packets: packets)
        var wire = ByteBuffer(), outgoing = ByteBuffer()
        wire.reserveCapacity(256)
        outgoing.reserveCapacity(256)
        var now = MediaInstant(nanoseconds: 1_000_000_000)
        let elapsed = try ContinuousClock().measure {
            for datagram in arriving {
                wire.clear()
                wire.writeImmutableBuffer(datagram)
                if relay {
                    if case .forward = callerLeg.receive(&wire, at: now, forwarding: true) { _ = try deviceLeg.relay(&wire, event: false, at: now) }
                } else {
                    _ = callerLeg.receive(&wire, at: now)
                    callerLeg.playout(now: now)
                    try deviceLeg.send(callerLeg.audio.isEmpty ? speech[...] : callerLeg.audio[...], into: &outgoing)
                }
                now = now.advanced(by: .milliseconds(20))
            }
        }
        precondition(deviceLeg.statistics.sent == packets, "every packet crossed the bridge")
        blackHole(outgoing.readableBytes + wire.readableBytes)
        return elapsed
    }

    static func srtpLoop(suite: SRTPCryptoSuite, implementation: SRTPImplementation, packets: Int) throws -> Duration {
        let material = SRTPKeyMaterial.random(for: suite)
        let sender = try implementation.make(suite: suite, material: material, direction: .outbound)
        let receiver = try implementation.make(suite: suite, material: material, direction: .inbound)
        var buffer = ByteBuffer()
        buffer.reserveCapacity(256)
        let elapsed = try ContinuousClock().measure {
            for sequence in 0..<packets {
                buffer.clear()
                buffer.writeMultipleIntegers(UInt8(0x80), UInt8(0), UInt16(truncatingIfNeeded: sequence), UInt32(truncatingIfNeeded: sequence) &* 160, UInt32(0xCAFE_BABE))
                buffer.writeRepeatingByte(0xFF, count: 160)
                try sender.protect(&buffer)
                try receiver.unprotect(&buffer)
            }
        }
        blackHole(buffer.readableBytes)
        return elapsed
    }

    static func vadLoop(packets: Int) -> Duration {
        var vad = VoiceActivityDetector()
        var state: UInt32 = 1
        let frame = (0..<160).map { _ -> Int16 in
            state = state &* 1_103_515_245 &+ 12345
            return Int16(truncatingIfNeeded: Int32(bitPattern: state) >> 20)
        }
        var speech = 0
        let elapsed = ContinuousClock().measure {
            for _ in 0..<packets {
                if vad.process(frame[0..<80]).speech { speech += 1 }
                if vad.process(frame[80..<160]).speech { speech += 1 }
            }
        }
        blackHole(speech)
        return elapsed
    }
}

/// Keeps a value alive so the optimiser cannot drop the work that made it.
@inline(never)
func blackHole<T>(_ value: T) {
    withExtendedLifetime(value) {}
}
