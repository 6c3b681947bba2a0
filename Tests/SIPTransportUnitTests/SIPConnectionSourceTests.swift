import NIOCore
import SIPTransport
import Testing

/// A connection of ours (to a trunk, or to the outbound proxy) leaves from the address we listen on when that is one
/// address: a proxy that tells its gateways by address (Kamailio's dispatcher list) sees the one our Via names.
@Suite struct SIPConnectionSourceTests {
    @Test func theListenersAddressUnlessItIsEveryAddressOrAnotherFamily() throws {
        let proxy = try SocketAddress(ipAddress: "127.0.0.1", port: 5060)
        let source = SIPTCPTransport.source(listening: try SocketAddress(ipAddress: "127.0.0.11", port: 5070), towards: proxy)
        #expect(source?.ipAddress == "127.0.0.11" && source?.port == 0)
        #expect(SIPTCPTransport.source(listening: try SocketAddress(ipAddress: "0.0.0.0", port: 5060), towards: proxy) == nil)
        #expect(SIPTCPTransport.source(listening: try SocketAddress(ipAddress: "::", port: 5060), towards: proxy) == nil)
        #expect(SIPTCPTransport.source(listening: try SocketAddress(ipAddress: "::1", port: 5060), towards: proxy) == nil)
    }
}
