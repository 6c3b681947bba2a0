import AnswerNinjaTestSupport
import Foundation
import Testing

/// The harness that later issues build their scenarios on: each real peer starts on a free loopback port, answers,
/// and stops. Under CI=true a missing peer fails (the condition is true and `start` throws); elsewhere it skips.
@Suite(.serialized) struct PeerHarnessTests {
    @Test(.enabled(if: PostgresPeer.binDirectory != nil || PeerEnvironment.isCI), .timeLimit(.minutes(2)))
    func postgresStartsAnswersAndStops() async throws {
        let peer = try await PostgresPeer.start()
        try await withPeer(peer) { peer in
            #expect(try await peer.psql("SELECT 40 + 2") == "42")
            _ = try await peer.psql("CREATE TABLE t (id int primary key); INSERT INTO t VALUES (1), (2);")
            #expect(try await peer.psql("SELECT count(*) FROM t") == "2")
            #expect(peer.url.hasPrefix("postgresql://ninja@127.0.0.1:"))
        }
        #expect(!peer.process.isRunning)
    }

    @Test(.enabled(if: PeerEnvironment.available("redis-server")), .timeLimit(.minutes(1)))
    func redisStartsAnswersAndStops() async throws {
        let peer = try await RedisPeer.start()
        try await withPeer(peer) { peer in
            #expect(try await peer.command(["SET", "answer", "ninja", "EX", "60"]) == "OK")
            #expect(try await peer.command(["GET", "answer"]) == "ninja")
            let ttl = Int(try await peer.command(["TTL", "answer"])) ?? -1
            #expect((1...60).contains(ttl))
        }
        #expect(!peer.process.isRunning)
    }

    @Test(.enabled(if: PeerEnvironment.available("kamailio")), .timeLimit(.minutes(1)))
    func kamailioAnswersOptionsOnLoopback() async throws {
        let peer = try await KamailioPeer.start()
        try await withPeer(peer) { peer in
            let reply = try await UDPProbe.request(port: peer.port, payload: UDPProbe.options(to: peer.port), timeout: .seconds(2))
            #expect(reply?.hasPrefix("SIP/2.0 200 Answer Ninja test edge") == true)
            let invite = UDPProbe.options(to: peer.port).replacingOccurrences(of: "OPTIONS", with: "MESSAGE")
            let refused = try await UDPProbe.request(port: peer.port, payload: invite, timeout: .seconds(2))
            #expect(refused?.hasPrefix("SIP/2.0 404") == true)
        }
    }

    @Test(.enabled(if: PeerEnvironment.available("baresip")), .timeLimit(.minutes(1)))
    func baresipSoftphoneAnswersOptions() async throws {
        let peer = try await BaresipPeer.start()
        try await withPeer(peer) { peer in
            let reply = try await UDPProbe.request(port: peer.sipPort, payload: UDPProbe.options(to: peer.sipPort, user: peer.user), timeout: .seconds(2))
            #expect(reply?.hasPrefix("SIP/2.0 200") == true)
            // A real softphone advertises what it can do.
            #expect(reply?.contains("INVITE") == true)
        }
    }

    @Test(.enabled(if: PeerEnvironment.available("tshark")), .timeLimit(.minutes(1)))
    func tsharkCapturesExactlyWhatWasSent() async throws {
        let port = try PeerEnvironment.freePort()
        let capture = try await TsharkCapture.start(filter: "udp dst port \(port)")
        try await withPeer(capture) { capture in
            try await capture.warmUp(port: port)
            try UDPProbe.send(port: port, payload: Array("answer-ninja".utf8), count: 7)
            // Let the last datagrams reach the capture before stopping it.
            try await Task.sleep(for: .milliseconds(300))
            await capture.stop()
            let lines = try await capture.fields(["udp.dstport", "udp.length"], displayFilter: "udp.length == 20")
            #expect(lines.count == 7)
            #expect(lines.allSatisfy { $0 == "\(port)\t20" })
        }
    }
}
