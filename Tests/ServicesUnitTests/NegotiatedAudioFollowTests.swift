@testable import AnswerNinjaServices
@testable import SDP
import SRTP
import Testing

/// When a re-offer makes a call's RTP session start again (`needsPrepare`): the far end moved, or changed codec, payload
/// types, rtcp-mux or keys; not for hold and resume, nor for an RFC 2543 hold to `c=0.0.0.0`.
@Suite struct NegotiatedAudioFollowTests {
    static let remoteBytes = (0..<30).map { UInt8($0) }
    static let local = SRTPKeyMaterial.random(for: .aesCM128HMACSHA1_80), remote = SRTPKeyMaterial(bytes: remoteBytes)

    static func audio(
        address: String = "192.0.2.10", port: Int = 40_000, codec: MediaCapabilities.Codec = .pcmu, payloadType: Int = 0, events: Int? = 101,
        direction: MediaDescription.Direction = .sendrecv, rtcpMux: Bool = false, keys: NegotiatedAudio.Keys? = nil
    ) -> NegotiatedAudio {
        NegotiatedAudio(
            codec: codec, payloadType: payloadType, telephoneEventPayloadType: events, ptime: 20, direction: direction, remoteAddress: address,
            remotePort: port, localPort: 20_000, rtcpMux: rtcpMux, keys: keys
        )
    }

    static func keys(remote: SRTPKeyMaterial = remote) -> NegotiatedAudio.Keys {
        NegotiatedAudio.Keys(suite: .aesCM128HMACSHA1_80, tag: 1, remote: remote, local: local)
    }

    @Test func aFarEndThatMovedOrChangedItsMediaIsFollowed() {
        let current = Self.audio(keys: Self.keys())
        for (what, next) in [
            ("another address", Self.audio(address: "192.0.2.11", keys: Self.keys())),
            ("another port", Self.audio(port: 40_002, keys: Self.keys())),
            ("another codec", Self.audio(codec: .pcma, payloadType: 8, keys: Self.keys())),
            ("another event payload type", Self.audio(events: 96, keys: Self.keys())),
            ("rtcp-mux", Self.audio(rtcpMux: true, keys: Self.keys())),
            ("a new key of theirs", Self.audio(keys: Self.keys(remote: .random(for: .aesCM128HMACSHA1_80)))),
            ("plain RTP now", Self.audio()),
        ] {
            #expect(current.needsPrepare(toRun: next), "\(what)")
        }
    }

    @Test func holdResumeAndAnRFC2543HoldLeaveTheSessionAsItIs() {
        let current = Self.audio(keys: Self.keys())
        // Their key said again (the same bytes, another object) is the same key.
        #expect(!current.needsPrepare(toRun: Self.audio(direction: .sendonly, keys: Self.keys(remote: SRTPKeyMaterial(bytes: Self.remoteBytes)))))
        #expect(!current.needsPrepare(toRun: Self.audio(direction: .inactive, keys: Self.keys())))
        #expect(!current.needsPrepare(toRun: Self.audio(address: "0.0.0.0", keys: Self.keys())))
        #expect(!Self.audio().needsPrepare(toRun: Self.audio(direction: .recvonly)))
    }

    /// A hold to c=0.0.0.0 is kept with the far end it had, so that the resume to the same address is not a move; a
    /// move of the address alone keeps the stream (the path is retargeted, not rebuilt).
    @Test func anRFC2543HoldThenResumeIsNoMoveAndAMoveAloneKeepsTheStream() {
        let current = Self.audio(keys: Self.keys())
        let held = Self.audio(address: "0.0.0.0", direction: .inactive, keys: Self.keys()).keepingFarEnd(of: current)
        #expect(held.remoteAddress == "192.0.2.10" && held.remotePort == 40_000)
        #expect(!held.needsPrepare(toRun: Self.audio(keys: Self.keys())))
        let moved = Self.audio(address: "192.0.2.11", port: 40_002, keys: Self.keys())
        #expect(current.farEndMoved(toRun: moved) && current.sameStream(as: moved))
        #expect(!current.sameStream(as: Self.audio(codec: .pcma, payloadType: 8, keys: Self.keys())))
        #expect(moved.keepingFarEnd(of: current).remotePort == 40_002)
    }
}
