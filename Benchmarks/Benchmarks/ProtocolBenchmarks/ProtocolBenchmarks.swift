import AnswerNinjaCore
import Benchmark
import Foundation
import MediaControl

/// The control channel's per-command costs: encoding and decoding a frame, and one command through the media
/// side's state machine. Each measured case has a baseline in the same run (plain JSONEncoder/JSONDecoder on a
/// struct of the same fields), so that results are read as ratios, not absolute times on a noisy machine.
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(metrics: [.wallClock, .mallocCountTotal, .throughput], maxDuration: .seconds(2), maxIterations: 100_000)

    let callId = try! CallID("a84b4c76e66710@192.0.2.10")
    let sdp = "v=0\r\no=- 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\nm=audio 49170 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n"
    let offer = MediaControlMessage.offer(.init(requestId: "r-1", callId: callId, fromTag: "1928301774", sdp: sdp, mode: .terminate, flags: ["record"]))
    let frame = ProtocolFrame(seq: 1, ack: 1, message: offer)
    let text = try! ProtocolCodec.encode(frame)

    struct PlainOffer: Codable {
        var v: Int, seq: UInt64, ack: UInt64, type: String, request_id: String, call_id: String, from_tag: String, sdp: String, mode: String, flags: [String]
    }
    let plain = PlainOffer(v: 1, seq: 1, ack: 1, type: "offer", request_id: "r-1", call_id: callId.rawValue, from_tag: "1928301774", sdp: sdp, mode: "terminate", flags: ["record"])
    let plainData = try! JSONEncoder().encode(plain)

    Benchmark("Baseline: JSONEncoder, flat offer struct") { benchmark in
        for _ in benchmark.scaledIterations { blackHole(try JSONEncoder().encode(plain)) }
    }
    Benchmark("Encode media-control offer frame") { benchmark in
        for _ in benchmark.scaledIterations { blackHole(try ProtocolCodec.encode(frame)) }
    }
    Benchmark("Baseline: JSONDecoder, flat offer struct") { benchmark in
        for _ in benchmark.scaledIterations { blackHole(try JSONDecoder().decode(PlainOffer.self, from: plainData)) }
    }
    Benchmark("Decode media-control offer frame") { benchmark in
        for _ in benchmark.scaledIterations { blackHole(try ProtocolCodec.decode(MediaControlMessage.self, from: text)) }
    }
    Benchmark("MediaControlStateMachine: offer, result, delete, result") { benchmark in
        var machine = MediaControlStateMachine()
        machine.transportOpened(1)
        _ = machine.received(ProtocolFrame(seq: 0, message: .hello(.init(instance: "bench"))), on: 1, now: MediaInstant(nanoseconds: 0))
        var seq: UInt64 = 0
        benchmark.startMeasurement()
        for index in benchmark.scaledIterations {
            let id = try! CallID("call-\(index)")
            let request = MediaControlMessage.offer(.init(requestId: "o\(index)", callId: id, fromTag: "f", sdp: sdp, mode: .terminate))
            let delete = MediaControlMessage.delete(.init(requestId: "d\(index)", callId: id, reason: .callerHangup))
            seq += 1
            blackHole(machine.received(ProtocolFrame(seq: seq, ack: seq, message: request), on: 1, now: MediaInstant(nanoseconds: 0)))
            blackHole(machine.completed(requestId: "o\(index)", result: .ok("o\(index)", sdp: sdp), command: request))
            seq += 1
            blackHole(machine.received(ProtocolFrame(seq: seq, ack: seq, message: delete), on: 1, now: MediaInstant(nanoseconds: 0)))
            blackHole(machine.completed(requestId: "d\(index)", result: .ok("d\(index)"), command: delete))
        }
    }
}
