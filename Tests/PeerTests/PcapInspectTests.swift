import AnswerNinjaTestSupport
import Foundation
import NIOCore
import RTP
import Testing

/// `answer-ninja pcap inspect` reads captures written by another tool (tshark/dumpcap, and editcap's pcap
/// dialects) and its stream statistics agree with `tshark -z rtp,streams` on the same file.
@Suite(.serialized) struct PcapInspectTests {
    struct TsharkStream {
        var ssrc: UInt32, packets: Int, lost: Int
        var minDelta: Double, meanDelta: Double, maxDelta: Double, meanJitter: Double, maxJitter: Double
    }

    /// Parses `tshark -q -z rtp,streams` (Wireshark 4.0 columns).
    static func tsharkStreams(_ file: String) async throws -> [UInt32: TsharkStream] {
        let tshark = try PeerEnvironment.require("tshark", package: "tshark")
        let result = try await PeerEnvironment.run(tshark, ["-o", "rtp.heuristic_rtp:TRUE", "-r", file, "-q", "-z", "rtp,streams"])
        var streams: [UInt32: TsharkStream] = [:]
        for line in result.output.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
            guard let ssrcIndex = fields.firstIndex(where: { $0.hasPrefix("0x") }), let ssrc = UInt32(fields[ssrcIndex].dropFirst(2), radix: 16) else { continue }
            // SSRC, payload, packets, lost, (percent), min/mean/max delta, min/mean/max jitter.
            let rest = Array(fields[(ssrcIndex + 1)...])
            guard rest.count >= 10, let packets = Int(rest[1]), let lost = Int(rest[2]) else { continue }
            let numbers = rest[4...].compactMap(Double.init)
            guard numbers.count >= 6 else { continue }
            streams[ssrc] = TsharkStream(ssrc: ssrc, packets: packets, lost: lost, minDelta: numbers[0], meanDelta: numbers[1], maxDelta: numbers[2], meanJitter: numbers[4], maxJitter: numbers[5])
        }
        return streams
    }

    static func inspect(_ file: String, extra: [String] = []) async throws -> [[String: Any]] {
        let result = try await PeerEnvironment.run(try AnswerNinjaProcess.binary(), ["pcap", "inspect", "--json", file] + extra)
        #expect(result.status == 0, "\(result.output)")
        let object = try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any]
        return object?["streams"] as? [[String: Any]] ?? []
    }

    /// Compares every stream of `file`; returns our reports for further checks.
    @discardableResult
    static func agree(_ file: String) async throws -> [[String: Any]] {
        let ours = try await inspect(file)
        let theirs = try await tsharkStreams(file)
        #expect(ours.count == theirs.count && !ours.isEmpty, "\(file): ours \(ours.count) streams, tshark \(theirs.count)")
        for stream in ours {
            let ssrc = UInt32(stream["ssrc"] as? Int ?? -1)
            guard let reference = theirs[ssrc] else {
                Issue.record("\(file): tshark has no stream 0x\(String(ssrc, radix: 16))")
                continue
            }
            let duplicates = stream["duplicates"] as? Int ?? 0
            #expect(stream["packets"] as? Int == reference.packets, "\(file) packets")
            // tshark counts duplicates as received (loss can go negative); we do not.
            #expect(stream["lost"] as? Int == max(0, reference.lost + duplicates), "\(file) lost")
            for (key, value) in [("min_delta_ms", reference.minDelta), ("mean_delta_ms", reference.meanDelta), ("max_delta_ms", reference.maxDelta), ("mean_jitter_ms", reference.meanJitter), ("max_jitter_ms", reference.maxJitter)] {
                let mine = stream[key] as? Double ?? Double(stream[key] as? Int ?? -1)
                #expect(abs(mine - value) <= 0.0015, "\(file) \(key): ours \(mine), tshark \(value)")
            }
        }
        return ours
    }

    @Test(.enabled(if: PeerEnvironment.available("tshark")), .timeLimit(.minutes(2)))
    func capturesMadeByDumpcapInEveryDialect() async throws {
        let port = try PeerEnvironment.freePort()
        let capture = try await TsharkCapture.start(filter: "udp dst port \(port)")
        try await withPeer(capture) { capture in
            try await capture.warmUp(port: port)
            let audio = try UDPSender()
            let keys = try UDPSender()
            // 120 PCMU packets, 5 and 6 never sent, 40 sent twice, paced 2 ms; a DTMF "9" from another port.
            for sequence in UInt16(0)..<120 where sequence != 5 && sequence != 6 {
                let packet = RTPPacket(marker: sequence == 0, payloadType: 0, sequenceNumber: 30_000 + sequence, timestamp: 160 * UInt32(sequence), ssrc: 0x1122_3344, payload: ByteBuffer(repeating: 0xFF, count: 160))
                var bytes = ByteBuffer()
                packet.write(to: &bytes)
                try audio.send(Array(bytes.readableBytesView), to: port)
                if sequence == 40 { try audio.send(Array(bytes.readableBytesView), to: port) }
                try await Task.sleep(for: .milliseconds(2))
            }
            for (index, event) in TelephoneEventSender.packets(digit: "9", startTimestamp: 4000, duration: 1600, packetInterval: 160).enumerated() {
                var bytes = ByteBuffer()
                RTPPacket(marker: event.marker, payloadType: 101, sequenceNumber: UInt16(100 + index), timestamp: event.timestamp, ssrc: 0x5566_7788, payload: {
                    var payload = ByteBuffer()
                    event.event.write(to: &payload)
                    return payload
                }()).write(to: &bytes)
                try keys.send(Array(bytes.readableBytesView), to: port)
                try await Task.sleep(for: .milliseconds(2))
            }
            try await Task.sleep(for: .milliseconds(300))
            await capture.stop()

            let editcap = try PeerEnvironment.require("editcap", package: "wireshark-common")
            var files = [capture.file.path]
            for (format, suffix) in [("pcap", "us.pcap"), ("nsecpcap", "ns.pcap")] {
                let converted = capture.process.directory.appendingPathComponent(suffix).path
                #expect(try await PeerEnvironment.run(editcap, ["-F", format, capture.file.path, converted]).status == 0)
                files.append(converted)
            }
            for file in files {
                let streams = try await Self.agree(file)
                let audioStream = streams.first { $0["ssrc"] as? Int == 0x1122_3344 }
                #expect(audioStream?["lost"] as? Int == 2 && audioStream?["duplicates"] as? Int == 1, "\(file)")
                let events = streams.first { $0["ssrc"] as? Int == 0x5566_7788 }?["dtmf"] as? [[String: Any]]
                #expect(events?.first?["digit"] as? String == "9" && events?.first?["duration_ms"] as? Double == 200, "\(file)")
            }
            // The decoded audio as WAV: 120 packets of 160 samples, silence where two were lost.
            let wav = capture.process.directory.appendingPathComponent("audio.wav").path
            _ = try await Self.inspect(files[0], extra: ["--wav", wav])
            let size = try FileManager.default.attributesOfItem(atPath: wav)[.size] as? Int
            #expect(size == 44 + 120 * 160 * 2)
        }
    }

    /// SIPp's own captures (in shared/ beside the checkout, which CI has): G.711 A-law and RFC 4733 keys.
    static let sippFixtures = AnswerNinjaProcess.packageRootFromSource() + "/../shared/external/sipp"

    @Test(.enabled(if: PeerEnvironment.isCI || FileManager.default.fileExists(atPath: sippFixtures)), .timeLimit(.minutes(2)))
    func sippCapturesAgreeWithTshark() async throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: Self.sippFixtures).filter { $0.hasSuffix(".pcap") }.sorted()
        #expect(names.count == 13)
        for name in names {
            let streams = try await Self.agree(Self.sippFixtures + "/" + name)
            guard name.hasPrefix("dtmf_2833_") else { continue }
            let key = name.dropFirst("dtmf_2833_".count).dropLast(".pcap".count)
            let expected = key == "pound" ? "#" : key == "star" ? "*" : String(key)
            let digits = (streams.first?["dtmf"] as? [[String: Any]])?.compactMap { $0["digit"] as? String }
            #expect(digits == [expected], "\(name): one key press, whatever the three end packets")
        }
    }
}
