import AnswerNinjaCore
import Codecs
import Foundation
import MediaDSP
import Testing

@Suite struct InBandDTMFTests {
    static let low: [Character: Double] = ["1": 697, "2": 697, "3": 697, "A": 697, "4": 770, "5": 770, "6": 770, "B": 770, "7": 852, "8": 852, "9": 852, "C": 852, "*": 941, "0": 941, "#": 941, "D": 941]
    static let high: [Character: Double] = ["1": 1209, "4": 1209, "7": 1209, "*": 1209, "2": 1336, "5": 1336, "8": 1336, "0": 1336, "3": 1477, "6": 1477, "9": 1477, "#": 1477, "A": 1633, "B": 1633, "C": 1633, "D": 1633]

    /// A key: two tones at `level` dBFS each (high group `twist` dB above the low), `deviation` off nominal.
    static func key(_ digit: Character, milliseconds: Int, level: Double = -10, twist: Double = 0, deviation: Double = 0) -> [Int16] {
        let lowAmplitude = 32767 * pow(10, level / 20)
        let highAmplitude = lowAmplitude * pow(10, twist / 20)
        let f1 = low[digit]! * (1 + deviation), f2 = high[digit]! * (1 + deviation)
        return (0..<(milliseconds * 8)).map { index in
            let t = Double(index) / 8000
            return Int16(clamping: Int(lowAmplitude * sin(2 * .pi * f1 * t) + highAmplitude * sin(2 * .pi * f2 * t)))
        }
    }

    static func silence(_ milliseconds: Int) -> [Int16] { [Int16](repeating: 0, count: milliseconds * 8) }

    static func detect(_ samples: [Int16], block: Int = 160) -> [InBandDTMFDetector.Key] {
        var detector = InBandDTMFDetector()
        var keys: [InBandDTMFDetector.Key] = []
        for start in stride(from: 0, to: samples.count, by: block) {
            keys += detector.process(samples[start..<min(start + block, samples.count)])
        }
        return keys + detector.flush()
    }

    @Test func everyKeyIsDetectedInOrderThroughG711() {
        let digits = Array("123A456B789C*0#D")
        var signal: [Int16] = []
        for digit in digits { signal += Self.key(digit, milliseconds: 60) + Self.silence(60) }
        var codes: [UInt8] = []
        var decoded: [Int16] = []
        G711.encode(signal, law: .muLaw, into: &codes)
        G711.decode(codes, law: .muLaw, into: &decoded)
        let keys = Self.detect(decoded)
        #expect(keys.map(\.digit) == digits)
        #expect(keys.allSatisfy { (50...80).contains($0.durationMilliseconds) }, "\(keys.map(\.durationMilliseconds))")
    }

    @Test(arguments: [0.015, -0.015])
    func frequenciesWithinOneAndAHalfPercentAreAccepted(deviation: Double) {
        #expect(Self.detect(Self.key("5", milliseconds: 80, deviation: deviation) + Self.silence(40)).map(\.digit) == ["5"])
    }

    @Test(arguments: [0.035, -0.035, 0.05])
    func frequenciesBeyondThreeAndAHalfPercentAreRejected(deviation: Double) {
        #expect(Self.detect(Self.key("5", milliseconds: 80, deviation: deviation) + Self.silence(40)).isEmpty)
    }

    @Test func durationTwistAndLevelRules() {
        #expect(Self.detect(Self.key("9", milliseconds: 40) + Self.silence(40)).map(\.digit) == ["9"])
        #expect(Self.detect(Self.silence(7) + Self.key("9", milliseconds: 20) + Self.silence(40)).isEmpty)
        #expect(Self.detect(Self.key("1", milliseconds: 80, twist: 6) + Self.silence(40)).map(\.digit) == ["1"])
        #expect(Self.detect(Self.key("1", milliseconds: 80, twist: 11) + Self.silence(40)).isEmpty)
        #expect(Self.detect(Self.key("1", milliseconds: 80, twist: -3) + Self.silence(40)).map(\.digit) == ["1"])
        #expect(Self.detect(Self.key("1", milliseconds: 80, twist: -7) + Self.silence(40)).isEmpty)
        #expect(Self.detect(Self.key("#", milliseconds: 80, level: -30) + Self.silence(40)).map(\.digit) == ["#"])
        #expect(Self.detect(Self.key("#", milliseconds: 80, level: -50) + Self.silence(40)).isEmpty)
        // A 10 ms dropout inside a key is bridged; a 60 ms pause separates two presses.
        let bridged = Self.key("7", milliseconds: 60) + Self.silence(10) + Self.key("7", milliseconds: 60) + Self.silence(60) + Self.key("7", milliseconds: 60)
        #expect(Self.detect(bridged).map(\.digit) == ["7", "7"])
    }

    @Test func noiseIsNotAKey() {
        var generator = SystemRandomNumberGenerator()
        let noise = (0..<80_000).map { _ in Int16.random(in: -8000...8000, using: &generator) }
        #expect(Self.detect(noise).isEmpty)
    }

    /// Talk-off: real recorded speech (pocketsphinx's test recordings, 16 kHz, resampled to 8 kHz and through
    /// µ-law, as a caller's voice arrives) must never look like a key.
    static let speechFolder = "/usr/share/pocketsphinx/test/data"

    @Test(.enabled(if: ProcessInfo.processInfo.environment["CI"] == "true" || FileManager.default.fileExists(atPath: speechFolder)))
    func recordedSpeechNeverTalksOff() throws {
        let files = try FileManager.default.subpathsOfDirectory(atPath: Self.speechFolder).filter { $0.hasSuffix(".wav") || $0.hasSuffix(".raw") }
        #expect(files.count >= 10)
        var seconds = 0.0
        for file in files {
            guard let data = FileManager.default.contents(atPath: Self.speechFolder + "/" + file) else { continue }
            let body = file.hasSuffix(".wav") ? data.dropFirst(44) : data[...]
            let wide: [Int16] = body.withUnsafeBytes { Array($0.bindMemory(to: Int16.self)) }.map { Int16(littleEndian: $0) }
            let resampler = try Resampler(from: .wideband, to: .narrowband)
            var narrow: [Int16] = []
            try resampler.process(wide, into: &narrow)
            var codes: [UInt8] = []
            G711.encode(narrow, law: .muLaw, into: &codes)
            G711.decode(codes, law: .muLaw, into: &narrow)
            seconds += Double(narrow.count) / 8000
            let keys = Self.detect(narrow)
            #expect(keys.isEmpty, "\(file): talk-off \(keys)")
        }
        print(String(format: "in-band DTMF talk-off: 0 keys in %.1f s of recorded speech", seconds))
        #expect(seconds > 30)
    }

    @Test func oneKeyArrivingBothWaysIsReportedOnce() {
        var merger = DTMFDeduplicator()
        #expect(merger.report(.init(digit: "5", startMilliseconds: 1000, source: .rfc4733)) != nil)
        #expect(merger.report(.init(digit: "5", startMilliseconds: 1040, source: .inBand)) == nil)
        #expect(merger.report(.init(digit: "6", startMilliseconds: 1050, source: .inBand)) != nil)
        #expect(merger.report(.init(digit: "5", startMilliseconds: 1500, source: .inBand)) != nil)
    }
}
