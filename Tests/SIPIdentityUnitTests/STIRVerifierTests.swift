import AnswerNinjaCore
import Crypto
import Foundation
import SIPIdentity
import Testing
import X509

/// A throw-away STI PKI made in memory: a root, an intermediate, and the signer's certificate.
struct TestPKI {
    let now = Date(timeIntervalSince1970: 1_800_000_000)
    let rootKey = P256.Signing.PrivateKey()
    let intermediateKey = P256.Signing.PrivateKey()
    let signerKey = P256.Signing.PrivateKey()
    let root: Certificate
    let intermediate: Certificate
    let signer: Certificate

    init(signerValidUntil: Date? = nil) throws {
        let rootName = try DistinguishedName { CommonName("Test STI-PA root") }
        let intermediateName = try DistinguishedName { CommonName("Test STI-CA") }
        let signerName = try DistinguishedName { CommonName("SHAKEN 1234") }
        root = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: .init(rootKey.publicKey), notValidBefore: now - 86_400, notValidAfter: now + 86_400 * 365,
            issuer: rootName, subject: rootName, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: nil))
                KeyUsage(keyCertSign: true)
            },
            issuerPrivateKey: .init(rootKey)
        )
        intermediate = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: .init(intermediateKey.publicKey), notValidBefore: now - 86_400, notValidAfter: now + 86_400 * 365,
            issuer: rootName, subject: intermediateName, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                KeyUsage(keyCertSign: true)
            },
            issuerPrivateKey: .init(rootKey)
        )
        signer = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: .init(signerKey.publicKey), notValidBefore: now - 86_400,
            notValidAfter: signerValidUntil ?? now + 86_400 * 30,
            issuer: intermediateName, subject: signerName, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                KeyUsage(digitalSignature: true)
            },
            issuerPrivateKey: .init(intermediateKey)
        )
    }

    static let url = "https://sti-cr.example.net/shaken.pem"

    func identity(
        attest: String = "A", orig: String = "+12155551212", dest: [String] = ["12155551213"], iat: Date? = nil, x5u: String = Self.url,
        info: String? = Self.url, key: P256.Signing.PrivateKey? = nil
    ) throws -> String {
        let claims = PASSporT.Claims(
            attest: attest, dest: .init(tn: dest), iat: Int((iat ?? now).timeIntervalSince1970), orig: .init(tn: orig),
            origid: "123e4567-e89b-12d3-a456-426655440000"
        )
        let token = try PASSporT.sign(header: .init(x5u: x5u), claims: claims, key: key ?? signerKey)
        return SIPIdentityHeader(token: token, info: info).serialized
    }

    func verify(
        _ identity: [String], callers: [String?] = ["+12155551212", nil], called: [String?] = ["+12155551213"], chain: [Certificate]? = nil,
        anchors: [Certificate]? = nil, at time: Date? = nil
    ) async -> STIRVerification {
        let verifier = STIRVerifier(trustAnchors: anchors ?? [root])
        switch verifier.examine(identity: identity, callers: callers, called: called, now: time ?? now) {
        case .finished(let result): return result
        case .needsCertificate(let pending):
            #expect(pending.certificateURL == Self.url)
            return await verifier.verify(pending, chain: chain ?? [signer, intermediate], now: time ?? now)
        }
    }
}

@Suite struct STIRVerifierTests {
    /// RFC 8588 §6's example: its header and claims parse (its signature is an example's: never checked here).
    @Test func rfc8588ExampleParses() throws {
        let value = "eyJhbGciOiJFUzI1NiIsInBwdCI6InNoYWtlbiIsInR5cCI6InBhc3Nwb3J0IiwieDV1IjoiaHR0cHM6Ly9jZXJ0LmV4YW1wbGUub3JnL3Bhc3Nwb3J0LmNlciJ9"
            + ".eyJhdHRlc3QiOiJBIiwiZGVzdCI6eyJ0biI6WyIxMjE1NTU1MTIxMyJdfSwiaWF0IjoxNDQzMjA4MzQ1LCJvcmlnIjp7InRuIjoiMTIxNTU1NTEyMTIifSwib3JpZ2lkIjoiMTIzZTQ1NjctZTg5Yi0xMmQzLWE0NTYtNDI2NjU1NDQwMDAwIn0"
            + ".AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0-Pw"
            + ";info=<https://cert.example.org/passport.cer>;alg=ES256;ppt=\"shaken\""
        let header = try SIPIdentityHeader(parsing: value)
        #expect(header.info == "https://cert.example.org/passport.cer")
        #expect(header.algorithm == "ES256")
        #expect(header.ppt == "shaken")
        let passport = try PASSporT(compact: header.token)
        #expect(passport.header == .init(alg: "ES256", typ: "passport", ppt: "shaken", x5u: "https://cert.example.org/passport.cer"))
        #expect(passport.claims.attest == "A")
        #expect(passport.claims.orig.tn == "12155551212")
        #expect(passport.claims.dest.tn == ["12155551213"])
        #expect(passport.claims.iat == 1_443_208_345)
        #expect(passport.claims.origid == "123e4567-e89b-12d3-a456-426655440000")
        #expect(passport.signature == Array(0..<64))
        // Long ago: stale, before any certificate is fetched.
        let stale = STIRVerifier(trustAnchors: []).examine(identity: [value], callers: ["12155551212"], called: ["12155551213"], now: Date())
        guard case .finished(let result) = stale, case .failed(403, _) = result.outcome else {
            Issue.record("expected stale, got \(stale)")
            return
        }
        #expect(result.claimedAttestation == "A")
        #expect(result.attestation == nil)
    }

    @Test func aSignedPASSporTFromATrustedChainPasses() async throws {
        let pki = try TestPKI()
        let result = await pki.verify([try pki.identity(attest: "B")])
        #expect(result.outcome == .passed)
        #expect(result.attestation == "B")
        #expect(result.verstat == "TN-Validation-Passed")
        #expect(result.certificateURL == TestPKI.url)
        // The numbers compare as digits: "+1 (215) 555-1212" is 12155551212.
        let formatted = await pki.verify([try pki.identity()], callers: ["+1 (215) 555-1212"], called: ["1-215-555-1213"])
        #expect(formatted.outcome == .passed)
        // The caller's asserted number may be the one signed when From differs.
        let asserted = await pki.verify([try pki.identity()], callers: ["anonymous", "+12155551212"])
        #expect(asserted.outcome == .passed)
    }

    @Test func noIdentityIsAbsentAndNeverTrusted() async throws {
        let result = await (try TestPKI()).verify([])
        #expect(result.outcome == .absent)
        #expect(result.attestation == nil)
        #expect(result.verstat == "No-TN-Validation")
    }

    @Test func aTamperedClaimFailsTheSignature() async throws {
        let pki = try TestPKI()
        let genuine = try SIPIdentityHeader(parsing: try pki.identity(attest: "C"))
        let parts = genuine.token.split(separator: ".")
        // The same signature over claims that now say attest A.
        let forged = try SIPIdentityHeader(parsing: try pki.identity(attest: "A")).token.split(separator: ".")
        let token = [parts[0], forged[1], parts[2]].joined(separator: ".")
        let result = await pki.verify([SIPIdentityHeader(token: token, info: TestPKI.url).serialized])
        #expect(result.outcome == .failed(code: 438, reason: "the ES256 signature does not verify"))
        #expect(result.claimedAttestation == "A")
        #expect(result.attestation == nil)
        #expect(result.verstat == "TN-Validation-Failed")
        // Signed by a key that is not the certificate's.
        let otherKey = await pki.verify([try pki.identity(key: P256.Signing.PrivateKey())])
        #expect(otherKey.outcome == .failed(code: 438, reason: "the ES256 signature does not verify"))
    }

    @Test func chainsThatDoNotReachAnAnchorFail() async throws {
        let pki = try TestPKI()
        let identity = try pki.identity()
        // Another PKI's root is the only anchor.
        let stranger = await pki.verify([identity], anchors: [try TestPKI().root])
        guard case .failed(437, let reason) = stranger.outcome else {
            Issue.record("expected 437, got \(stranger)")
            return
        }
        #expect(reason.hasPrefix("certificate not trusted"))
        // The intermediate left out of the chain.
        let missing = await pki.verify([identity], chain: [pki.signer])
        guard case .failed(437, _) = missing.outcome else {
            Issue.record("expected 437, got \(missing)")
            return
        }
        // An expired signer certificate (the PASSporT itself is fresh).
        let expired = try TestPKI(signerValidUntil: Date(timeIntervalSince1970: 1_800_000_000 - 60))
        let old = await expired.verify([try expired.identity()])
        guard case .failed(437, _) = old.outcome else {
            Issue.record("expected 437, got \(old)")
            return
        }
        // No certificate at all.
        let empty = await pki.verify([identity], chain: [])
        #expect(empty.outcome == .failed(code: 436, reason: "no certificate at x5u"))
    }

    @Test func claimsAreCheckedBeforeTheCertificateIsFetched() throws {
        let pki = try TestPKI()
        let verifier = STIRVerifier(trustAnchors: [pki.root])
        func code(_ identity: [String], callers: [String?] = ["+12155551212"], called: [String?] = ["12155551213"], now: Date? = nil) -> Int? {
            guard case .finished(let result) = verifier.examine(identity: identity, callers: callers, called: called, now: now ?? pki.now),
                case .failed(let code, _) = result.outcome
            else { return nil }
            return code
        }
        #expect(code([try pki.identity()]) == nil)  // needs the certificate
        #expect(code([try pki.identity(iat: pki.now - 61)]) == 403)
        #expect(code([try pki.identity(iat: pki.now + 61)]) == 403)
        // An absurd iat (the caller's number) is stale, not an arithmetic trap.
        for iat in [Int.min, Int.max] {
            let token = try PASSporT.sign(
                header: .init(x5u: TestPKI.url),
                claims: .init(attest: "A", dest: .init(tn: ["12155551213"]), iat: iat, orig: .init(tn: "12155551212"), origid: "x"),
                key: pki.signerKey
            )
            #expect(code([SIPIdentityHeader(token: token, info: TestPKI.url).serialized]) == 403)
        }
        #expect(code([try pki.identity(iat: pki.now - 59)]) == nil)
        #expect(code([try pki.identity()], callers: ["+12155559999"]) == 438)
        #expect(code([try pki.identity()], callers: ["anonymous"]) == 438)
        #expect(code([try pki.identity()], called: ["12155559999"]) == 438)
        #expect(code([try pki.identity(attest: "D")]) == 438)
        #expect(code([try pki.identity(x5u: "http://sti-cr.example.net/shaken.pem", info: nil)]) == 436)
        #expect(code([try pki.identity(info: "https://elsewhere.example.net/x.pem")]) == 436)
        #expect(code(["eyJhbGciOiJFUzI1NiJ9..c2ln;info=<https://a.example/b.pem>"]) == 438)  // compact form
        #expect(code(["not a token;info=<https://a.example/b.pem>"]) == 438)
        #expect(code(["e30.e30.AA;info=<https://a.example/b.pem>"]) == 438)  // {} and {}: no alg, no claims
        // alg RS256 in the PASSporT's header.
        let rs256 = "eyJhbGciOiJSUzI1NiIsInBwdCI6InNoYWtlbiIsInR5cCI6InBhc3Nwb3J0IiwieDV1IjoiaHR0cHM6Ly9hLmV4YW1wbGUvYi5wZW0ifQ"
            + "." + (try SIPIdentityHeader(parsing: try pki.identity())).token.split(separator: ".")[1] + ".AA"
        #expect(code([rs256]) == 438)
        // Of two Identity headers, the SHAKEN one is verified.
        let other = "eyJhbGciOiJFUzI1NiJ9.e30.AA;info=<https://a.example/b.pem>;ppt=div"
        #expect(code([other, try pki.identity()]) == nil)
    }

    @Test func identityHeadersParseAndWriteBack() throws {
        let header = try SIPIdentityHeader(parsing: " abc.def.ghi ; INFO = <https://x.example/a;b.pem> ;alg=ES256; ppt=shaken;foo=bar")
        #expect(header == SIPIdentityHeader(token: "abc.def.ghi", info: "https://x.example/a;b.pem", algorithm: "ES256", ppt: "shaken"))
        #expect(try SIPIdentityHeader(parsing: header.serialized) == header)
        #expect(throws: SIPIdentityError.self) { try SIPIdentityHeader(parsing: "abc;info=<https://x") }
        #expect(throws: SIPIdentityError.self) { try SIPIdentityHeader(parsing: "a b c") }
        #expect(throws: SIPIdentityError.self) { try SIPIdentityHeader(parsing: String(repeating: "a", count: 9000)) }
    }

    @Test func chainsReadFromPEM() throws {
        let pki = try TestPKI()
        let pem = try [pki.signer, pki.intermediate].map { try $0.serializeAsPEM().pemString }.joined(separator: "\n")
        let chain = try STIRVerifier.certificates(pem: pem)
        #expect(chain == [pki.signer, pki.intermediate])
        #expect(throws: SIPIdentityError.self) { try STIRVerifier.certificates(pem: "nothing here") }
        #expect(throws: SIPIdentityError.self) { try STIRVerifier.certificates(pem: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n") }
    }

    @Test func canonicalNumbers() {
        #expect(STIRVerifier.canonical("+1 (215) 555-1212") == "12155551212")
        #expect(STIRVerifier.canonical("12155551212") == "12155551212")
        #expect(STIRVerifier.canonical("anonymous") == "")
    }
}

@Suite struct STIRCertificateLifetimeTests {
    @Test func cacheControlSetsTheLifetime() {
        #expect(STIRCertificateLifetime(cacheControl: []).duration == .seconds(3600))
        #expect(STIRCertificateLifetime(cacheControl: ["public, max-age=600"]).duration == .seconds(600))
        #expect(STIRCertificateLifetime(cacheControl: ["max-age=\"60\""]).duration == .seconds(60))
        #expect(STIRCertificateLifetime(cacheControl: ["max-age=31536000"]).duration == .seconds(86_400))
        #expect(STIRCertificateLifetime(cacheControl: ["max-age=600", "no-store"]).duration == .zero)
        #expect(STIRCertificateLifetime(cacheControl: ["No-Cache"]).duration == .zero)
        #expect(STIRCertificateLifetime(cacheControl: ["max-age=-5, max-age=x"]).duration == .seconds(3600))
    }
}
