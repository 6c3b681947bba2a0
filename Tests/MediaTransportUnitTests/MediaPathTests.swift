import AnswerNinjaCore
import Codecs
import Foundation
import MediaTransport
import NIOCore
import RTP
import SRTP
import Testing

/// One call leg's media path, end to end between two paths: what one sends, the other plays.
@Suite struct MediaPathTests {
    static func tone(_ frame: Int) -> [Int16] {
        (0..<160).map { index -> Int16 in
            let t = Double(frame * 160 + index) / 8000
            return Int16(4000 * sin(2 * Double.pi * 440 * t))
        }
    }

    static func instant(_ milliseconds: Double) -> MediaInstant { MediaInstant(nanoseconds: UInt64((1000 + milliseconds) * 1_000_000)) }

    /// A sender and a receiver keyed for `suite` with `implementation`, or plain RTP when `suite` is nil.
    static func pair(_ suite: SRTPCryptoSuite?, _ implementation: SRTPImplementation = .native) throws -> (sender: MediaPath, receiver: MediaPath) {
        guard let suite else {
            return (MediaPath(law: .muLaw, ssrc: 1, inbound: nil, outbound: nil), MediaPath(law: .muLaw, ssrc: 2, inbound: nil, outbound: nil))
        }
        let material = SRTPKeyMaterial.random(for: suite)
        let sender = MediaPath(law: .muLaw, ssrc: 1, inbound: nil, outbound: try implementation.make(suite: suite, material: material, direction: .outbound))
        let receiver = MediaPath(law: .muLaw, ssrc: 2, inbound: try implementation.make(suite: suite, material: material, direction: .inbound), outbound: nil)
        return (sender, receiver)
    }

    @Test(arguments: [SRTPCryptoSuite?.none, .aeadAES128GCM, .aeadAES256GCM, .aesCM128HMACSHA1_80, .aesCM128HMACSHA1_32], SRTPImplementation.allCases)
    func whatOneLegSendsTheOtherPlays(suite: SRTPCryptoSuite?, implementation: SRTPImplementation) throws {
        var (sender, receiver) = try Self.pair(suite, implementation)
        var datagram = ByteBuffer()
        var played: [Int16] = []
        for frame in 0..<50 {
            try sender.send(Self.tone(frame)[...], marker: frame == 0, into: &datagram)
            if suite != nil { #expect(datagram.readableBytes > 12 + 160, "protected: the trailer is there") }
            #expect(receiver.receive(&datagram, at: Self.instant(Double(frame) * 20 + 30)) == .buffered(.accepted))
            while let due = receiver.nextPlayout, due <= Self.instant(Double(frame) * 20 + 30) {
                receiver.playout(now: due)
                played += receiver.audio
            }
        }
        for tick in 0..<20 {
            receiver.playout(now: Self.instant(1000 + Double(tick) * 20))
            played += receiver.audio
        }
        #expect(receiver.statistics.received == 50 && receiver.jitter.statistics.played == 50)
        #expect(sender.statistics.sent == 50)
        // G.711 round trip of the tone: every sample within µ-law's quantisation step at that level.
        let sent = (0..<50).flatMap(Self.tone)
        let playedAudio = played.prefix(sent.count)
        #expect(playedAudio.count == sent.count)
        #expect(zip(sent, playedAudio).allSatisfy { abs(Int($0) - Int($1)) <= 128 })
    }

    @Test func brokenPacketsAreCountedAndDroppedAndTheCallGoesOn() throws {
        var (sender, receiver) = try Self.pair(.aeadAES128GCM)
        var datagram = ByteBuffer()
        try sender.send(Self.tone(0)[...], into: &datagram)
        var tampered = datagram
        tampered.setInteger(tampered.getInteger(at: 20, as: UInt8.self)! ^ 1, at: 20)
        #expect(receiver.receive(&tampered, at: Self.instant(0)) == .dropped(.unauthenticated))
        #expect(receiver.receive(&datagram, at: Self.instant(1)) == .buffered(.accepted))

        var plain = MediaPath(law: .aLaw, ssrc: 3, inbound: nil, outbound: nil)
        var garbage = ByteBuffer(bytes: [0x12, 0x34, 0x56])
        #expect(plain.receive(&garbage, at: Self.instant(0)) == .dropped(.malformed))
        var muLaw = ByteBuffer()
        var other = MediaPath(law: .muLaw, ssrc: 4, inbound: nil, outbound: nil)
        try other.send(Self.tone(0)[...], into: &muLaw)
        #expect(plain.receive(&muLaw, at: Self.instant(1)) == .dropped(.otherPayloadType))
        var aLaw = ByteBuffer()
        var good = MediaPath(law: .aLaw, ssrc: 5, inbound: nil, outbound: nil)
        try good.send(Self.tone(0)[...], into: &aLaw)
        #expect(plain.receive(&aLaw, at: Self.instant(2)) == .buffered(.accepted))
        #expect(plain.statistics.malformed == 1 && plain.statistics.otherPayloadType == 1 && plain.statistics.received == 3)
        #expect(receiver.statistics.unauthenticated == 1)
    }

    @Test func aLostFrameIsConcealedWithTheLastPitch() throws {
        var (sender, receiver) = try Self.pair(nil)
        var datagram = ByteBuffer()
        var audio: [[Int16]] = []
        for frame in 0..<30 {
            try sender.send(Self.tone(frame)[...], into: &datagram)
            if frame != 15 { _ = receiver.receive(&datagram, at: Self.instant(Double(frame) * 20)) }
            while let due = receiver.nextPlayout, due <= Self.instant(Double(frame) * 20) {
                if case .conceal = receiver.playout(now: due) { audio.append(receiver.audio) }
            }
        }
        #expect(audio.count == 1, "one frame concealed")
        #expect(audio.first?.count == 160 && audio.first?.contains { abs($0) > 1000 } == true, "the tone goes on through the loss")
    }
}

/// An Opus leg (RFC 7587): the 48 kHz RTP clock, 8 kHz audio in and out, through silence (DTX) and back.
@Suite struct MediaPathOpusTests {
    @Test func chirpSilenceChirpSurvivesOpus() throws {
        var sender = try MediaPath(codec: .opus(payloadType: 111), ssrc: 1, inbound: nil, outbound: nil)
        var receiver = try MediaPath(codec: .opus(payloadType: 111), ssrc: 2, inbound: nil, outbound: nil)
        var datagram = ByteBuffer()
        var played: [Int16] = []
        // A rising chirp at -12 dBFS (as the greeting), half a second of silence (DTX), the chirp again.
        let chirp = (0..<12_000).map { index -> Int16 in
            let t = Double(index) / 8000
            return Int16(8000 * sin(2 * Double.pi * (400 * t + 2000 / 3 * t * t)))
        }
        let signal = chirp + [Int16](repeating: 0, count: 4000) + chirp
        let frames = stride(from: 0, to: signal.count, by: 160).map { Array(signal[$0..<$0 + 160]) }
        var timestamps: [UInt32] = []
        for (index, frame) in frames.enumerated() {
            try sender.send(frame[...], marker: index == 0, into: &datagram)
            timestamps.append(datagram.getInteger(at: 4, as: UInt32.self) ?? 0)
            #expect(datagram.getInteger(at: 1, as: UInt8.self).map { $0 & 0x7F } == 111)
            #expect(receiver.receive(&datagram, at: MediaPathTests.instant(Double(index) * 20 + 30)) == .buffered(.accepted))
            while let due = receiver.nextPlayout, due <= MediaPathTests.instant(Double(index) * 20 + 30) {
                receiver.playout(now: due)
                played += receiver.audio
            }
        }
        #expect(zip(timestamps, timestamps.dropFirst()).allSatisfy { $1 &- $0 == 960 }, "48 kHz clock: 960 per 20 ms")
        func rms(_ samples: ArraySlice<Int16>) -> Double {
            (samples.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(max(1, samples.count))).squareRoot()
        }
        // The chirp is 8000 peak, about 5660 RMS; every 100 ms of both chirps stays near it (with DTX on, libopus 1.3.1
        // clipped the second one at 30,000 RMS for 700 ms), and the silence is silent.
        let windows = stride(from: 0, to: played.count - 800, by: 800).map { rms(played[$0..<$0 + 800]) }
        let chirps = Array(windows[1..<14]) + Array(windows[21..<33])
        #expect(chirps.allSatisfy { $0 > 4500 && $0 < 7000 }, "\(windows.map { Int($0) })")
        #expect(windows[16..<19].allSatisfy { $0 < 100 }, "\(windows.map { Int($0) })")
    }
}

/// Ready frames (a phrase cache's) sent as they are, between frames the path codes itself.
@Suite struct MediaPathReadyFrameTests {
    @Test func aReadyG711FrameIsTheSamePacketAsTheCodedOne() throws {
        var coded = MediaPath(law: .muLaw, ssrc: 7, inbound: nil, outbound: nil)
        var ready = MediaPath(law: .muLaw, ssrc: 7, inbound: nil, outbound: nil)
        var first = ByteBuffer(), second = ByteBuffer()
        for frame in 0..<3 {
            try coded.send(MediaPathTests.tone(frame)[...], marker: frame == 0, into: &first)
            var payload: [UInt8] = []
            G711.encode(MediaPathTests.tone(frame), law: .muLaw, into: &payload)
            try ready.send(encoded: payload, samples: 160, marker: frame == 0, into: &second)
            // Sequence and timestamp start at random; the rest of the header and the payload are the same.
            #expect(first.getBytes(at: 0, length: 2) == second.getBytes(at: 0, length: 2))
            #expect(Array(first.readableBytesView.dropFirst(12)) == Array(second.readableBytesView.dropFirst(12)))
            #expect(first.readableBytes == 12 + 160)
        }
        #expect(ready.statistics.sent == 3 && ready.statistics.sentOctets == 480)
    }

    @Test func readyOpusFramesPlayBetweenLiveOnes() throws {
        var sender = try MediaPath(codec: .opus(payloadType: 111), ssrc: 1, inbound: nil, outbound: nil)
        var receiver = try MediaPath(codec: .opus(payloadType: 111), ssrc: 2, inbound: nil, outbound: nil)
        // A phrase cache codes each line with its own encoder; the path codes live audio with another.
        let cacheEncoder = try OpusEncoderSession(sampleRate: .narrowband, dtx: false)
        let tone = (0..<150).flatMap(MediaPathTests.tone)
        var datagram = ByteBuffer()
        var played: [Int16] = []
        var timestamps: [UInt32] = []
        for index in 0..<150 {
            let frame = tone[index * 160..<(index + 1) * 160]
            if (50..<100).contains(index) {
                var packet: [UInt8] = []
                try cacheEncoder.encode(frame, duration: .ms20, into: &packet)
                try sender.send(encoded: packet, samples: 160, into: &datagram)
            } else {
                try sender.send(frame, into: &datagram)
            }
            timestamps.append(datagram.getInteger(at: 4, as: UInt32.self) ?? 0)
            #expect(receiver.receive(&datagram, at: MediaPathTests.instant(Double(index) * 20 + 30)) == .buffered(.accepted))
            while let due = receiver.nextPlayout, due <= MediaPathTests.instant(Double(index) * 20 + 30) {
                receiver.playout(now: due)
                played += receiver.audio
            }
        }
        #expect(zip(timestamps, timestamps.dropFirst()).allSatisfy { $1 &- $0 == 960 }, "the clock runs on through ready frames")
        // The 440 Hz tone at 4000 peak is about 2830 RMS; every 100 ms after the encoder's start-up stays near it,
        // across both switches between encoders.
        let windows = stride(from: 800, to: played.count - 800, by: 800).map { start in
            (played[start..<start + 800].reduce(0.0) { $0 + Double($1) * Double($1) } / 800).squareRoot()
        }
        #expect(windows.count >= 25)
        #expect(windows.allSatisfy { $0 > 2000 && $0 < 3600 }, "\(windows.map { Int($0) })")
    }
}

/// RFC 4733 events on a path: what one leg sends with `sendEvent`, the other turns into key presses.
@Suite struct MediaPathEventTests {
    @Test(arguments: [MediaPathCodec.g711(.muLaw), .opus(payloadType: 111)])
    func digitsCrossAsTelephoneEvents(codec: MediaPathCodec) throws {
        var sender = try MediaPath(codec: codec, ssrc: 1, inbound: nil, outbound: nil, events: 101)
        var receiver = try MediaPath(codec: codec, ssrc: 2, inbound: nil, outbound: nil, events: 101)
        var datagram = ByteBuffer()
        var milliseconds = 0.0
        for digit in "5#" {
            let start = sender.nextTimestamp
            let packets = TelephoneEventSender.packets(digit: digit, startTimestamp: start, duration: sender.frameUnits * 5, packetInterval: sender.frameUnits)
            #expect(packets.count == 7, "four updates and three ends")
            for packet in packets {
                #expect(try sender.sendEvent(packet, into: &datagram))
                #expect(datagram.getInteger(at: 1, as: UInt8.self).map { $0 & 0x7F } == 101)
                #expect(datagram.getInteger(at: 4, as: UInt32.self) == start, "every packet of an event carries its start")
                milliseconds += 20
                #expect(receiver.receive(&datagram, at: MediaPathTests.instant(milliseconds)) == .event)
            }
            #expect(sender.nextTimestamp == start &+ 7 * sender.frameUnits, "the media clock moved on under the event")
        }
        #expect(receiver.takeKeyPresses().map(\.digit) == ["5", "#"])
        #expect(receiver.takeKeyPresses().isEmpty, "taken once")
        #expect(receiver.statistics.events == 14)
    }

    @Test func withoutTelephoneEventNothingIsSentOrTaken() throws {
        var sender = try MediaPath(codec: .g711(.aLaw), ssrc: 1, inbound: nil, outbound: nil)
        var receiver = try MediaPath(codec: .g711(.aLaw), ssrc: 2, inbound: nil, outbound: nil)
        var datagram = ByteBuffer()
        let packet = TelephoneEventSender.packets(digit: "1", startTimestamp: 0, duration: 800, packetInterval: 160)[0]
        #expect(try sender.sendEvent(packet, into: &datagram) == false)
        // An event packet to a leg that did not agree to events is another payload type.
        var events = try MediaPath(codec: .g711(.aLaw), ssrc: 3, inbound: nil, outbound: nil, events: 101)
        #expect(try events.sendEvent(packet, into: &datagram))
        #expect(receiver.receive(&datagram, at: MediaPathTests.instant(0)) == .dropped(.otherPayloadType))
        // A truncated event payload is malformed, and dropped.
        var short = ByteBuffer()
        short.writeMultipleIntegers(UInt8(0x80), UInt8(101), UInt16(1), UInt32(0), UInt32(9))
        short.writeInteger(UInt16(0x0501))
        var withEvents = try MediaPath(codec: .g711(.aLaw), ssrc: 4, inbound: nil, outbound: nil, events: 101)
        #expect(withEvents.receive(&short, at: MediaPathTests.instant(0)) == .dropped(.malformed))
    }
}
