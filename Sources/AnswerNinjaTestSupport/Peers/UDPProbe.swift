import Foundation

/// Sends one datagram to a loopback port and waits (bounded) for one reply, off the cooperative pool: for SIP
/// OPTIONS pings to Kamailio and baresip, and for feeding a capture.
public enum UDPProbe {
    /// `sourceHost`: the last byte of the 127.0.0.x address to send from.
    public static func request(port: Int, payload: String, timeout: Duration = .seconds(1), sourceHost: UInt8 = 1) async throws -> String? {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                do {
                    continuation.resume(returning: try blockingRequest(port: port, payload: payload, timeout: timeout, sourceHost: sourceHost))
                } catch {
                    continuation.resume(throwing: error)
                }
            }
        }
    }

    /// Sends `count` datagrams without waiting for replies (from 127.0.0.`sourceHost`).
    public static func send(port: Int, payload: [UInt8], count: Int, sourceHost: UInt8 = 1) throws {
        try send(port: port, payloads: Array(repeating: payload, count: count), sourceHost: sourceHost)
    }

    /// Sends each of `payloads` as one datagram, as fast as the socket takes them, without waiting for replies.
    public static func send(port: Int, payloads: [[UInt8]], sourceHost: UInt8 = 1) throws {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { throw PeerError("socket: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        if sourceHost != 1 {
            var local = PeerEnvironment.loopback(port: 0, host: sourceHost)
            _ = withUnsafePointer(to: &local) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        }
        var address = PeerEnvironment.loopback(port: port)
        for payload in payloads {
            let sent = payload.withUnsafeBytes { bytes in
                withUnsafePointer(to: &address) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(fd, bytes.baseAddress, bytes.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
                }
            }
            guard sent == payload.count else { throw PeerError("sendto: \(String(cString: strerror(errno)))") }
        }
    }

    private static func blockingRequest(port: Int, payload: String, timeout: Duration, sourceHost: UInt8) throws -> String? {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { throw PeerError("socket: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var local = PeerEnvironment.loopback(port: 0, host: sourceHost)
        _ = withUnsafePointer(to: &local) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        let milliseconds = Int(timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
        var limit = timeval(tv_sec: milliseconds / 1000, tv_usec: (milliseconds % 1000) * 1000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        var address = PeerEnvironment.loopback(port: port)
        let bytes = Array(payload.utf8)
        let sent = bytes.withUnsafeBytes { raw in
            withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(fd, raw.baseAddress, raw.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        }
        guard sent == bytes.count else { throw PeerError("sendto: \(String(cString: strerror(errno)))") }
        var buffer = [UInt8](repeating: 0, count: 65536)
        let received = recv(fd, &buffer, buffer.count, 0)
        guard received > 0 else { return nil }
        return String(decoding: buffer[..<received], as: UTF8.self)
    }

    /// The local port to write into Via/Contact is not known before binding; callers of `request` use this
    /// placeholder-free OPTIONS, which both Kamailio and baresip answer by the source address (RFC 3581 rport).
    public static func options(to port: Int, user: String = "ping") -> String {
        let branch = "z9hG4bK" + String(UInt32.random(in: 0 ... .max), radix: 16)
        let tag = String(UInt32.random(in: 0 ... .max), radix: 16)
        let callID = String(UInt64.random(in: 0 ... .max), radix: 16) + "@127.0.0.1"
        return [
            "OPTIONS sip:\(user)@127.0.0.1:\(port) SIP/2.0",
            "Via: SIP/2.0/UDP 127.0.0.1:9;branch=\(branch);rport",
            "Max-Forwards: 70",
            "From: <sip:probe@127.0.0.1>;tag=\(tag)",
            "To: <sip:\(user)@127.0.0.1:\(port)>",
            "Call-ID: \(callID)",
            "CSeq: 1 OPTIONS",
            "Content-Length: 0",
            "", "",
        ].joined(separator: "\r\n")
    }
}

/// A UDP socket bound once to 127.0.0.1 (kernel-picked port), sending many datagrams from the same source port:
/// an RTP stream, as a capture sees it.
public final class UDPSender: @unchecked Sendable {
    private let fd: Int32
    public let port: Int

    public init() throws {
        let socketFD = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        guard socketFD >= 0 else { throw PeerError("socket: \(String(cString: strerror(errno)))") }
        var local = PeerEnvironment.loopback(port: 0)
        let bound = withUnsafePointer(to: &local) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socketFD, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard bound == 0 else {
            close(socketFD)
            throw PeerError("bind: \(String(cString: strerror(errno)))")
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &local) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(socketFD, $0, &length) } }
        fd = socketFD
        port = Int(UInt16(bigEndian: local.sin_port))
    }

    deinit { close(fd) }

    public func send(_ payload: [UInt8], to port: Int) throws {
        var address = PeerEnvironment.loopback(port: port)
        let sent = payload.withUnsafeBytes { bytes in
            withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(fd, bytes.baseAddress, bytes.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        }
        guard sent == payload.count else { throw PeerError("sendto: \(String(cString: strerror(errno)))") }
    }
}
