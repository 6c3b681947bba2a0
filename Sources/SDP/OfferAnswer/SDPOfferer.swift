import SRTP

/// The offerer of RFC 3264: one audio stream with every codec and suite of the capabilities (the leg to a user's
/// device, the `call` softphone), and the negotiation the answer settles.
public struct SDPOfferer: Sendable {
    public var capabilities: MediaCapabilities
    public var localAddress: String

    /// Dynamic payload types we write: Opus 111, telephone-event 101 at 8 kHz and 110 at 48 kHz.
    public static let opusPayloadType = 111
    public static let telephoneEvent8000 = 101
    public static let telephoneEvent48000 = 110

    public init(capabilities: MediaCapabilities = MediaCapabilities(), localAddress: String) {
        self.capabilities = capabilities
        self.localAddress = localAddress
    }

    /// An offer and what it takes to read the answer (our keys per crypto tag).
    public struct Offer: Sendable {
        public var description: SessionDescription
        public var localPort: Int
        public var keys: [UInt32: (suite: SRTPCryptoSuite, material: SRTPKeyMaterial)]
    }

    /// Offers audio on `localPort`: RTP/SAVP with one `a=crypto` per suite unless SRTP is off, RTP/AVP otherwise.
    public func offer(localPort: Int, sessionVersion: UInt64 = 1) -> Offer {
        let secure = capabilities.srtp != .off
        var formats: [String] = []
        var attributes: [SessionDescription.Attribute] = []
        for codec in capabilities.codecs {
            let type = codec.staticPayloadType ?? Self.opusPayloadType
            formats.append(String(type))
            attributes.append(.init("rtpmap", "\(type) \(codec.encodingName)/\(codec.clockRate)" + (codec.channels > 1 ? "/\(codec.channels)" : "")))
            if codec == .opus { attributes.append(.init("fmtp", "\(type) \(MediaCapabilities.opusParameters)")) }
        }
        if capabilities.telephoneEvent {
            let rates = Set(capabilities.codecs.map(\.clockRate))
            for (rate, type) in [(8000, Self.telephoneEvent8000), (48000, Self.telephoneEvent48000)] where rates.contains(rate) {
                formats.append(String(type))
                attributes.append(.init("rtpmap", "\(type) telephone-event/\(rate)"))
                attributes.append(.init("fmtp", "\(type) \(MediaCapabilities.telephoneEventParameters)"))
            }
        }
        attributes.append(.init("ptime", String(capabilities.ptime)))
        attributes.append(.init("sendrecv"))
        attributes.append(.init("rtcp-mux"))
        var keys: [UInt32: (SRTPCryptoSuite, SRTPKeyMaterial)] = [:]
        if secure {
            for (index, suite) in capabilities.suites.enumerated() {
                let tag = UInt32(index + 1)
                let material = SRTPKeyMaterial.random(for: suite)
                keys[tag] = (suite, material)
                attributes.append(.init("crypto", SDESCryptoAttribute(tag: tag, suite: suite, material: material).sdpValue))
            }
        }
        let section = MediaDescription(type: "audio", port: localPort, proto: secure ? "RTP/SAVP" : "RTP/AVP", formats: formats, attributes: attributes)
        let description = SessionDescription(
            origin: .init(sessionID: String(UInt32.random(in: 1 ... .max)), sessionVersion: sessionVersion, address: localAddress, addressType: localAddress.contains(":") ? "IP6" : "IP4"),
            sessionName: "Answer Ninja", connection: .init(address: localAddress), media: [section]
        )
        return Offer(description: description, localPort: localPort, keys: keys)
    }

    /// The negotiation `answer` settles for `offer`: a codec we offered, events if it kept them, the suite of a tag
    /// we offered. An answer that rejects the stream, picks what we never offered, or drops SRTP when it was
    /// mandatory throws `notAcceptable` (the call is then ended).
    public func accept(_ answer: SessionDescription, for offer: Offer) throws(SDPError) -> NegotiatedAudio {
        // Our audio line (an offer continuing a session keeps its other m-lines, refused, in their places), and the
        // answer's line in the same place (RFC 3264 §6).
        guard let index = offer.description.media.firstIndex(where: { $0.type == "audio" && $0.port != 0 }) else {
            throw .malformed("the offer has no audio stream")
        }
        let offered = offer.description.media[index]
        let placed = answer.media.indices.contains(index) && answer.media[index].type == "audio" ? answer.media[index] : nil
        guard let section = placed ?? answer.media.first(where: { $0.type == "audio" }), section.port != 0 else {
            throw .notAcceptable("the answer rejected the audio stream")
        }
        var chosen: (MediaCapabilities.Codec, Int)?
        for format in section.formats {
            guard let type = Int(format), offered.formats.contains(format), let map = section.rtpmap(type) ?? offered.rtpmap(type), let codec = MediaCapabilities.Codec(map) else { continue }
            chosen = (codec, type)
            break
        }
        guard let (codec, payloadType) = chosen else { throw .notAcceptable("the answer picked no codec we offered") }
        let telephoneEvent = section.formats.compactMap(Int.init).first { type in
            (section.rtpmap(type) ?? offered.rtpmap(type)).map { $0.encoding == "telephone-event" && $0.clockRate == codec.clockRate } == true
        }
        var keys: NegotiatedAudio.Keys?
        if section.isSecureRTP {
            for value in section.attributes("crypto") {
                guard let attribute = try? SDESCryptoAttribute(parsing: value[...]), let ours = offer.keys[attribute.tag], ours.suite == attribute.suite, let key = attribute.keys.first else { continue }
                guard !key.material.isEqual(to: ours.material) else { throw .notAcceptable("the answer echoed our SRTP key (RFC 4568 §6.1)") }
                keys = NegotiatedAudio.Keys(suite: attribute.suite, tag: attribute.tag, remote: key.material, local: ours.material)
                break
            }
            guard keys != nil else { throw .notAcceptable("the answer's crypto matches no offered tag and suite") }
        } else if capabilities.srtp == .mandatory {
            throw .notAcceptable("SRTP is mandatory and the answer is RTP/AVP")
        }
        guard let connection = section.connection ?? answer.connection else { throw .malformed("the answer has no connection address") }
        return NegotiatedAudio(
            codec: codec, payloadType: payloadType, telephoneEventPayloadType: telephoneEvent, ptime: section.ptime ?? capabilities.ptime,
            direction: section.direction.answer, remoteAddress: connection.address, remotePort: section.port, localPort: offer.localPort,
            rtcpMux: section.rtcpMux && offered.rtcpMux, keys: keys
        )
    }
}
