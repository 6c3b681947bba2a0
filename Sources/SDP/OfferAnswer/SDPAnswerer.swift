import SRTP

/// The answerer of RFC 3264 for the gateway: the first audio stream we can take is accepted, every other media
/// section is answered with port 0 (§6: rejected, not a failed call); re-offers (hold, resume, new keys) keep our
/// port and session id and raise the version (§8). When no audio stream can be taken, `answer` throws
/// `notAcceptable`, which is a 488.
public struct SDPAnswerer: Sendable {
    public var capabilities: MediaCapabilities
    /// The address we write in `c=` and `o=`.
    public var localAddress: String

    public init(capabilities: MediaCapabilities = MediaCapabilities(), localAddress: String) {
        self.capabilities = capabilities
        self.localAddress = localAddress
    }

    public struct Negotiation: Sendable {
        public var answer: SessionDescription
        public var audio: NegotiatedAudio
        /// The media section of the answer (and offer) that carries the audio.
        public var audioIndex: Int

        public init(answer: SessionDescription, audio: NegotiatedAudio, audioIndex: Int) {
            self.answer = answer
            self.audio = audio
            self.audioIndex = audioIndex
        }

        /// Moves the accepted stream to `port` (when the media side allocates it after the answer was computed).
        public mutating func setLocalPort(_ port: Int) {
            answer.media[audioIndex].port = port
            audio.localPort = port
        }
    }

    /// Answers `offer`. `localPort` is the port the media side allocated; on a re-offer pass the dialog's
    /// `previous` negotiation, whose port, session id and keys carry over.
    public func answer(_ offer: SessionDescription, localPort: Int, previous: Negotiation? = nil) throws(SDPError) -> Negotiation {
        var sections: [MediaDescription] = []
        var accepted: NegotiatedAudio?
        var audioIndex = 0
        var reasons: [String] = []
        for (index, section) in offer.media.enumerated() {
            if accepted == nil, section.type == "audio", section.port != 0 {
                switch negotiate(section, session: offer, localPort: previous?.audio.localPort ?? localPort, previous: previous?.audio) {
                case .success(let (answerSection, audio)):
                    sections.append(answerSection)
                    accepted = audio
                    audioIndex = index
                    continue
                case .failure(let reason):
                    reasons.append(reason.message)
                }
            }
            // Rejected: port 0, the same proto and one of the offered formats (RFC 3264 §6).
            sections.append(MediaDescription(type: section.type, port: 0, proto: section.proto, formats: Array(section.formats.prefix(1))))
        }
        guard let accepted else {
            throw .notAcceptable(reasons.isEmpty ? "the offer has no audio stream" : reasons.joined(separator: "; "))
        }
        let origin: SessionDescription.Origin
        if let previous {
            origin = SessionDescription.Origin(
                sessionID: previous.answer.origin.sessionID, sessionVersion: previous.answer.origin.sessionVersion + 1, address: localAddress,
                addressType: addressType
            )
        } else {
            origin = SessionDescription.Origin(sessionID: String(UInt32.random(in: 1 ... .max)), sessionVersion: 1, address: localAddress, addressType: addressType)
        }
        let answer = SessionDescription(
            origin: origin, sessionName: "Answer Ninja", connection: SessionDescription.Connection(address: localAddress), media: sections
        )
        return Negotiation(answer: answer, audio: accepted, audioIndex: audioIndex)
    }

    private var addressType: String { localAddress.contains(":") ? "IP6" : "IP4" }

    private func negotiate(
        _ offer: MediaDescription, session: SessionDescription, localPort: Int, previous: NegotiatedAudio?
    ) -> Result<(MediaDescription, NegotiatedAudio), SDPError> {
        let profile = offer.proto.uppercased()
        guard profile == "RTP/AVP" || profile == "RTP/SAVP" else { return .failure(.notAcceptable("profile \(offer.proto) is not supported")) }
        // SRTP (RFC 4568): the first offered crypto line whose suite we do.
        var keys: NegotiatedAudio.Keys?
        if offer.isSecureRTP {
            guard capabilities.srtp != .off else { return .failure(.notAcceptable("SRTP is turned off")) }
            for value in offer.attributes("crypto") {
                guard let attribute = try? SDESCryptoAttribute(parsing: value[...]), capabilities.suites.contains(attribute.suite), let key = attribute.keys.first else { continue }
                let local = previous?.keys.flatMap { $0.suite == attribute.suite ? $0.local : nil } ?? SRTPKeyMaterial.random(for: attribute.suite)
                keys = NegotiatedAudio.Keys(suite: attribute.suite, tag: attribute.tag, remote: key.material, local: local)
                break
            }
            guard keys != nil else { return .failure(.notAcceptable("no offered crypto suite is supported")) }
        } else if capabilities.srtp == .mandatory {
            return .failure(.notAcceptable("SRTP is mandatory and the offer is RTP/AVP"))
        }
        // The codec: the offerer's order of preference, among ours.
        var chosen: (codec: MediaCapabilities.Codec, payloadType: Int)?
        for format in offer.formats {
            guard let payloadType = Int(format), let map = offer.rtpmap(payloadType), let codec = MediaCapabilities.Codec(map), capabilities.codecs.contains(codec) else { continue }
            chosen = (codec, payloadType)
            break
        }
        guard let chosen else {
            let offered = offer.formats.compactMap { Int($0).flatMap(offer.rtpmap) }.map { "\($0.encoding)/\($0.clockRate)" }
            return .failure(.notAcceptable("no common codec (offered: \(offered.joined(separator: ", ")))"))
        }
        var telephoneEvent: Int?
        if capabilities.telephoneEvent {
            telephoneEvent = offer.formats.compactMap(Int.init).first { type in
                offer.rtpmap(type).map { $0.encoding == "telephone-event" && $0.clockRate == chosen.codec.clockRate } == true
            }
        }
        let connection = offer.connection ?? session.connection
        guard let connection else { return .failure(.notAcceptable("no connection address")) }
        var direction = offer.direction.answer
        if connection.isUnspecified, direction == .sendrecv { direction = .recvonly }  // legacy hold (RFC 3264 §8.4)
        let ptime = offer.ptime.flatMap { (10...60).contains($0) && $0 % 10 == 0 ? $0 : nil } ?? capabilities.ptime
        var answer = MediaDescription(type: "audio", port: localPort, proto: offer.proto, formats: [String(chosen.payloadType)] + (telephoneEvent.map { [String($0)] } ?? []))
        answer.attributes.append(.init("rtpmap", "\(chosen.payloadType) \(chosen.codec.encodingName)/\(chosen.codec.clockRate)" + (chosen.codec.channels > 1 ? "/\(chosen.codec.channels)" : "")))
        if chosen.codec == .opus { answer.attributes.append(.init("fmtp", "\(chosen.payloadType) \(MediaCapabilities.opusParameters)")) }
        if let telephoneEvent {
            answer.attributes.append(.init("rtpmap", "\(telephoneEvent) telephone-event/\(chosen.codec.clockRate)"))
            answer.attributes.append(.init("fmtp", "\(telephoneEvent) \(MediaCapabilities.telephoneEventParameters)"))
        }
        answer.attributes.append(.init("ptime", String(ptime)))
        answer.attributes.append(.init(direction.rawValue))
        if offer.rtcpMux { answer.attributes.append(.init("rtcp-mux")) }
        if let keys {
            answer.attributes.append(.init("crypto", SDESCryptoAttribute(tag: keys.tag, suite: keys.suite, material: keys.local).sdpValue))
        }
        let audio = NegotiatedAudio(
            codec: chosen.codec, payloadType: chosen.payloadType, telephoneEventPayloadType: telephoneEvent, ptime: ptime, direction: direction,
            remoteAddress: connection.address, remotePort: offer.port, localPort: localPort, rtcpMux: offer.rtcpMux, keys: keys
        )
        return .success((answer, audio))
    }
}
