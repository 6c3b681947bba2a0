import AnswerNinjaTestSupport
@testable import AnswerNinjaServices
import Foundation
import NIOSSL
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
