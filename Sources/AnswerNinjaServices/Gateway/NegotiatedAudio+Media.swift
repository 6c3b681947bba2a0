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

    /// Whether a session running `self` must be prepared again to run `next`, what a re-offer agreed: the far end's
    /// address or port, the codec or its payload types, rtcp-mux, or the keys changed. A change of direction (hold,
    /// resume) does not, nor does a hold to `c=0.0.0.0` (RFC 2543 style: the session keeps its far end).
    func needsPrepare(toRun next: NegotiatedAudio) -> Bool {
        guard !next.farEndUnspecified else { return false }
        return farEndMoved(toRun: next) || !sameStream(as: next)
    }

    /// A hold the RFC 2543 way: `c=0.0.0.0` (or port 0), which names no far end.
    var farEndUnspecified: Bool { remoteAddress == "0.0.0.0" || remoteAddress == "::" || remotePort == 0 }

    func farEndMoved(toRun next: NegotiatedAudio) -> Bool { remoteAddress != next.remoteAddress || remotePort != next.remotePort }

    /// The same codec, payload types, rtcp-mux and keys: a path running `self` runs `next` unchanged.
    func sameStream(as next: NegotiatedAudio) -> Bool {
        let sameKeys: Bool = switch (keys, next.keys) {
        case (nil, nil): true
        case (let old?, let new?): old.suite == new.suite && old.remote.isEqual(to: new.remote) && old.local.isEqual(to: new.local)
        default: false
        }
        return codec == next.codec && payloadType == next.payloadType && telephoneEventPayloadType == next.telephoneEventPayloadType
            && rtcpMux == next.rtcpMux && sameKeys
    }

    /// What a re-offer agreed, to be kept as the call's audio: a hold to `c=0.0.0.0` keeps the far end it had, so that
    /// the resume is not taken for a move.
    func keepingFarEnd(of previous: NegotiatedAudio) -> NegotiatedAudio {
        guard farEndUnspecified else { return self }
        var kept = self
        kept.remoteAddress = previous.remoteAddress
        kept.remotePort = previous.remotePort
        return kept
    }

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
    /// After a re-offer: prepares the session again for `next` when it differs from `current` as `needsPrepare` says
    /// (the far end moved, or changed codec or keys); returns whether it did. Throws when the new codec cannot start.
    @discardableResult
    nonisolated(nonsending) func follow(from current: NegotiatedAudio, to next: NegotiatedAudio) async throws -> Bool {
        guard current.needsPrepare(toRun: next) else { return false }
        let remote = try SocketAddress(ipAddress: next.remoteAddress, port: next.remotePort)
        if current.sameStream(as: next) {
            // Only the address moved: the path (SSRC, SRTP rollover counters, jitter buffer) carries on.
            await retarget(remote: remote)
        } else {
            try await prepare(for: next, remote: remote)
        }
        return true
    }

    /// Prepares the session for what offer/answer agreed, towards `remote`.
    nonisolated(nonsending) func prepare(for audio: NegotiatedAudio, remote: SocketAddress) async throws {
        let transforms = try audio.srtpTransforms()
        try await prepare(
            remote: remote, codec: audio.pathCodec, events: audio.eventPayloadType, inbound: transforms.inbound, outbound: transforms.outbound,
            rtcpMux: audio.rtcpMux
        )
    }
}
