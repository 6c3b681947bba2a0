import AnswerNinjaCore
import Capture
import NIOCore
import SIPMessages

/// The caller's side of one call in a capture, as `replay` sends it again: the caller's SIP requests and its RTP, in
/// order, with their offsets from the first INVITE. The caller is whoever sent the first INVITE; its RTP is what it
/// sent from the port its SDP offered. Responses the caller sent are left out (a replay answers the target's
/// requests itself). No I/O.
struct SIPCallCapture {
    enum Event {
        case sip(offset: Duration, request: SIPRequest)
        case rtp(offset: Duration, packet: ByteBuffer)

        var offset: Duration {
            switch self {
            case .sip(let offset, _), .rtp(let offset, _): offset
            }
        }
    }

    let caller: UDPDatagram.Endpoint
    let callee: UDPDatagram.Endpoint
    let events: [Event]

    /// Finds the call in `datagrams` (UDP only: SIP over UDP, RTP).
    init(datagrams: [UDPDatagram]) throws(CoreError) {
        var first: (datagram: UDPDatagram, request: SIPRequest)?
        for datagram in datagrams {
            if case .request(let request) = try? SIPMessage(parsing: datagram.payload), request.method == "INVITE" {
                first = (datagram, request)
                break
            }
        }
        guard let first else { throw CoreError.invalidValue("the capture has no INVITE over UDP") }
        caller = first.datagram.source
        callee = first.datagram.destination
        let mediaPort = Self.offeredAudioPort(first.request)
        let start = first.datagram.timestamp
        let callID = first.request.headers.first("Call-ID")
        var events: [Event] = []
        for datagram in datagrams where datagram.timestamp >= start && datagram.source.address == caller.address {
            let offset = Duration.nanoseconds(datagram.timestamp - start)
            if datagram.source.port == caller.port {
                guard case .request(let request) = try? SIPMessage(parsing: datagram.payload), request.headers.first("Call-ID") == callID else { continue }
                events.append(.sip(offset: offset, request: request))
            } else if let mediaPort, Int(datagram.source.port) == mediaPort, datagram.payload.readableBytes >= 12 {
                events.append(.rtp(offset: offset, packet: datagram.payload))
            }
        }
        self.events = events
    }

    /// The audio port of an INVITE's SDP offer.
    static func offeredAudioPort(_ request: SIPRequest) -> Int? {
        let sdp = String(buffer: request.body)
        for line in sdp.split(whereSeparator: \.isNewline) where line.hasPrefix("m=audio ") {
            return line.split(separator: " ").dropFirst().first.flatMap { Int($0) }
        }
        return nil
    }
}

/// Rewrites the caller's requests of a capture for a live replay (no I/O): the Request-URI's host and port become the
/// target's; Via, Contact and the SDP's addresses and audio port become ours; Call-ID, From tag and Via branches are
/// new (each original value mapped to one new value, so that a CANCEL still matches its INVITE); the To tag of
/// in-dialog requests is the one the target gave; Route headers go (the replay talks to the target directly).
struct SIPReplayRewriter {
    let local: (host: String, port: Int)
    let target: (host: String, port: Int)
    let mediaPort: Int
    /// The target's To tag, from its first tagged response to the INVITE.
    var remoteTag: String?
    private var mapped: [String: String] = [:]

    init(local: (host: String, port: Int), target: (host: String, port: Int), mediaPort: Int) {
        self.local = local
        self.target = target
        self.mediaPort = mediaPort
    }

    /// Whether `request` needs the target's To tag before it can go (an in-dialog request).
    static func needsRemoteTag(_ request: SIPRequest) -> Bool {
        request.headers.first("To").flatMap { try? SIPNameAddress(parsing: $0[...]) }?.tag != nil
    }

    mutating func rewrite(_ original: SIPRequest) -> SIPRequest {
        var request = original
        if case .sip(var uri) = request.uri {
            uri.host = target.host.contains(":") ? .ipv6(target.host) : .ipv4(target.host)
            uri.port = target.port
            uri.parameters = SIPParameters()
            request.uri = .sip(uri)
        }
        var headers = SIPHeaders()
        var viaDone = false
        for field in original.headers {
            switch field.name.lowercased() {
            case "via", "v":
                guard !viaDone, let via = try? SIPVia(parsing: field.value[...]) else { continue }
                viaDone = true
                let branch = map(via.branch ?? SIPToken.random(), prefix: SIPVia.magicCookie)
                headers.add("Via", "SIP/2.0/UDP \(SIPURI.Host(unparsed: local.host)):\(local.port);branch=\(branch);rport")
            case "call-id", "i":
                headers.add("Call-ID", map(field.value, prefix: "") + "@replay")
            case "from", "f":
                guard var from = try? SIPNameAddress(parsing: field.value[...]) else { continue }
                if let tag = from.tag { from.parameters.set("tag", map(tag, prefix: "")) }
                headers.add("From", from.serialized)
            case "to", "t":
                guard var to = try? SIPNameAddress(parsing: field.value[...]) else { continue }
                if to.tag != nil, let remoteTag { to.parameters.set("tag", remoteTag) }
                headers.add("To", to.serialized)
            case "contact", "m":
                let user = (try? SIPNameAddress(parsing: field.value[...])).flatMap { address -> String? in
                    if case .sip(let uri) = address.uri { return uri.user } else { return nil }
                } ?? "replay"
                headers.add("Contact", "<sip:\(user)@\(SIPURI.Host(unparsed: local.host)):\(local.port)>")
            case "route", "content-length", "l": continue
            default: headers.add(field.name, field.value)
            }
        }
        request.headers = headers
        if request.body.readableBytes > 0, (original.headers.first("Content-Type") ?? "").lowercased().hasPrefix("application/sdp") {
            request.body = ByteBuffer(string: rewriteSDP(String(buffer: original.body)))
        }
        return request
    }

    /// Learns the target's To tag from a response to the INVITE.
    mutating func learn(_ response: SIPResponse) {
        guard remoteTag == nil, (101..<300).contains(response.statusCode), SIPMessage.response(response).cseq?.method == "INVITE",
            let tag = response.headers.first("To").flatMap({ try? SIPNameAddress(parsing: $0[...]) })?.tag
        else { return }
        remoteTag = tag
    }

    /// Our address in o= and c=, our audio port in m=audio.
    func rewriteSDP(_ sdp: String) -> String {
        let family = local.host.contains(":") ? "IP6" : "IP4"
        // "\r\n" is one Character in Swift: split on newlines, write CRLF back.
        return sdp.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).map { raw -> String in
            let line = String(raw)
            if line.hasPrefix("c=IN ") { return "c=IN \(family) \(local.host)" }
            if line.hasPrefix("o=") {
                var fields = line.split(separator: " ").map(String.init)
                if fields.count == 6 { fields[4] = family; fields[5] = local.host }
                return fields.joined(separator: " ")
            }
            if line.hasPrefix("m=audio ") {
                var fields = line.split(separator: " ").map(String.init)
                guard fields.count > 1 else { return line }
                fields[1] = String(mediaPort)
                return fields.joined(separator: " ")
            }
            return line
        }.joined(separator: "\r\n")
    }

    private mutating func map(_ value: String, prefix: String) -> String {
        if let known = mapped[value] { return known }
        let fresh = prefix + SIPToken.random()
        mapped[value] = fresh
        return fresh
    }
}
