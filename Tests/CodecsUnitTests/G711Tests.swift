import Codecs
import Testing

/// G.711 against a transcription of the ITU-T G.191 reference algorithm (loops over segments, as the STL's
/// g711.c does), independent of the production code's leading-zero arithmetic and tables.
enum G191Reference {
    static func ulawCompress(_ sample: Int16) -> UInt8 {
        var absno = Int32(sample < 0 ? (~sample) >> 2 : sample >> 2) + 33
        if absno > 0x1FFF { absno = 0x1FFF }
        var i = absno >> 6
        var segno: Int32 = 1
        while i != 0 {
            segno += 1
            i >>= 1
        }
        let high = 8 - segno
        let low = 0x0F - ((absno >> segno) & 0x0F)
        let code = (high << 4) | low
        return UInt8(sample >= 0 ? code | 0x80 : code)
    }

    static func ulawExpand(_ code: UInt8) -> Int16 {
        let sign: Int32 = code < 0x80 ? -1 : 1
        let inverted = Int32(~code)
        let exponent = (inverted >> 4) & 0x07
        let segment = exponent + 1
        let mantissa = inverted & 0x0F
        let step = Int32(4) << segment
        return Int16(sign * ((0x80 << exponent) + step * mantissa + step / 2 - 4 * 33))
    }

    static func alawCompress(_ sample: Int16) -> UInt8 {
        var ix = Int32(sample < 0 ? (~sample) >> 4 : sample >> 4)
        if ix > 15 {
            var exponent: Int32 = 1
            while ix > 16 + 15 {
                ix >>= 1
                exponent += 1
            }
            ix -= 16
            ix += exponent << 4
        }
        if sample >= 0 { ix |= 0x80 }
        return UInt8(ix ^ 0x55)
    }

    static func alawExpand(_ code: UInt8) -> Int16 {
        var ix = Int32(code ^ 0x55) & 0x7F
        let exponent = ix >> 4
        var mantissa = ix & 0x0F
        if exponent > 0 { mantissa += 16 }
        mantissa = (mantissa << 4) + 8
        if exponent > 1 { mantissa <<= exponent - 1 }
        ix = mantissa
        return Int16(code > 127 ? ix : -ix)
    }
}

@Suite struct G711Tests {
    @Test func muLawEncodesEveryLinearInputAsTheReferenceDoes() {
        var mismatches: [Int16] = []
        for value in Int16.min...Int16.max where G711.muLawEncode(value) != G191Reference.ulawCompress(value) {
            mismatches.append(value)
        }
        #expect(mismatches.isEmpty, "first mismatches: \(mismatches.prefix(5))")
    }

    @Test(arguments: G711.Law.allCases)
    func theBufferEncoderTablesGiveTheReferenceCodesForEveryInput(law: G711.Law) {
        let inputs = Array(Int16.min...Int16.max)
        var codes: [UInt8] = []
        G711.encode(inputs, law: law, into: &codes)
        let reference = inputs.map { law == .muLaw ? G191Reference.ulawCompress($0) : G191Reference.alawCompress($0) }
        #expect(codes.count == 65_536)
        #expect(codes == reference)
    }

    @Test func aLawEncodesEveryLinearInputAsTheReferenceDoes() {
        var mismatches: [Int16] = []
        for value in Int16.min...Int16.max where G711.aLawEncode(value) != G191Reference.alawCompress(value) {
            mismatches.append(value)
        }
        #expect(mismatches.isEmpty, "first mismatches: \(mismatches.prefix(5))")
    }

    @Test func everyCodeDecodesAsTheReferenceDoesAndRoundTrips() {
        for code in UInt8.min...UInt8.max {
            #expect(G711.muLawDecode(code) == G191Reference.ulawExpand(code), "µ-law \(code)")
            #expect(G711.aLawDecode(code) == G191Reference.alawExpand(code), "A-law \(code)")
            #expect(G711.aLawEncode(G711.aLawDecode(code)) == code, "A-law \(code) does not round-trip")
            if code == 0x7F {
                // µ-law negative zero decodes to 0, which encodes as positive zero.
                #expect(G711.muLawDecode(code) == 0)
                #expect(G711.muLawEncode(0) == 0xFF)
            } else {
                #expect(G711.muLawEncode(G711.muLawDecode(code)) == code, "µ-law \(code) does not round-trip")
            }
        }
    }

    @Test func knownLevels() {
        #expect(G711.muLawDecode(0x80) == 32124)
        #expect(G711.muLawDecode(0x00) == -32124)
        #expect(G711.aLawDecode(0xAA) == 32256)
        #expect(G711.aLawDecode(0x2A) == -32256)
        #expect(G711.muLawEncode(Int16.max) == 0x80)
        #expect(G711.aLawEncode(0) == G711.aLawSilence)
        #expect(G711.Law.muLaw.payloadType == 0 && G711.Law.aLaw.payloadType == 8)
    }

    @Test func buffersReuseTheirStorage() {
        let samples: [Int16] = [0, 1000, -1000, 32767, -32768]
        var codes: [UInt8] = []
        var decoded: [Int16] = []
        for law in G711.Law.allCases {
            G711.encode(samples, law: law, into: &codes)
            G711.decode(codes, law: law, into: &decoded)
            #expect(codes.count == samples.count && decoded.count == samples.count)
            for (original, restored) in zip(samples, decoded) {
                // The quantization error of G.711 is at most half a step of the largest segment (1024 / 2).
                #expect(abs(Int(original) - Int(restored)) <= 1024, "\(law) \(original) → \(restored)")
            }
        }
    }
}
