import AnswerNinjaTestSupport
import Foundation
import Testing

/// STIR/SHAKEN verification (RFC 8224/8588) on `serve`: a trunk (SIPp) sends INVITEs with Identity headers signed
/// by `answer-ninja sip identity sign`; the gateway fetches the signer's certificate from its x5u over HTTPS (a
/// Python server on loopback with a certificate of another test CA), checks the chain against its trust anchors,
/// and logs the outcome with the answered call.
@Suite(.serialized) struct SIPIdentityTests {
    @Test(.enabled(if: PeerEnvironment.available("sipp") && PeerEnvironment.available("python3")), .timeLimit(.minutes(1)))
    func signedCallsAreVerifiedAndForgedOnesAreNot() async throws {
        // The STI PKI (a CA and the signer's P-256 certificate) and the certificate repository's HTTPS certificate.
        let sti = try await TestCertificates.make(name: "sti")
        let web = try await TestCertificates.make(name: "x5u-https")
        let stranger = try await TestCertificates.make(name: "sti-stranger")
        let repository = try PeerEnvironment.artifactsDirectory(named: "x5u-files")
        try FileManager.default.copyItem(atPath: sti.serverCertificate, toPath: repository.appendingPathComponent("shaken.pem").path)
        let httpsPort = try PeerEnvironment.freePort()
        let server = try PeerProcess(
            name: "x5u-https", executable: try PeerEnvironment.require("python3", package: "python3"),
            arguments: ["-c", """
                import http.server, ssl, functools
                handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory="\(repository.path)")
                server = http.server.HTTPServer(("127.0.0.1", \(httpsPort)), handler)
                context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                context.load_cert_chain("\(web.serverCertificate)", "\(web.serverKey)")
                server.socket = context.wrap_socket(server.socket, server_side=True)
                server.serve_forever()
                """]
        )
        defer { Task { await server.stop() } }
        let gateway = try await AnswerNinjaProcess.start(environment: [
            "ANSWER_NINJA_SIP_STIR_TRUST_ANCHORS": sti.caCertificate, "ANSWER_NINJA_SIP_STIR_FETCH_CA": web.caCertificate,
            "ANSWER_NINJA_SIP_STIR_CERTIFICATE_HOSTS": "127.0.0.1",
        ])
        try await withPeer(gateway) { gateway in
            // The dialled number has an owner (a number no one owns is refused 404 before anything is verified).
            _ = try await gateway.makeOwner(of: "+15551239999")
            let x5u = "https://127.0.0.1:\(httpsPort)/shaken.pem"
            func sign(key: String, attest: String, orig: String = "15551230001", iat: Int? = nil, x5u: String = x5u) async throws -> String {
                var arguments = ["sip", "identity", "sign", "--key", key, "--x5u", x5u, "--orig", orig, "--dest", "15551239999", "--attest", attest]
                if let iat { arguments += ["--iat", String(iat)] }
                let result = try await PeerEnvironment.run(try AnswerNinjaProcess.binary(), arguments)
                #expect(result.status == 0, "\(result.output)")
                return result.output.trimmingCharacters(in: .whitespacesAndNewlines)
            }
            // SIPp dials 15551239999 (-s): the dest of every PASSporT.
            let calls = [
                ("15551230001", try await sign(key: sti.serverKey, attest: "A")),
                ("15551230001", try await sign(key: stranger.serverKey, attest: "A")),  // not the certificate's key
                ("15551230002", try await sign(key: sti.serverKey, attest: "B")),  // someone else's number
                ("15551230001", try await sign(key: sti.serverKey, attest: "C", iat: Int(Date().timeIntervalSince1970) - 600)),  // stale
                ("15551230001", try await sign(key: sti.serverKey, attest: "A", x5u: "https://10.0.0.5/shaken.pem")),  // not a repository we accept
            ]
            let users = try PeerEnvironment.artifactsDirectory(named: "identity").appendingPathComponent("calls.csv")
            try ("SEQUENTIAL\n" + calls.map { "\($0.0);\($0.1)\n" }.joined()).write(to: users, atomically: true, encoding: .utf8)
            let sipPort = try #require(gateway.sipPort)
            let result = try await PeerEnvironment.run(
                try PeerEnvironment.require("sipp", package: "sip-tester"),
                ["-sf", AnswerNinjaProcess.packageRootFromSource() + "/Tests/PeerTests/SIPp/identity.xml", "-inf", users.path, "-s", "15551239999",
                 "127.0.0.1:\(sipPort)", "-i", "127.0.0.1", "-p", String(try PeerEnvironment.freePort()), "-m", String(calls.count), "-r", "2",
                 "-nostdin", "-timeout", "30s", "-timeout_error"],
                timeout: .seconds(45)
            )
            #expect(result.status == 0, "SIPp: \(result.output.suffix(2000))")
            try await gateway.process.waitUntilReady(timeout: .seconds(10)) { SIPScenarioTests.lines(gateway, containing: "call answered").count == calls.count }
            let answered = SIPScenarioTests.lines(gateway, containing: "call answered")
            #expect(answered.count == calls.count, "every call answered, whatever its attestation")
            func line(_ caller: String, _ verstat: String) -> [Substring] {
                answered.filter { $0.contains(#""caller":"\#(caller)""#) && $0.contains(#""stir_verstat":"\#(verstat)""#) }
            }
            #expect(line("15551230001", "TN-Validation-Passed").count == 1, "\(answered)")
            #expect(line("15551230001", "TN-Validation-Passed").first?.contains(#""stir_attest":"A""#) == true)
            #expect(answered.filter { $0.contains("the ES256 signature does not verify") }.count == 1, "the stranger's key: \(answered)")
            #expect(answered.filter { $0.contains("orig tn does not match") }.count == 1, "another number: \(answered)")
            #expect(answered.filter { $0.contains("stale") }.count == 1, "ten minutes old: \(answered)")
            #expect(answered.filter { $0.contains("is not an accepted certificate repository") }.count == 1, "never fetched: \(answered)")
            #expect(line("15551230002", "TN-Validation-Failed").first?.contains(#""stir_attest":"""#) == true, "a failed attestation is never trusted")
            // One fetch of the chain for all four calls.
            #expect(SIPScenarioTests.lines(gateway, containing: "stir certificate fetched").count == 1)
        }
    }
}
