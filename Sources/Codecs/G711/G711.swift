/// ITU-T G.711 companding, µ-law (PCMU, RTP payload type 0) and A-law (PCMA, 8), on 16-bit linear samples.
///
/// Encoding follows the decision levels of G.711 Tables 1 and 2 exactly as the ITU-T G.191 reference software
/// does (µ-law on the 14 most significant bits with its 33-step bias, A-law on the 13 most significant bits, one's
/// complement for negative samples), computed with a leading-zero count instead of a loop; decoding is a 256-entry
/// table of the reference reconstruction levels. `G711Tests` checks both against a transcription of the G.191
/// algorithm over all 65,536 inputs and all 256 codes.
public enum G711 {
    /// µ-law's code for 0 (positive zero). Negative zero, 0x7F, decodes to 0 too and so re-encodes as 0xFF.
    public static let muLawSilence: UInt8 = 0xFF
    /// A-law's code for the smallest positive level.
    public static let aLawSilence: UInt8 = 0xD5

    // MARK: µ-law

    @inlinable
    public static func muLawEncode(_ sample: Int16) -> UInt8 {
        // One's complement of negative samples, on the 14 most significant bits, plus the bias of 33 steps.
        let negative = sample < 0
        let magnitude = Int32(negative ? ~sample : sample) >> 2
        let biased = min(magnitude + 33, 0x1FFF)
        // Segment 1...8: the position of the highest set bit above bit 5.
        let segment = Int32(32 - (biased >> 6).leadingZeroBitCount) + 1
        let mantissa = (biased >> segment) & 0x0F
        let code = UInt8(truncatingIfNeeded: ((8 - segment) << 4) | (0x0F - mantissa))
        return negative ? code : code | 0x80
    }

    @inlinable
    public static func muLawDecode(_ code: UInt8) -> Int16 {
        muLawTable[Int(code)]
    }

    // MARK: A-law

    @inlinable
    public static func aLawEncode(_ sample: Int16) -> UInt8 {
        let negative = sample < 0
        var value = Int32(negative ? ~sample : sample) >> 4  // 0...2047, the 12 magnitude bits
        if value > 15 {
            // Exponent 1...7 from the highest set bit; the leading 1 of the mantissa is dropped.
            let exponent = Int32(32 - value.leadingZeroBitCount) - 4
            value = ((value >> (exponent - 1)) - 16) + (exponent << 4)
        }
        let code = UInt8(truncatingIfNeeded: negative ? value : value | 0x80)
        return code ^ 0x55  // even bits inverted
    }

    @inlinable
    public static func aLawDecode(_ code: UInt8) -> Int16 {
        aLawTable[Int(code)]
    }

    // MARK: Buffers

    /// Encodes `samples` into `output` (cleared first; its capacity is reused).
    @inlinable
    public static func encode(_ samples: some Collection<Int16>, law: Law, into output: inout [UInt8]) {
        output.removeAll(keepingCapacity: true)
        output.reserveCapacity(samples.count)
        switch law {
        case .muLaw: for sample in samples { output.append(muLawEncode(sample)) }
        case .aLaw: for sample in samples { output.append(aLawEncode(sample)) }
        }
    }

    /// Decodes `codes` into `output` (cleared first; its capacity is reused).
    @inlinable
    public static func decode(_ codes: some Collection<UInt8>, law: Law, into output: inout [Int16]) {
        output.removeAll(keepingCapacity: true)
        output.reserveCapacity(codes.count)
        switch law {
        case .muLaw: for code in codes { output.append(muLawTable[Int(code)]) }
        case .aLaw: for code in codes { output.append(aLawTable[Int(code)]) }
        }
    }

    public enum Law: String, Sendable, CaseIterable {
        case muLaw = "PCMU"
        case aLaw = "PCMA"

        /// The static RTP payload type (RFC 3551 Table 4).
        public var payloadType: UInt8 { self == .muLaw ? 0 : 8 }
    }

    // MARK: Reconstruction tables

    /// G.711 µ-law reconstruction levels (G.191 `ulaw_expand`), 16-bit scale.
    @usableFromInline
    static let muLawTable: [Int16] = (0...255).map { code in
        let inverted = Int32(~UInt8(code))
        let exponent = (inverted >> 4) & 0x07
        let mantissa = inverted & 0x0F
        let step = Int32(4) << (exponent + 1)
        let magnitude = (Int32(0x80) << exponent) + step * mantissa + step / 2 - 4 * 33
        return Int16(code < 0x80 ? -magnitude : magnitude)
    }

    /// G.711 A-law reconstruction levels (G.191 `alaw_expand`), 16-bit scale.
    @usableFromInline
    static let aLawTable: [Int16] = (0...255).map { code in
        let toggled = Int32(UInt8(code) ^ 0x55) & 0x7F
        let exponent = toggled >> 4
        var mantissa = toggled & 0x0F
        if exponent > 0 { mantissa += 16 }
        mantissa = (mantissa << 4) + 8
        if exponent > 1 { mantissa <<= exponent - 1 }
        return Int16(code > 127 ? mantissa : -mantissa)
    }
}
