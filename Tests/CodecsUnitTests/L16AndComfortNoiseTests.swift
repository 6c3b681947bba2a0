import Codecs
import Testing

@Suite struct L16AndComfortNoiseTests {
    @Test func l16IsBigEndianAndRoundTrips() throws {
        var bytes: [UInt8] = []
        L16.encode([1, -2, Int16.max, Int16.min], into: &bytes)
        #expect(bytes == [0x00, 0x01, 0xFF, 0xFE, 0x7F, 0xFF, 0x80, 0x00])
        var samples: [Int16] = []
        try L16.decode(bytes, into: &samples)
        #expect(samples == [1, -2, Int16.max, Int16.min])
        #expect { try L16.decode([1, 2, 3], into: &samples) } throws: { ($0 as? CodecError)?.code.rawValue == "malformed" }
    }

    @Test func comfortNoiseLevelsRoundTripThroughTheGenerator() throws {
        var generator = SystemRandomNumberGenerator()
        for level: UInt8 in [20, 40, 60, 80] {
            let noise = ComfortNoise.generate(level: level, count: 8000, using: &generator)
            #expect(abs(Int(ComfortNoise.level(of: noise)) - Int(level)) <= 1, "level \(level)")
        }
        #expect(ComfortNoise.level(of: [Int16](repeating: 0, count: 160)) == 127)
        #expect(ComfortNoise.generate(level: 127, count: 10, using: &generator) == [Int16](repeating: 0, count: 10))
        // A full-scale square wave is 0 dBov (RFC 3389 §3.1).
        #expect(ComfortNoise.level(of: (0..<160).map { $0 % 2 == 0 ? Int16.max : Int16.min }) == 0)
    }

    @Test func payloadParsesAndRefusesBadLevels() throws {
        let payload = try ComfortNoisePayload(parsing: [64, 10, 20])
        #expect(payload.level == 64 && payload.reflectionCoefficients == [10, 20])
        #expect(payload.bytes == [64, 10, 20])
        #expect { try ComfortNoisePayload(parsing: [UInt8]()) } throws: { ($0 as? CodecError) != nil }
        #expect { try ComfortNoisePayload(parsing: [200]) } throws: { ($0 as? CodecError)?.message.contains("above 127") == true }
    }
}
