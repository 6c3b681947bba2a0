import CResolv
import NIOCore
import NIOPosix
import SIPLocator
import SIPMessages

/// DNS lookups for RFC 3263 with glibc's stub resolver, which blocks: each query runs on this resolver's own
/// thread pool, never on an event loop or Swift's cooperative pool. The answer is parsed by `DNSMessage`.
/// Without a configured server, /etc/resolv.conf applies (in Kubernetes, the cluster's DNS).
public final class SIPResolver: Sendable {
    /// RFC 1035 §4.2.1 allows 512 bytes over UDP; EDNS0 and the TCP fallback give more. 64 KiB holds any answer.
    static let answerCapacity = 65_535

    private let pool: NIOThreadPool
    /// One DNS server to ask instead of resolv.conf's: an IPv4 address and a port.
    public let server: (host: String, port: Int)?

    /// `threads` lookups may block at once.
    public init(server: (host: String, port: Int)? = nil, threads: Int = 2) {
        self.server = server
        pool = NIOThreadPool(numberOfThreads: threads)
        pool.start()
    }

    /// The records of `type` for `name`; empty for NXDOMAIN or no data. Throws `lookupFailed` when the server fails
    /// or does not answer.
    public func lookup(_ name: String, _ type: DNSRecordType) async throws -> [DNSRecord] {
        let server = server
        let answer: [UInt8]? = try await pool.runIfActive {
            var buffer = [UInt8](repeating: 0, count: Self.answerCapacity)
            var error: Int32 = 0
            let count = buffer.withUnsafeMutableBufferPointer { bytes in
                cshim_res_query(server?.host, Int32(server?.port ?? 53), name, Int32(type.rawValue), bytes.baseAddress, Int32(bytes.count), &error)
            }
            if count >= 0 { return Array(buffer.prefix(Int(count))) }
            switch error {
            case 1, 4: return nil  // HOST_NOT_FOUND (NXDOMAIN), NO_DATA
            case -2: throw SIPLocatorError.lookupFailed("DNS server \(server?.host ?? "") is not an IPv4 address")
            case -1: throw SIPLocatorError.lookupFailed("the resolver could not start (res_ninit)")
            default: throw SIPLocatorError.lookupFailed("DNS lookup of \(name) (\(type)) failed (h_errno \(error))")
            }
        }
        guard let answer else { return [] }
        return try DNSMessage(parsing: answer).answers.filter { record in
            switch (record, type) {
            case (.a, .a), (.aaaa, .aaaa), (.srv, .srv), (.naptr, .naptr), (.cname, .cname): true
            default: false
            }
        }
    }

    /// RFC 3263 for `uri` with these lookups.
    public func locate(_ uri: SIPURI, transports: [SIPTransportProtocol] = [.tls, .tcp, .udp]) async throws -> [SIPServerTarget] {
        var random = SystemRandomNumberGenerator()
        return try await SIPServerLocator(transports: transports).locate(uri, lookup: { try await self.lookup($0, $1) }, random: &random)
    }

    public func shutdown() async {
        try? await pool.shutdownGracefully()
    }
}
