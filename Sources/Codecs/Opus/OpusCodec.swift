import AnswerNinjaCore
import COpus

/// Opus frame durations libopus accepts (RFC 6716 §2.1.4): 2.5, 5, 10, 20, 40 and 60 ms, and with the
/// multi-frame packing of `opus_encode` up to 120 ms (80, 100, 120).
public enum OpusFrameDuration: Int, Sendable, CaseIterable {
    case ms2_5 = 25, ms5 = 50, ms10 = 100, ms20 = 200, ms40 = 400, ms60 = 600, ms80 = 800, ms100 = 1000, ms120 = 1200

    /// Samples per channel at `rate`.
    public func samples(at rate: AudioSampleRate) -> Int { rate.hertz * rawValue / 10_000 }

    /// RTP timestamp units: always 48 kHz for Opus (RFC 7587 §4.1), whatever the coded bandwidth.
    public var rtpTimestampUnits: UInt32 { UInt32(48_000 * rawValue / 10_000) }
}

/// An Opus encoder for one direction of one call: the one owner of its `OpusEncoder` (mono, VoIP application).
public final class OpusEncoderSession {
    /// RFC 7587 §4.1: the RTP clock of Opus is 48 kHz, SDP `opus/48000/2` even for mono.
    public static let rtpClockRate = 48_000
    /// RFC 6716 §3.4: 1275 bytes per frame, six frames at most per packet.
    public static let maximumPacketSize = 1275 * 6

    public let sampleRate: AudioSampleRate
    private let encoder: OpaquePointer

    /// - Parameters:
    ///   - sampleRate: the PCM rate fed in: 8, 16 or 48 kHz (Opus also takes 12 and 24).
    ///   - fecLossPercent: the expected loss; with it in-band FEC is on (the decoder recovers a lost packet from the next).
    public init(sampleRate: AudioSampleRate, bitrate: Int32 = 24_000, fecLossPercent: Int32 = 10, dtx: Bool = true, complexity: Int32 = 5) throws(CodecError) {
        guard sampleRate != .espeak else {
            throw CodecError(code: .init("unsupported_rate"), message: "Opus does not encode at \(sampleRate): resample to 16 or 48 kHz first")
        }
        var status: Int32 = 0
        guard let encoder = opus_encoder_create(Int32(sampleRate.hertz), 1, OPUS_APPLICATION_VOIP, &status), status == OPUS_OK else {
            throw .opus(status, "opus_encoder_create at \(sampleRate)")
        }
        self.encoder = encoder
        self.sampleRate = sampleRate
        for (result, what) in [
            (cshim_opus_set_bitrate(encoder, bitrate), "bitrate"), (cshim_opus_set_signal_voice(encoder), "signal"),
            (cshim_opus_set_inband_fec(encoder, fecLossPercent > 0 ? 1 : 0), "in-band FEC"),
            (cshim_opus_set_packet_loss_perc(encoder, fecLossPercent), "packet loss"), (cshim_opus_set_dtx(encoder, dtx ? 1 : 0), "DTX"),
            (cshim_opus_set_complexity(encoder, complexity), "complexity"),
        ] where result != OPUS_OK {
            opus_encoder_destroy(encoder)
            throw .opus(result, "opus_encoder_ctl \(what)")
        }
    }

    deinit { opus_encoder_destroy(encoder) }

    /// The encoder's look-ahead in samples at `sampleRate`.
    public var lookahead: Int {
        var value: Int32 = 0
        _ = cshim_opus_get_lookahead(encoder, &value)
        return Int(value)
    }

    /// Encodes one frame of `duration`; `samples.count` must be `duration.samples(at: sampleRate)`. Appends the
    /// packet to `packet`. With DTX, silence encodes to packets of 1-2 bytes (or is meant not to be sent at all).
    public func encode(_ samples: [Int16], duration: OpusFrameDuration, into packet: inout [UInt8]) throws(CodecError) {
        try encode(samples[...], duration: duration, into: &packet)
    }

    /// `encode` for a slice of a longer buffer (no copy).
    public func encode(_ samples: ArraySlice<Int16>, duration: OpusFrameDuration, into packet: inout [UInt8]) throws(CodecError) {
        let expected = duration.samples(at: sampleRate)
        guard samples.count == expected else {
            throw CodecError(code: .init("frame_size"), message: "an Opus frame of \(Double(duration.rawValue) / 10) ms at \(sampleRate) is \(expected) samples, got \(samples.count)")
        }
        let start = packet.count
        packet.append(contentsOf: repeatElement(0, count: Self.maximumPacketSize))
        let written = samples.withUnsafeBufferPointer { pcm in
            packet.withUnsafeMutableBufferPointer { out in
                opus_encode(encoder, pcm.baseAddress!, Int32(expected), out.baseAddress! + start, Int32(Self.maximumPacketSize))
            }
        }
        guard written >= 0 else {
            packet.removeLast(Self.maximumPacketSize)
            throw .opus(written, "opus_encode")
        }
        packet.removeLast(Self.maximumPacketSize - Int(written))
    }
}

/// An Opus decoder for one direction of one call, with packet-loss concealment and in-band FEC.
public final class OpusDecoderSession {
    public let sampleRate: AudioSampleRate
    private let decoder: OpaquePointer
    /// The longest frame Opus produces: 120 ms.
    private var scratch: [Int16]

    public init(sampleRate: AudioSampleRate) throws(CodecError) {
        guard sampleRate != .espeak else {
            throw CodecError(code: .init("unsupported_rate"), message: "Opus does not decode at \(sampleRate)")
        }
        var status: Int32 = 0
        guard let decoder = opus_decoder_create(Int32(sampleRate.hertz), 1, &status), status == OPUS_OK else {
            throw .opus(status, "opus_decoder_create at \(sampleRate)")
        }
        self.decoder = decoder
        self.sampleRate = sampleRate
        self.scratch = [Int16](repeating: 0, count: OpusFrameDuration.ms120.samples(at: sampleRate))
    }

    deinit { opus_decoder_destroy(decoder) }

    /// Decodes a packet, appending its samples to `output`.
    public func decode(_ packet: [UInt8], into output: inout [Int16]) throws(CodecError) {
        try run(packet, frameSize: scratch.count, fec: false, into: &output)
    }

    /// Conceals one lost frame of `duration` (PLC), appending the samples.
    public func conceal(_ duration: OpusFrameDuration, into output: inout [Int16]) throws(CodecError) {
        try run(nil, frameSize: duration.samples(at: sampleRate), fec: false, into: &output)
    }

    /// Recovers the lost frame *before* `nextPacket` from the FEC data it carries (one packet of look-ahead),
    /// appending `duration` worth of samples; falls back to concealment when the packet has no FEC.
    public func recover(_ duration: OpusFrameDuration, from nextPacket: [UInt8], into output: inout [Int16]) throws(CodecError) {
        try run(nextPacket, frameSize: duration.samples(at: sampleRate), fec: true, into: &output)
    }

    private func run(_ packet: [UInt8]?, frameSize: Int, fec: Bool, into output: inout [Int16]) throws(CodecError) {
        let decoded: Int32 = scratch.withUnsafeMutableBufferPointer { pcm in
            if let packet {
                return packet.withUnsafeBufferPointer { data in
                    opus_decode(decoder, data.baseAddress, Int32(data.count), pcm.baseAddress!, Int32(frameSize), fec ? 1 : 0)
                }
            }
            return opus_decode(decoder, nil, 0, pcm.baseAddress!, Int32(frameSize), 0)
        }
        guard decoded >= 0 else { throw .opus(decoded, fec ? "opus_decode (FEC)" : "opus_decode") }
        output.append(contentsOf: scratch[0..<Int(decoded)])
    }
}
