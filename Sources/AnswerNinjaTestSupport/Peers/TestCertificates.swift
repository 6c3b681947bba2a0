import Foundation

/// A throw-away certificate authority and a server certificate for 127.0.0.1 and localhost, made with the openssl
/// command (P-256 keys, one day), for TLS peers in tests.
public struct TestCertificates: Sendable {
    public let directory: URL
    public var caCertificate: String { directory.appendingPathComponent("ca.pem").path }
    public var serverCertificate: String { directory.appendingPathComponent("server.pem").path }
    public var serverKey: String { directory.appendingPathComponent("server.key").path }

    /// `alternativeNames`: the server certificate's subjectAltName entries (a trunk's domain alone, for RFC 5922:
    /// NIOSSL also accepts a certificate whose IP entry is the address it connected to).
    /// `usage`: the certificate's extended key usage (`serverAuth`, or `clientAuth` for a client's).
    public static func make(name: String = "tls", alternativeNames: [String] = ["IP:127.0.0.1", "DNS:localhost"], usage: String = "serverAuth") async throws -> TestCertificates {
        let openssl = try PeerEnvironment.require("openssl", package: "openssl")
        let directory = try PeerEnvironment.makeDirectory(for: name)
        let path = { (file: String) in directory.appendingPathComponent(file).path }
        try "subjectAltName=\(alternativeNames.joined(separator: ","))\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=\(usage)\n"
            .write(to: directory.appendingPathComponent("server.ext"), atomically: true, encoding: .utf8)
        let steps: [[String]] = [
            ["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", path("ca.key")],
            ["req", "-x509", "-new", "-key", path("ca.key"), "-subj", "/CN=Answer Ninja test CA", "-days", "1", "-out", path("ca.pem")],
            ["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", path("server.key")],
            ["req", "-new", "-key", path("server.key"), "-subj", "/CN=127.0.0.1", "-out", path("server.csr")],
            ["x509", "-req", "-in", path("server.csr"), "-CA", path("ca.pem"), "-CAkey", path("ca.key"), "-CAcreateserial", "-days", "1",
             "-extfile", path("server.ext"), "-out", path("server.pem")],
        ]
        for arguments in steps {
            let result = try await PeerEnvironment.run(openssl, arguments, timeout: .seconds(30))
            guard result.status == 0 else { throw PeerError("openssl \(arguments.first ?? ""): \(result.output)") }
        }
        return TestCertificates(directory: directory)
    }
}
