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

    /// Feeds frames 0..<count as good audio.
    static func primed(_ count: Int) -> WaveformConcealer {
        var concealer = WaveformConcealer()
        for number in 0..<count {
            var frame = Self.frame(number)
            concealer.process(&frame)
        }
        return concealer
    }

    @Test func aSingleLostFrameOfVoicedSpeechIsRebuilt() {
        var concealer = Self.primed(10)
        var concealed: [Int16] = []
        concealer.conceal(count: 160, into: &concealed)
        #expect(concealed.count == 160)
        // The first 10 ms are unattenuated repetition of the right pitch: close to the lost audio.
        #expect(Self.snr(Array(Self.frame(10).prefix(80)), Array(concealed.prefix(80))) > 10)
        #expect(concealer.lossLength == 160)
        var next = Self.frame(11)
        concealer.process(&next)
        #expect(concealer.lossLength == 0)
        // The cross-fade ends on the real signal.
        #expect(Array(next.suffix(128)) == Array(Self.frame(11).suffix(128)))
    }

    @Test func longLossesFadeToSilenceBy60Milliseconds() {
        var concealer = Self.primed(10)
        var frame: [Int16] = []
        let lost = (0..<5).flatMap { _ in  // 100 ms
            concealer.conceal(count: 160, into: &frame)
            return frame
        }
        func energy(_ range: Range<Int>) -> Double { lost[range].reduce(0) { $0 + Double($1) * Double($1) } }
        #expect(energy(0..<80) > energy(160..<240))
        #expect(energy(240..<320) > energy(400..<480))
        #expect(lost[480...].allSatisfy { $0 == 0 }, "silence after 60 ms")
    }

    @Test func audioIsUnchangedWhenNothingIsLost() {
        var concealer = WaveformConcealer()
        for number in 0..<20 {
            var frame = Self.frame(number)
            concealer.process(&frame)
            #expect(frame == Self.frame(number))
        }
    }

    @Test(arguments: [80, 160, 480])
    func theHistoryHoldsTheLastAudioWhateverTheFrameSize(frameSize: Int) {
        // Frames of 10, 20 and 60 ms (ptime changes); the history must end with the last samples fed, in order.
        var concealer = WaveformConcealer()
        var fed = 0
        for _ in 0..<8 {
            var frame = (fed..<(fed + frameSize)).map(Self.voiced)
            concealer.process(&frame)
            fed += frameSize
        }
        var concealed: [Int16] = []
        concealer.conceal(count: 80, into: &concealed)
        let lost = (fed..<(fed + 80)).map(Self.voiced)
        #expect(Self.snr(lost, concealed) > 10, "frame size \(frameSize)")
    }
}
