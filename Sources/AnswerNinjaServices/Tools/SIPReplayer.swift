import AnswerNinjaCore
import Capture
import Foundation
import NIOCore
import NIOPosix
import SIPMessages
import SIPTransport
import Synchronization

/// `answer-ninja replay FILE.pcap --target HOST:PORT`: sends the caller's side of a captured call to a live target
/// with the original timing (`SIPCallCapture`, rewritten by `SIPReplayRewriter`), answers what the target asks of
/// it (200 to BYE and the like), and reports what came back. In-dialog requests wait (up to 5 s) for the target's
/// To tag, and the RTP waits for its media address from the answer's SDP.
public actor SIPReplayer {
    public struct Report: Codable, Sendable, CommandOutput {
        public var target: String
        public var answered: Bool
        public var finalStatus: Int?
        /// INVITE sent → its final response.
        public var setupMs: Double?
        public var sipSent: Int
        /// The target's responses as `code METHOD`, in order (retransmissions included).
        public var responses: [String]
        /// Requests the target sent us, by method.
        public var requests: [String]
        public var rtpSent: Int
        public var rtpReceived: Int
        /// Events of the capture that could not be sent (an in-dialog request without the target's tag, RTP with
        /// no media address).
        public var skipped: Int

        public var humanReadable: String {
            "\(answered ? "answered" : "not answered") (\(finalStatus.map(String.init) ?? "no final response")); \(sipSent) SIP requests and \(rtpSent) RTP packets sent, "
                + "\(rtpReceived) RTP packets back; responses: \(responses.joined(separator: ", ")); requests: \(requests.joined(separator: ", "))"
        }
    }

    /// How long an in-dialog request waits for the target's To tag.
    static let tagWait: Duration = .seconds(5)

    private let capture: SIPCallCapture
    private let target: SocketAddress
    private let group: any EventLoopGroup
    private var rewriter: SIPReplayRewriter?
    private var sip: SIPUDPTransport?
    private var rtp: (any Channel)?
    private var mediaDestination: SocketAddress?
    private var lastSDP: String?
    private var inviteSent: ContinuousClock.Instant?
    private var report: Report

    public init(capture file: ByteBuffer, target: SocketAddress, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) throws {
        let frames: [CapturedFrame]
        do {
            frames = try CaptureFileParser.parse(file).frames
        } catch {
            throw CoreError.invalidValue("not a pcap or pcapng file: \(error.message)")
        }
        capture = try SIPCallCapture(datagrams: frames.compactMap(UDPDatagram.init(frame:)))
        self.target = target
        self.group = group
        let host = target.ipAddress ?? "?"
        report = Report(target: "\(SIPURI.Host(unparsed: host)):\(target.port ?? 0)", answered: false, sipSent: 0, responses: [], requests: [], rtpSent: 0, rtpReceived: 0, skipped: 0)
    }

    public func run() async throws -> Report {
        let host = target.ipAddress ?? "127.0.0.1"
        let localHost = host.hasPrefix("127.") || host == "::1" ? host : (host.contains(":") ? "::" : "0.0.0.0")
        // Messages are taken in the order they arrive: one stream, one consumer.
        let (messages, delivery) = AsyncStream<SIPMessage>.makeStream()
        let sip = try await SIPUDPTransport.bind(host: localHost, port: 0, group: group) { incoming in delivery.yield(incoming.message) }
        self.sip = sip
        let consumer = Task { [weak self] in
            for await message in messages { await self?.receive(message) }
        }
        defer { consumer.cancel() }
        let counter = Counter()
        let rtp = try await DatagramBootstrap(group: group)
            .channelInitializer { channel in channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(CountingHandler(counter: counter)) } }
            .bind(host: localHost, port: 0).get()
        self.rtp = rtp
        let advertised = localHost == "0.0.0.0" ? "127.0.0.1" : (localHost == "::" ? "::1" : localHost)
        rewriter = SIPReplayRewriter(
            local: (advertised, sip.localAddress.port ?? 0), target: (host, target.port ?? 5060), mediaPort: rtp.localAddress?.port ?? 0
        )
        let start = ContinuousClock.now
        for event in capture.events {
            try? await Task.sleep(until: start + event.offset)
            switch event {
            case .sip(_, let request): await send(request)
            case .rtp(_, let packet):
                guard let destination = mediaDestination else {
                    report.skipped += 1
                    continue
                }
                rtp.writeAndFlush(AddressedEnvelope(remoteAddress: destination, data: packet), promise: nil)
                report.rtpSent += 1
            }
        }
        try? await Task.sleep(for: .seconds(1))  // the last responses
        report.rtpReceived = counter.value.load(ordering: .relaxed)
        delivery.finish()
        await consumer.value
        await sip.close()
        try? await rtp.close()
        return report
    }

    private func send(_ original: SIPRequest) async {
        if SIPReplayRewriter.needsRemoteTag(original) {
            let deadline = ContinuousClock.now + Self.tagWait
            while rewriter?.remoteTag == nil, ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(10)) }
            guard rewriter?.remoteTag != nil else {
                report.skipped += 1
                return
            }
        }
        guard var rewriter, let sip else { return }
        let request = rewriter.rewrite(original)
        self.rewriter = rewriter
        if request.method == "INVITE", inviteSent == nil { inviteSent = .now }
        if request.body.readableBytes > 0 { lastSDP = String(buffer: request.body) }
        sip.send(.request(request), to: target)
        report.sipSent += 1
    }

    private func receive(_ message: SIPMessage) {
        switch message {
        case .response(let response):
            let method = SIPMessage.response(response).cseq?.method ?? "?"
            report.responses.append("\(response.statusCode) \(method)")
            rewriter?.learn(response)
            guard method == "INVITE" else { return }
            if let address = Self.mediaAddress(String(buffer: response.body)) { mediaDestination = address }
            if response.statusCode >= 200, report.finalStatus == nil {
                report.finalStatus = response.statusCode
                report.answered = response.statusCode < 300
                report.setupMs = inviteSent.map { (ContinuousClock.now - $0).milliseconds }
            }
        case .request(let request):
            report.requests.append(request.method)
            guard request.method != "ACK", let sip else { return }
            // The target's BYE, UPDATE, INFO, OPTIONS: 200 (a re-INVITE gets our last SDP back).
            var ok = SIPResponse(statusCode: 200, reasonPhrase: "OK", headers: SIPHeaders())
            for via in request.headers["Via"] { ok.headers.add("Via", via) }
            for name in ["From", "To", "Call-ID", "CSeq"] { if let value = request.headers.first(name) { ok.headers.add(name, value) } }
            if request.method == "INVITE", let lastSDP {
                let host = rewriter?.local.host ?? "127.0.0.1"
                ok.headers.add("Contact", "<sip:replay@\(SIPURI.Host(unparsed: host)):\(sip.localAddress.port ?? 0)>")
                ok.headers.add("Content-Type", "application/sdp")
                ok.body = ByteBuffer(string: lastSDP)
            }
            sip.send(.response(ok), to: target)
        }
    }

    /// The c= address and m=audio port of an SDP.
    static func mediaAddress(_ sdp: String) -> SocketAddress? {
        var address: String?, port: Int?
        for line in sdp.split(whereSeparator: \.isNewline) {
            if line.hasPrefix("c=IN ") { address = line.split(separator: " ").last.map(String.init) }
            if line.hasPrefix("m=audio ") { port = line.split(separator: " ").dropFirst().first.flatMap { Int($0) } }
        }
        guard let address, let port, port > 0 else { return nil }
        return try? SocketAddress(ipAddress: address, port: port)
    }

    private final class Counter: Sendable {
        let value = Atomic<Int>(0)
    }

    private final class CountingHandler: ChannelInboundHandler {
        typealias InboundIn = AddressedEnvelope<ByteBuffer>
        let counter: Counter
        init(counter: Counter) { self.counter = counter }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            counter.value.add(1, ordering: .relaxed)
        }
    }
}
