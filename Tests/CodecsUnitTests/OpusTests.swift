import AnswerNinjaCore
import Codecs
import Foundation
import Testing

@Suite struct OpusTests {
    static func speechLike(rate: AudioSampleRate, seconds: Double) -> [Int16] {
        // Two formant-like tones with a slow amplitude envelope: stationary enough to measure, voiced enough for SILK.
        (0..<Int(Double(rate.hertz) * seconds)).map { index in
            let t = Double(index) / Double(rate.hertz)
            let envelope = 0.6 + 0.4 * sin(2 * .pi * 3 * t)
            return Int16(8000 * envelope * (sin(2 * .pi * 440 * t) + 0.5 * sin(2 * .pi * 1200 * t)))
        }
    }

    /// SNR in dB between `reference` and `decoded`, after aligning by the codec delay (searched).
    static func snr(_ reference: [Int16], _ decoded: [Int16]) -> Double {
        var best = -Double.infinity
        for delay in 0..<min(800, decoded.count / 4) {
            var signal = 0.0, noise = 0.0
            let count = min(reference.count, decoded.count - delay) - 2000
            guard count > 0 else { break }
            for index in 1000..<(1000 + count) {
                let s = Double(reference[index])
                let n = s - Double(decoded[index + delay])
                signal += s * s
                noise += n * n
            }
            best = max(best, 10 * log10(signal / max(noise, 1)))
        }
        return best
    }

    @Test(arguments: [AudioSampleRate.narrowband, .wideband, .fullband])
    func roundTripKeepsTheSignal(rate: AudioSampleRate) throws {
        let encoder = try OpusEncoderSession(sampleRate: rate, bitrate: 32_000, fecLossPercent: 0, dtx: false)
        let decoder = try OpusDecoderSession(sampleRate: rate)
        let input = Self.speechLike(rate: rate, seconds: 1)
        let frame = OpusFrameDuration.ms20.samples(at: rate)
        var output: [Int16] = []
        var packet: [UInt8] = []
        for start in stride(from: 0, to: input.count - frame + 1, by: frame) {
            packet.removeAll(keepingCapacity: true)
            try encoder.encode(Array(input[start..<start + frame]), duration: .ms20, into: &packet)
            #expect(packet.count > 2 && packet.count < 200)
            try decoder.decode(packet, into: &output)
        }
        #expect(output.count == input.count)
        #expect(Self.snr(input, output) > 8, "Opus at \(rate)")
        #expect(encoder.lookahead > 0)
    }

    @Test func everyFrameDurationEncodesAndTheRTPClockIs48kHz() throws {
        let encoder = try OpusEncoderSession(sampleRate: .fullband, fecLossPercent: 0, dtx: false)
        let decoder = try OpusDecoderSession(sampleRate: .fullband)
        for duration in OpusFrameDuration.allCases {
            var packet: [UInt8] = []
            try encoder.encode(Self.speechLike(rate: .fullband, seconds: Double(duration.rawValue) / 10_000), duration: duration, into: &packet)
            var output: [Int16] = []
            try decoder.decode(packet, into: &output)
            #expect(output.count == duration.samples(at: .fullband), "\(duration)")
            #expect(duration.rtpTimestampUnits == UInt32(duration.samples(at: .fullband)))
        }
        #expect(OpusFrameDuration.ms20.rtpTimestampUnits == 960)
        #expect(OpusFrameDuration.ms20.samples(at: .narrowband) == 160)
        var packet: [UInt8] = []
        #expect { try encoder.encode([Int16](repeating: 0, count: 100), duration: .ms20, into: &packet) } throws: {
            ($0 as? CodecError)?.code.rawValue == "frame_size"
        }
        #expect { try OpusEncoderSession(sampleRate: .espeak) } throws: { ($0 as? CodecError)?.code.rawValue == "unsupported_rate" }
    }

    @Test func inBandFECRecoversALostPacketBetterThanConcealment() throws {
        let rate = AudioSampleRate.wideband
        let encoder = try OpusEncoderSession(sampleRate: rate, bitrate: 32_000, fecLossPercent: 20, dtx: false)
        let input = Self.speechLike(rate: rate, seconds: 1)
        let frame = OpusFrameDuration.ms20.samples(at: rate)
        var packets: [[UInt8]] = []
        for start in stride(from: 0, to: input.count - frame + 1, by: frame) {
            var packet: [UInt8] = []
            try encoder.encode(Array(input[start..<start + frame]), duration: .ms20, into: &packet)
            packets.append(packet)
        }
        // Every fifth packet lost: recovered from the next packet's FEC, or concealed.
        func decodeWithLoss(fec: Bool) throws -> [Int16] {
            let decoder = try OpusDecoderSession(sampleRate: rate)
            var output: [Int16] = []
            for (index, packet) in packets.enumerated() {
                if index % 5 == 2 {
                    if fec { try decoder.recover(.ms20, from: packets[index + 1], into: &output) } else { try decoder.conceal(.ms20, into: &output) }
                } else {
                    try decoder.decode(packet, into: &output)
                }
            }
            return output
        }
        let recovered = try decodeWithLoss(fec: true)
        let concealed = try decodeWithLoss(fec: false)
        #expect(recovered.count == input.count && concealed.count == input.count)
        #expect(Self.snr(input, recovered) > Self.snr(input, concealed), "FEC beats PLC")
    }

    @Test func dtxMakesSilenceTiny() throws {
        let encoder = try OpusEncoderSession(sampleRate: .narrowband, dtx: true)
        var sizes: [Int] = []
        for _ in 0..<50 {
            var packet: [UInt8] = []
            try encoder.encode([Int16](repeating: 0, count: 160), duration: .ms20, into: &packet)
            sizes.append(packet.count)
        }
        // After the first frames, silence is 1-byte DTX packets, with a comfort-noise update every 400 ms.
        let settled = sizes.dropFirst(10)
        #expect(settled.filter { $0 <= 2 }.count >= settled.count - 3, "\(sizes)")
        #expect(sizes.prefix(5).allSatisfy { $0 > 2 })
    }
}
