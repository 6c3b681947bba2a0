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

    /// Encodes `samples` into `output` (replaced; its storage is reused), by table: µ-law looks only at the
    /// 14 most significant bits and A-law at the 12, so a table of every such value gives exactly `muLawEncode`'s
    /// and `aLawEncode`'s codes (`G711Tests` checks all 65,536 inputs).
    @inlinable
    public static func encode(_ samples: some Collection<Int16>, law: Law, into output: inout [UInt8]) {
        let (table, shift, offset) = law == .muLaw ? (muLawEncodeTable, 2, 8192) : (aLawEncodeTable, 4, 2048)
        resize(&output, to: samples.count)
        output.withUnsafeMutableBufferPointer { output in
            table.withUnsafeBufferPointer { table in
                var index = 0
                for sample in samples {
                    output[index] = table[Int(sample >> shift) + offset]
                    index += 1
                }
            }
        }
    }

    /// `buffer` with `count` elements (their values undefined), its storage reused when it is large enough.
    @inlinable
    static func resize<Element: FixedWidthInteger>(_ buffer: inout [Element], to count: Int) {
        if buffer.count > count {
            buffer.removeLast(buffer.count - count)
        } else if buffer.count < count {
            buffer.append(contentsOf: repeatElement(0, count: count - buffer.count))
        }
    }

    /// Decodes `codes` into `output` (replaced; its storage is reused).
    @inlinable
    public static func decode(_ codes: some Collection<UInt8>, law: Law, into output: inout [Int16]) {
        let table = law == .muLaw ? muLawTable : aLawTable
        resize(&output, to: codes.count)
        output.withUnsafeMutableBufferPointer { output in
            table.withUnsafeBufferPointer { table in
                var index = 0
                for code in codes {
                    output[index] = table[Int(code)]
                    index += 1
                }
            }
        }
    }

    public enum Law: String, Sendable, CaseIterable {
        case muLaw = "PCMU"
        case aLaw = "PCMA"

        /// The static RTP payload type (RFC 3551 Table 4).
        public var payloadType: UInt8 { self == .muLaw ? 0 : 8 }
    }

    // MARK: Tables

    /// `muLawEncode` of every 14-bit value (the sample shifted right by 2, offset by 8192).
    @usableFromInline
    static let muLawEncodeTable: [UInt8] = (0..<16384).map { muLawEncode(Int16(truncatingIfNeeded: ($0 - 8192) << 2)) }

    /// `aLawEncode` of every 12-bit value (the sample shifted right by 4, offset by 2048).
    @usableFromInline
    static let aLawEncodeTable: [UInt8] = (0..<4096).map { aLawEncode(Int16(truncatingIfNeeded: ($0 - 2048) << 4)) }

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
