import AnswerNinjaTestSupport
@testable import AnswerNinjaServices
import Foundation
import NIOPosix
import NIOSSL
import SIPTransport
import Testing

/// The conversation role's TLS certificate is read again when its files change (a renewal, as cert-manager and the
/// kubelet do it: the Secret volume's files replaced while the process runs); a file caught half-written keeps the
/// certificate in use. Certificates from openssl (TestCertificates).
@Suite struct ReloadingCertificateTests {
    static func der(_ pair: ReloadingCertificate.Pair) throws -> [UInt8] {
        guard case .certificate(let certificate) = try #require(pair.chain.first) else { throw PeerError("not a certificate") }
        return try certificate.toDERBytes()
    }

    static func der(file: String) throws -> [UInt8] {
        try #require(try NIOSSLCertificate.fromPEMFile(file).first).toDERBytes()
    }

    /// Replaces `target` with `source`'s bytes as a Secret volume update does: a new file renamed into place.
    static func replace(_ target: URL, with bytes: Data) throws {
        let fresh = target.appendingPathExtension("new")
        try bytes.write(to: fresh)
        _ = rename(fresh.path, target.path)
    }

    /// The SHA-256 fingerprint of the certificate a TLS listener on `port` presents (openssl s_client).
    static func presented(port: Int) async throws -> String {
        let result = try await PeerEnvironment.run("/bin/sh", [
            "-c", "openssl s_client -connect 127.0.0.1:\(port) </dev/null 2>/dev/null | openssl x509 -noout -fingerprint -sha256",
        ], timeout: .seconds(15))
        return result.output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static func fingerprint(file: String) async throws -> String {
        let result = try await PeerEnvironment.run("/bin/sh", ["-c", "openssl x509 -in '\(file)' -noout -fingerprint -sha256"], timeout: .seconds(15))
        return result.output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The SIP-over-TLS listener (`sip.tls_*`) presents a renewed certificate to the next connection, as the gateway
    /// builds it: a context whose certificate comes from `ReloadingCertificate` at each handshake.
    @Test(.timeLimit(.minutes(1)))
    func theSIPListenerPresentsARenewedCertificate() async throws {
        let first = try await TestCertificates.make(name: "sip-reload-first")
        let renewed = try await TestCertificates.make(name: "sip-reload-renewed")
        let directory = try PeerEnvironment.artifactsDirectory(named: "sip-reload")
        let certificate = directory.appendingPathComponent("tls.crt"), key = directory.appendingPathComponent("tls.key")
        try Self.replace(certificate, with: Data(contentsOf: URL(fileURLWithPath: first.serverCertificate)))
        try Self.replace(key, with: Data(contentsOf: URL(fileURLWithPath: first.serverKey)))
        let reloading = try ReloadingCertificate(certificate: certificate.path, key: key.path, interval: .zero)
        let listener = try await SIPTCPTransport.bind(
            host: "127.0.0.1", port: 0, group: MultiThreadedEventLoopGroup.singleton, tls: try NIOSSLContext(configuration: reloading.serverConfiguration())
        ) { _ in }
        let port = try #require(listener.localAddress.port)
        let firstPrint = try await Self.fingerprint(file: first.serverCertificate)
        #expect(!firstPrint.isEmpty)
        #expect(try await Self.presented(port: port) == firstPrint)
        try Self.replace(certificate, with: Data(contentsOf: URL(fileURLWithPath: renewed.serverCertificate)))
        try Self.replace(key, with: Data(contentsOf: URL(fileURLWithPath: renewed.serverKey)))
        let renewedPrint = try await Self.fingerprint(file: renewed.serverCertificate)
        #expect(renewedPrint != firstPrint)
        #expect(try await Self.presented(port: port) == renewedPrint)
        await listener.close()
    }

    @Test(.timeLimit(.minutes(1)))
    func aRenewedCertificateIsUsedWithoutARestart() async throws {
        let first = try await TestCertificates.make(name: "reload-first")
        let renewed = try await TestCertificates.make(name: "reload-renewed", alternativeNames: ["DNS:localhost"])
        let directory = try PeerEnvironment.artifactsDirectory(named: "reload")
        let certificate = directory.appendingPathComponent("tls.crt"), key = directory.appendingPathComponent("tls.key")
        try Self.replace(certificate, with: Data(contentsOf: URL(fileURLWithPath: first.serverCertificate)))
        try Self.replace(key, with: Data(contentsOf: URL(fileURLWithPath: first.serverKey)))

        let reloading = try ReloadingCertificate(certificate: certificate.path, key: key.path, interval: .seconds(60))
        let start = ContinuousClock.now
        #expect(try Self.der(reloading.current(now: start)) == Self.der(file: first.serverCertificate))

        try Self.replace(certificate, with: Data(contentsOf: URL(fileURLWithPath: renewed.serverCertificate)))
        try Self.replace(key, with: Data(contentsOf: URL(fileURLWithPath: renewed.serverKey)))
        // Not before the interval: the files are looked at once a minute here.
        #expect(try Self.der(reloading.current(now: start + .seconds(1))) == Self.der(file: first.serverCertificate))
        #expect(try Self.der(reloading.current(now: start + .seconds(61))) == Self.der(file: renewed.serverCertificate))

        // Half a file: the renewed pair stays in use, and the next whole file is taken.
        let pem = try Data(contentsOf: URL(fileURLWithPath: first.serverCertificate))
        try Self.replace(certificate, with: pem.prefix(pem.count / 2))
        #expect(try Self.der(reloading.current(now: start + .seconds(122))) == Self.der(file: renewed.serverCertificate))
        try Self.replace(certificate, with: pem)
        try Self.replace(key, with: Data(contentsOf: URL(fileURLWithPath: first.serverKey)))
        #expect(try Self.der(reloading.current(now: start + .seconds(183))) == Self.der(file: first.serverCertificate))
    }
}
