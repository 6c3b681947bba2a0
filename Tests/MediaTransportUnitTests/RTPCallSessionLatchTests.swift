import AnswerNinjaCore
import Codecs
import Foundation
import MediaTransport
import NIOCore
import NIOPosix
import Testing

/// Which source an RTP session takes its media from: the first that sends, the address the SDP gave over a stray, and
/// after a re-INVITE that moves the far end, the new one while the old one is still sending (a media server until it
/// is told to stop: the take-over with the media role apart failed on it in CI).
@Suite struct RTPCallSessionLatchTests {
    /// A far end on a loopback port of its own that sends PCMU packets of one SSRC.
    final class Sender: @unchecked Sendable {
        let channel: any Channel
        let ssrc: UInt32
        let address: SocketAddress
        private var sequence: UInt16 = 1
        private var timestamp: UInt32 = 0

        init(ssrc: UInt32) async throws {
            self.ssrc = ssrc
            channel = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
            address = try #require(channel.localAddress)
        }

        /// `count` packets of a 1 kHz tone to `port`, in order, then a pause for them to be taken.
        func send(_ count: Int, to port: Int) async throws {
            let destination = try SocketAddress(ipAddress: "127.0.0.1", port: port)
            for _ in 0..<count {
                var codes: [UInt8] = []
                G711.encode((0..<160).map { Int16(6000 * sin(2 * Double.pi * 1000 * Double($0) / 8000)) }, law: .muLaw, into: &codes)
                var packet = channel.allocator.buffer(capacity: 172)
                packet.writeMultipleIntegers(UInt8(0x80), UInt8(0), sequence, timestamp, ssrc)
                packet.writeBytes(codes)
                try await channel.writeAndFlush(AddressedEnvelope(remoteAddress: destination, data: packet))
                sequence &+= 1
                timestamp &+= 160
            }
            try await Task.sleep(for: .milliseconds(150))
        }

        func close() async { try? await channel.close() }
    }

    static func open(towards remote: SocketAddress, pool: RTPPortPool) async throws -> RTPCallSession {
        let session = try await RTPCallSession.open(
            pool: pool, host: "127.0.0.1", remote: remote, codec: .g711(.muLaw), inbound: nil, outbound: nil,
            group: MultiThreadedEventLoopGroup.singleton, now: MediaInstant(.now())
        )
        session.start(playing: [])
        return session
    }

    @Test func aReINVITEMovesTheLatchToTheNewFarEndWhileTheOldOneStillSends() async throws {
        let pool = RTPPortPool(range: 41_000...41_199, quarantine: .zero, spread: true)
        let old = try await Sender(ssrc: 0x1111), new = try await Sender(ssrc: 0x2222)
        let session = try await Self.open(towards: old.address, pool: pool)
        try await old.send(10, to: session.localPort)
        // The re-INVITE: the far end is now `new`; the old one goes on sending for a while, first and in between.
        try await session.prepare(remote: new.address, codec: .g711(.muLaw), inbound: nil, outbound: nil)
        try await old.send(5, to: session.localPort)
        try await new.send(10, to: session.localPort)
        try await old.send(5, to: session.localPort)
        let report = await session.stop(pool: pool, now: MediaInstant(.now()))
        await old.close()
        await new.close()
        #expect(report.latchedSource == "\(new.address)", "latched onto \(report.latchedSource ?? "nothing"), not the new far end")
        #expect(report.droppedFromOtherSources == 10, "the old far end's packets after the move: \(report.droppedFromOtherSources)")
        #expect(report.packetsReceived == 20)
    }

    @Test func theAddressTheSDPGaveTakesTheLatchBackFromAStrayThatWentQuiet() async throws {
        let pool = RTPPortPool(range: 41_200...41_399, quarantine: .zero, spread: true)
        let far = try await Sender(ssrc: 0x3333), stray = try await Sender(ssrc: 0x4444)
        let session = try await Self.open(towards: far.address, pool: pool)
        try await stray.send(5, to: session.localPort)
        try await Task.sleep(for: .milliseconds(600))  // quiet for longer than latchQuiet (500 ms)
        try await far.send(10, to: session.localPort)
        try await stray.send(5, to: session.localPort)
        let report = await session.stop(pool: pool, now: MediaInstant(.now()))
        await far.close()
        await stray.close()
        #expect(report.latchedSource == "\(far.address)")
        #expect(report.droppedFromOtherSources == 5, "the stray's packets once the far end sent: \(report.droppedFromOtherSources)")
    }

    /// Behind NAT the packets come from another address than the SDP's: one packet forged with the SDP's address
    /// while the real source is sending does not move the media there.
    @Test func aPacketFromTheSDPsAddressDoesNotTakeALiveLatch() async throws {
        let pool = RTPPortPool(range: 41_800...41_999, quarantine: .zero, spread: true)
        let signalled = try await Sender(ssrc: 0x7777), natted = try await Sender(ssrc: 0x8888)
        let session = try await Self.open(towards: signalled.address, pool: pool)
        try await natted.send(5, to: session.localPort)
        try await signalled.send(3, to: session.localPort)
        try await natted.send(5, to: session.localPort)
        let report = await session.stop(pool: pool, now: MediaInstant(.now()))
        await signalled.close()
        await natted.close()
        #expect(report.latchedSource == "\(natted.address)")
        #expect(report.droppedFromOtherSources == 3)
        #expect(report.packetsReceived == 10)
    }

    /// A re-offer that keeps the SDP's address (new keys, another codec) keeps the latch: behind NAT the caller's
    /// packets go on coming from where they came.
    @Test func aReOfferToTheSameAddressKeepsTheLatch() async throws {
        let pool = RTPPortPool(range: 42_000...42_199, quarantine: .zero, spread: true)
        let signalled = try await Sender(ssrc: 0x9999), natted = try await Sender(ssrc: 0xAAAA)
        let session = try await Self.open(towards: signalled.address, pool: pool)
        try await natted.send(5, to: session.localPort)
        try await session.prepare(remote: signalled.address, codec: .g711(.muLaw), inbound: nil, outbound: nil)
        try await natted.send(5, to: session.localPort)
        let report = await session.stop(pool: pool, now: MediaInstant(.now()))
        await signalled.close()
        await natted.close()
        #expect(report.latchedSource == "\(natted.address)")
        #expect(report.droppedFromOtherSources == 0)
        #expect(report.packetsReceived == 10)
    }

    /// Early media can beat the 183 that describes it: what came before the path was prepared is taken then.
    @Test func packetsThatCameBeforeThePrepareAreTakenByIt() async throws {
        let pool = RTPPortPool(range: 41_600...41_799, quarantine: .zero, spread: true)
        let far = try await Sender(ssrc: 0x6666)
        let session = try await RTPCallSession.open(pool: pool, host: "127.0.0.1", group: MultiThreadedEventLoopGroup.singleton, now: MediaInstant(.now()))
        try await far.send(5, to: session.localPort)
        try await session.prepare(remote: far.address, codec: .g711(.muLaw), inbound: nil, outbound: nil)
        try await far.send(5, to: session.localPort)
        let report = await session.stop(pool: pool, now: MediaInstant(.now()))
        await far.close()
        #expect(report.packetsReceived == 10, "the five before the prepare and the five after: \(report.packetsReceived)")
        #expect(report.latchedSource == "\(far.address)")
    }

    @Test func holdOnTheSameAddressKeepsTakingItsPackets() async throws {
        let pool = RTPPortPool(range: 41_400...41_599, quarantine: .zero, spread: true)
        let far = try await Sender(ssrc: 0x5555)
        let session = try await Self.open(towards: far.address, pool: pool)
        try await far.send(5, to: session.localPort)
        try await session.prepare(remote: far.address, codec: .g711(.muLaw), inbound: nil, outbound: nil)
        try await far.send(5, to: session.localPort)
        let report = await session.stop(pool: pool, now: MediaInstant(.now()))
        await far.close()
        #expect(report.latchedSource == "\(far.address)")
        #expect(report.droppedFromOtherSources == 0)
        #expect(report.packetsReceived == 10)
    }
}
