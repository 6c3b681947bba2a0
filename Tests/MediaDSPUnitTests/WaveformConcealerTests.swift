import Foundation
import MediaDSP
import Testing

@Suite struct WaveformConcealerTests {
    /// A voiced-like signal: a 160 Hz fundamental (period 50 samples) with two harmonics.
    static func voiced(_ index: Int) -> Int16 {
        let t = Double(index) / 8000
        return Int16(6000 * sin(2 * .pi * 160 * t) + 2000 * sin(2 * .pi * 320 * t) + 1000 * sin(2 * .pi * 480 * t))
    }

    static func frame(_ number: Int) -> [Int16] { (0..<160).map { voiced(number * 160 + $0) } }

    static func snr(_ reference: [Int16], _ test: [Int16]) -> Double {
        var signal = 0.0, noise = 0.0
        for (a, b) in zip(reference, test) {
            signal += Double(a) * Double(a)
            noise += (Double(a) - Double(b)) * (Double(a) - Double(b))
        }
        return 10 * log10(signal / max(noise, 1))
    }

    @Test func aSingleLostFrameOfVoicedSpeechIsRebuilt() {
        var concealer = WaveformConcealer()
        for number in 0..<10 { _ = concealer.process(Self.frame(number)) }
        let concealed = concealer.conceal(count: 160)
        // The first 10 ms are unattenuated repetition of the right pitch: close to the lost audio.
        #expect(Self.snr(Array(Self.frame(10).prefix(80)), Array(concealed.prefix(80))) > 10)
        #expect(concealer.lossLength == 160)
        let next = concealer.process(Self.frame(11))
        #expect(concealer.lossLength == 0)
        // The cross-fade ends on the real signal.
        #expect(Array(next.suffix(128)) == Array(Self.frame(11).suffix(128)))
    }

    @Test func longLossesFadeToSilenceBy60Milliseconds() {
        var concealer = WaveformConcealer()
        for number in 0..<10 { _ = concealer.process(Self.frame(number)) }
        let lost = (0..<5).flatMap { _ in concealer.conceal(count: 160) }  // 100 ms
        func energy(_ range: Range<Int>) -> Double { lost[range].reduce(0) { $0 + Double($1) * Double($1) } }
        #expect(energy(0..<80) > energy(160..<240))
        #expect(energy(240..<320) > energy(400..<480))
        #expect(lost[480...].allSatisfy { $0 == 0 }, "silence after 60 ms")
    }

    @Test func audioIsUnchangedWhenNothingIsLost() {
        var concealer = WaveformConcealer()
        for number in 0..<20 { #expect(concealer.process(Self.frame(number)) == Self.frame(number)) }
    }
}
