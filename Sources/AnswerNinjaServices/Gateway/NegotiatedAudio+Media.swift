import MediaTransport
import NIOCore
import SDP
import SRTP

extension NegotiatedAudio {
    /// The media path's codec for what offer/answer agreed.
    var pathCodec: MediaPathCodec {
        switch codec {
        case .pcmu: .g711(.muLaw)
        case .pcma: .g711(.aLaw)
        case .opus: .opus(payloadType: UInt8(truncatingIfNeeded: payloadType))
        }
    }

    /// The telephone-event payload type, when agreed.
    var eventPayloadType: UInt8? { telephoneEventPayloadType.map { UInt8(truncatingIfNeeded: $0) } }

    /// The SRTP transforms of the agreed keys (ours protect what we send, theirs unprotect what we receive); nil
    /// for plain RTP.
    func srtpTransforms() throws -> (inbound: (any SRTPTransform)?, outbound: (any SRTPTransform)?) {
        guard let keys else { return (nil, nil) }
        return (
            try NativeSRTPSession(suite: keys.suite, material: keys.remote, direction: .inbound),
            try NativeSRTPSession(suite: keys.suite, material: keys.local, direction: .outbound)
        )
    }
}

extension RTPCallSession {
    /// Prepares the session for what offer/answer agreed, towards `remote`.
    nonisolated(nonsending) func prepare(for audio: NegotiatedAudio, remote: SocketAddress) async throws {
        let transforms = try audio.srtpTransforms()
        try await prepare(
            remote: remote, codec: audio.pathCodec, events: audio.eventPayloadType, inbound: transforms.inbound, outbound: transforms.outbound,
            rtcpMux: audio.rtcpMux
        )
    }
}
