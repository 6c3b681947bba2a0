import AnswerNinjaCore
import Foundation
import NIOCore
import NIOPosix
import SIPMessages

/// `answer-ninja load`: full calls at a fixed rate against a SIP target over UDP — INVITE (with a G.711 offer),
/// 200, ACK, an optional hold, BYE, 200 — from one socket on one event loop, as a SIP load generator does. It resends
/// INVITE and BYE at T1 doubling (RFC 3261 timers A and E) until a response, gives up after 32 s, and reports the
/// achieved rate, the setup latency (INVITE sent → 200 received) and the failures by reason. With `media: .g711`
/// each answered call gets a 20 ms µ-law packet stream to the port the answer names for as long as it is held.
public struct SIPLoadGenerator: Sendable {
    public enum Media: String, Sendable, CaseIterable { case none, g711 }

    public struct Options: Sendable {
        public var target: SocketAddress
        public var rate: Double
        public var calls: Int
        public var hold: Duration
        public var media: Media
        public var localHost: String

        public init(target: SocketAddress, rate: Double, calls: Int, hold: Duration = .zero, media: Media = .none, localHost: String = "127.0.0.1") {
            self.target = target
            self.rate = rate
            self.calls = calls
            self.hold = hold
            self.media = media
            self.localHost = localHost
        }
    }

    public struct Report: Codable, Sendable, CommandOutput {
        public var target: String
        public var requestedRate: Double
        public var calls: Int
        public var completed: Int
        public var failed: Int
        /// Completed calls per second of the run (first INVITE to last final response).
        public var achievedRate: Double
        public var setupMs: Percentiles
        public var failures: [String: Int]
        public var seconds: Double

        public struct Percentiles: Codable, Sendable {
            public var p50: Double
            public var p90: Double
            public var p99: Double
            public var max: Double
        }

        public var humanReadable: String {
            String(format: "%d/%d calls completed in %.1f s: %.0f calls/s (asked %.0f); setup p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms",
                   completed, calls, seconds, achievedRate, requestedRate, setupMs.p50, setupMs.p90, setupMs.p99, setupMs.max)
                + (failures.isEmpty ? "" : "; failures: " + failures.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        }
    }

    public let options: Options

    public init(options: Options) {
        self.options = options
    }

    /// Runs the load; `progress` gets a line about once a second.
    public func run(group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, progress: @escaping @Sendable (String) -> Void = { _ in }) async throws -> Report {
        let eventLoop = group.next()
        let done = eventLoop.makePromise(of: Report.self)
        let options = options
        let channel = try await DatagramBootstrap(group: eventLoop)
            .channelOption(.socketOption(.so_rcvbuf), value: 4 << 20)
            .channelOption(.socketOption(.so_sndbuf), value: 4 << 20)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(Generator(options: options, done: done, progress: progress))
                }
            }
            .bind(host: options.localHost, port: 0)
            .get()
        defer { channel.close(promise: nil) }
        return try await done.futureResult.get()
    }

    /// The whole generator, confined to its channel's event loop.
    final class Generator: ChannelInboundHandler {
        typealias InboundIn = AddressedEnvelope<ByteBuffer>
        typealias OutboundOut = AddressedEnvelope<ByteBuffer>

        struct Call {
            var index: Int
            var callID: String
            var fromTag: String
            var branch: String
            var toTag: String?
            var inviteSentAt: NIODeadline
            var lastSentAt: NIODeadline
            var retransmitInterval: TimeAmount
            var request: ByteBuffer
            var phase: Phase
            var answerPort: Int?
            var rtpSequence: UInt16 = 0
            var holdUntil: NIODeadline?

            enum Phase { case inviting, holding, byeing }
        }

        let options: Options
        let done: EventLoopPromise<Report>
        let progress: @Sendable (String) -> Void
        var context: ChannelHandlerContext?
        var localPort = 0
        var started = NIODeadline.now()
        var lastFinal = NIODeadline.now()
        var sent = 0
        var calls: [String: Call] = [:]
        var setups: [Double] = []
        var failures: [String: Int] = [:]
        var completed = 0
        var finishedCalls = 0
        var lastProgress = NIODeadline.now()
        let runID = SIPToken.random(length: 6)

        init(options: Options, done: EventLoopPromise<Report>, progress: @escaping @Sendable (String) -> Void) {
            self.options = options
            self.done = done
            self.progress = progress
        }

        func channelActive(context: ChannelHandlerContext) {
            self.context = context
            localPort = context.localAddress?.port ?? 0
            started = .now()
            lastProgress = started
            tick()
        }

        /// Every millisecond: the INVITEs now due, retransmissions, hold ends, RTP, time-outs, progress.
        private func tick() {
            guard let context else { return }
            let now = NIODeadline.now()
            let elapsed = Double((now - started).nanoseconds) / 1e9
            let due = min(options.calls, Int(elapsed * options.rate) + 1)
            while sent < due {
                invite(index: sent, now: now)
                sent += 1
            }
            for (id, call) in calls {
                switch call.phase {
                case .inviting, .byeing:
                    if now - call.inviteSentAt > .seconds(32) {
                        fail(id, reason: call.phase == .inviting ? "INVITE timeout" : "BYE timeout")
                    } else if now - call.lastSentAt >= call.retransmitInterval {
                        calls[id]?.lastSentAt = now
                        calls[id]?.retransmitInterval = min(call.retransmitInterval * 2, .seconds(4))
                        write(call.request)
                    }
                case .holding:
                    if let until = call.holdUntil, now >= until { bye(id, now: now) }
                }
            }
            if now - lastProgress >= .seconds(1) {
                lastProgress = now
                progress(progressLine(now: now))
            }
            if finishedCalls == options.calls {
                done.succeed(report())
                return
            }
            context.eventLoop.scheduleTask(in: .milliseconds(1)) { [self] in tick() }
            if options.media == .g711 { sendMedia(now: now) }
        }

        private func invite(index: Int, now: NIODeadline) {
            let callID = "load-\(runID)-\(index)@\(options.localHost)"
            let branch = "z9hG4bK-\(runID)-\(index)-1"
            let fromTag = "t\(index)"
            let target = "\(options.target.ipAddress ?? "127.0.0.1"):\(options.target.port ?? 5060)"
            let sdp = "v=0\r\no=load \(index) 1 IN IP4 \(options.localHost)\r\ns=-\r\nc=IN IP4 \(options.localHost)\r\nt=0 0\r\n"
                + "m=audio \(localPort) RTP/AVP 0 8\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=ptime:20\r\na=sendrecv\r\n"
            let text = "INVITE sip:demo@\(target) SIP/2.0\r\nVia: SIP/2.0/UDP \(options.localHost):\(localPort);branch=\(branch);rport\r\n"
                + "Max-Forwards: 70\r\nFrom: <sip:load@\(options.localHost)>;tag=\(fromTag)\r\nTo: <sip:demo@\(target)>\r\nCall-ID: \(callID)\r\n"
                + "CSeq: 1 INVITE\r\nContact: <sip:load@\(options.localHost):\(localPort)>\r\nContent-Type: application/sdp\r\n"
                + "Content-Length: \(sdp.utf8.count)\r\n\r\n" + sdp
            let request = ByteBuffer(string: text)
            calls[callID] = Call(
                index: index, callID: callID, fromTag: fromTag, branch: branch, inviteSentAt: now, lastSentAt: now,
                retransmitInterval: .milliseconds(500), request: request, phase: .inviting
            )
            write(request)
        }

        private func ack(_ call: Call) -> ByteBuffer {
            ByteBuffer(string: inDialog(call, method: "ACK", sequence: 1, branch: "z9hG4bK-\(runID)-\(call.index)-2"))
        }

        private func inDialog(_ call: Call, method: String, sequence: Int, branch: String) -> String {
            let target = "\(options.target.ipAddress ?? "127.0.0.1"):\(options.target.port ?? 5060)"
            return "\(method) sip:demo@\(target) SIP/2.0\r\nVia: SIP/2.0/UDP \(options.localHost):\(localPort);branch=\(branch);rport\r\n"
                + "Max-Forwards: 70\r\nFrom: <sip:load@\(options.localHost)>;tag=\(call.fromTag)\r\nTo: <sip:demo@\(target)>;tag=\(call.toTag ?? "")\r\n"
                + "Call-ID: \(call.callID)\r\nCSeq: \(sequence) \(method)\r\nContent-Length: 0\r\n\r\n"
        }

        private func bye(_ id: String, now: NIODeadline) {
            guard var call = calls[id] else { return }
            call.phase = .byeing
            call.request = ByteBuffer(string: inDialog(call, method: "BYE", sequence: 2, branch: "z9hG4bK-\(runID)-\(call.index)-3"))
            call.lastSentAt = now
            call.retransmitInterval = .milliseconds(500)
            calls[id] = call
            write(call.request)
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let envelope = unwrapInboundIn(data)
            guard envelope.data.readableBytes > 12, envelope.data.getInteger(at: envelope.data.readerIndex, as: UInt8.self) == UInt8(ascii: "S"),
                  case .response(let response)? = try? SIPMessage(parsing: envelope.data),
                  let id = response.headers.first("Call-ID"), var call = calls[id],
                  let cseq = response.headers.cseq
            else { return }  // RTP from the target, or a stray message
            let now = NIODeadline.now()
            switch (call.phase, cseq.method, response.statusCode) {
            case (.inviting, "INVITE", 100..<200):
                call.retransmitInterval = .seconds(4)  // a provisional response stops timer A's doubling (we keep a slow resend)
                call.lastSentAt = now
                calls[id] = call
            case (.inviting, "INVITE", 200..<300):
                call.toTag = SIPMessage.response(response).to?.tag
                setups.append(Double((now - call.inviteSentAt).nanoseconds) / 1e6)
                call.answerPort = Self.audioPort(in: response)
                write(ack(call))
                call.phase = .holding
                call.holdUntil = now + TimeAmount(options.hold)
                calls[id] = call
                if options.hold == .zero { bye(id, now: now) }
            case (.holding, "INVITE", 200..<300), (.byeing, "INVITE", 200..<300):
                write(ack(call))  // a resent 2xx: our ACK was lost
            case (.inviting, "INVITE", 300...):
                fail(id, reason: "\(response.statusCode) \(response.reasonPhrase)")
            case (.byeing, "BYE", 200...):
                if response.statusCode < 300 {
                    completed += 1
                    calls[id] = nil
                    finishedCalls += 1
                    lastFinal = now
                } else {
                    fail(id, reason: "BYE \(response.statusCode)")
                }
            default:
                break
            }
        }

        private func fail(_ id: String, reason: String) {
            guard calls.removeValue(forKey: id) != nil else { return }
            failures[reason, default: 0] += 1
            finishedCalls += 1
            lastFinal = .now()
        }

        private func write(_ buffer: ByteBuffer) {
            context?.writeAndFlush(wrapOutboundOut(AddressedEnvelope(remoteAddress: options.target, data: buffer)), promise: nil)
        }

        /// One 20 ms µ-law packet of silence to every held call, every 20 ms of the run.
        private var nextMedia: NIODeadline?
        private func sendMedia(now: NIODeadline) {
            if let nextMedia, now < nextMedia { return }
            nextMedia = (nextMedia ?? now) + .milliseconds(20)
            guard let context else { return }
            for (id, call) in calls where call.phase == .holding {
                guard let port = call.answerPort, let address = try? SocketAddress(ipAddress: options.target.ipAddress ?? "127.0.0.1", port: port) else { continue }
                var packet = context.channel.allocator.buffer(capacity: 172)
                packet.writeInteger(UInt8(0x80))
                packet.writeInteger(UInt8(0))
                packet.writeInteger(call.rtpSequence)
                packet.writeInteger(UInt32(call.rtpSequence) &* 160)
                packet.writeInteger(UInt32(call.index))
                packet.writeRepeatingByte(0xFF, count: 160)
                calls[id]?.rtpSequence &+= 1
                context.write(wrapOutboundOut(AddressedEnvelope(remoteAddress: address, data: packet)), promise: nil)
            }
            context.flush()
        }

        static func audioPort(in response: SIPResponse) -> Int? {
            let text = String(decoding: response.body.readableBytesView, as: UTF8.self)
            guard let line = text.split(whereSeparator: \.isNewline).first(where: { $0.hasPrefix("m=audio ") }) else { return nil }
            return Int(line.split(separator: " ")[1])
        }

        private func progressLine(now: NIODeadline) -> String {
            let elapsed = Double((now - started).nanoseconds) / 1e9
            let sorted = setups.sorted()
            return String(format: "load: %d/%d calls, %d done, %.0f calls/s, setup p50 %.2f ms p99 %.2f ms, %d failed",
                          sent, options.calls, completed, Double(completed) / max(elapsed, 0.001),
                          Self.percentile(sorted, 0.5), Self.percentile(sorted, 0.99), finishedCalls - completed)
        }

        private func report() -> Report {
            let seconds = Double((lastFinal - started).nanoseconds) / 1e9
            let sorted = setups.sorted()
            return Report(
                target: "\(options.target.ipAddress ?? ""):\(options.target.port ?? 0)", requestedRate: options.rate, calls: options.calls,
                completed: completed, failed: finishedCalls - completed, achievedRate: Double(completed) / max(seconds, 0.001),
                setupMs: .init(p50: Self.percentile(sorted, 0.5), p90: Self.percentile(sorted, 0.9), p99: Self.percentile(sorted, 0.99), max: sorted.last ?? 0),
                failures: failures, seconds: seconds
            )
        }

        /// The nearest-rank percentile of sorted values (0 when there are none).
        static func percentile(_ sorted: [Double], _ p: Double) -> Double {
            guard !sorted.isEmpty else { return 0 }
            let rank = Int((Double(sorted.count) * p).rounded(.up))
            return sorted[max(0, min(sorted.count - 1, rank - 1))]
        }
    }
}
