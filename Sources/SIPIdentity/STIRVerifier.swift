import Crypto
import Foundation
@_spi(FixedExpiryValidationTime) import X509

/// What a STIR/SHAKEN verification found (RFC 8224 §6.2, RFC 8588). An attestation is believed only when the
/// outcome is `passed`; a failed or absent one is at most a hint for the screening decision.
public struct STIRVerification: Sendable, Equatable, CustomStringConvertible {
    public enum Outcome: Sendable, Equatable {
        /// The INVITE had no Identity header with a PASSporT.
        case absent
        /// Signature, certificate chain, freshness and both numbers check out.
        case passed
        /// It did not verify: the response code a rejecting verifier would send (RFC 8224 §6.2.2: 403 Stale Date,
        /// 436 Bad Identity Info, 437 Unsupported Credential, 438 Invalid Identity Header) and why.
        case failed(code: Int, reason: String)
    }

    public var outcome: Outcome
    /// The attestation level the PASSporT claims (`A`, `B`, `C`), verified or not.
    public var claimedAttestation: String?
    public var origid: String?
    /// Where the signer's certificate is (x5u).
    public var certificateURL: String?

    public init(outcome: Outcome, claimedAttestation: String? = nil, origid: String? = nil, certificateURL: String? = nil) {
        self.outcome = outcome
        self.claimedAttestation = claimedAttestation
        self.origid = origid
        self.certificateURL = certificateURL
    }

    /// The attestation to act on: only a verified one.
    public var attestation: String? { outcome == .passed ? claimedAttestation : nil }

    /// The `verstat` a verification service would put on P-Asserted-Identity (3GPP TS 24.229 §7.2A.20).
    public var verstat: String {
        switch outcome {
        case .absent: "No-TN-Validation"
        case .passed: "TN-Validation-Passed"
        case .failed: "TN-Validation-Failed"
        }
    }

    public var description: String {
        switch outcome {
        case .absent: "no identity"
        case .passed: "passed (attest \(claimedAttestation ?? "-"))"
        case .failed(let code, let reason): "failed \(code): \(reason) (claimed attest \(claimedAttestation ?? "-"))"
        }
    }
}

/// The verification service of RFC 8224 §6.2 for SHAKEN PASSporTs (RFC 8588), in two steps so that the gateway can
/// fetch the signer's certificate in between: `examine` checks what needs no certificate (form, algorithm, the
/// x5u/info match, freshness, the numbers), `verify` the ES256 signature and the chain to the trust anchors.
/// No I/O: the caller fetches the certificate at `Pending.certificateURL`.
public struct STIRVerifier: Sendable {
    /// swift-certificates' X.509 certificate, for modules that do not import X509.
    public typealias Certificate = X509.Certificate

    /// RFC 8224 §6.2.1 step 4: a PASSporT signed more than a minute ago (or ahead) is stale.
    public static let defaultFreshness = 60

    public let trustAnchors: [Certificate]
    public let freshness: Int

    public init(trustAnchors: [Certificate], freshness: Int = Self.defaultFreshness) {
        self.trustAnchors = trustAnchors
        self.freshness = freshness
    }

    /// A PASSporT that passed `examine` and waits for its certificate.
    public struct Pending: Sendable, Equatable {
        public var passport: PASSporT
        public var certificateURL: String

        /// The verification's result with `outcome`, carrying what the PASSporT claims.
        public func result(_ outcome: STIRVerification.Outcome) -> STIRVerification {
            STIRVerification(outcome: outcome, claimedAttestation: passport.claims.attest, origid: passport.claims.origid, certificateURL: certificateURL)
        }
    }

    public enum Examination: Sendable, Equatable {
        case finished(STIRVerification)
        case needsCertificate(Pending)
    }

    /// Checks an INVITE's Identity values (the first SHAKEN one counts) against the numbers the INVITE carries:
    /// `callers` are the From and P-Asserted-Identity numbers, `called` the dialled number and the To number.
    public func examine(identity values: [String], callers: [String?], called: [String?], now: Date) -> Examination {
        guard !values.isEmpty else { return .finished(STIRVerification(outcome: .absent)) }
        let headers = values.map { value in Result { () throws(SIPIdentityError) in try SIPIdentityHeader(parsing: value) } }
        let chosen = headers.first { (try? $0.get())?.ppt?.lowercased() == "shaken" } ?? headers[0]
        let header: SIPIdentityHeader
        switch chosen {
        case .success(let parsed): header = parsed
        case .failure(let error): return .finished(Self.failed(438, error.message))
        }
        let passport: PASSporT
        do {
            passport = try PASSporT(compact: header.token)
        } catch {
            return .finished(Self.failed(438, error.message))
        }
        let claims = passport.claims
        func failed(_ code: Int, _ reason: String) -> Examination {
            .finished(STIRVerification(outcome: .failed(code: code, reason: reason), claimedAttestation: claims.attest, origid: claims.origid, certificateURL: passport.header.x5u))
        }
        guard passport.header.alg == "ES256" else { return failed(438, "alg \(passport.header.alg) is not ES256 (RFC 8588 §4)") }
        if let algorithm = header.algorithm, algorithm != "ES256" { return failed(438, "Identity alg \(algorithm) is not ES256") }
        guard passport.header.typ == nil || passport.header.typ == "passport" else { return failed(438, "typ is not passport") }
        guard passport.header.ppt == "shaken" else { return failed(438, "ppt is \(passport.header.ppt ?? "absent"), not shaken") }
        if let ppt = header.ppt, ppt != passport.header.ppt { return failed(438, "Identity ppt \(ppt) differs from the PASSporT's") }
        guard let attest = claims.attest, ["A", "B", "C"].contains(attest) else { return failed(438, "attest is not A, B or C") }
        guard claims.origid?.isEmpty == false else { return failed(438, "origid is missing (RFC 8588 §4)") }
        guard let url = passport.header.x5u else { return failed(436, "no x5u in the PASSporT header") }
        guard header.info == nil || header.info == url else { return failed(436, "Identity info differs from the PASSporT's x5u") }
        guard url.lowercased().hasPrefix("https://") else { return failed(436, "x5u is not an https URL") }
        // iat is the caller's number: subtract without trapping on an absurd one.
        let (age, overflow) = Int(now.timeIntervalSince1970).subtractingReportingOverflow(claims.iat)
        guard !overflow, age.magnitude <= UInt(freshness) else { return failed(403, "stale: iat is not within \(freshness) s of now") }
        guard let originator = claims.orig.tn.map(Self.canonical), !originator.isEmpty else { return failed(438, "orig has no tn") }
        guard callers.compactMap({ $0.map(Self.canonical) }).contains(originator) else {
            return failed(438, "orig tn does not match the caller's number")
        }
        let destinations = Set((claims.dest.tn ?? []).map(Self.canonical))
        guard called.compactMap({ $0.map(Self.canonical) }).contains(where: { !$0.isEmpty && destinations.contains($0) }) else {
            return failed(438, "dest tn does not include the called number")
        }
        return .needsCertificate(Pending(passport: passport, certificateURL: url))
    }

    /// Checks the signature with the first certificate of `chain` (the signer's; the others are intermediates) and
    /// the chain up to a trust anchor at `now`.
    public func verify(_ pending: Pending, chain: [Certificate], now: Date) async -> STIRVerification {
        let passport = pending.passport
        let result = pending.result
        guard let leaf = chain.first else { return result(.failed(code: 436, reason: "no certificate at x5u")) }
        guard let key = P256.Signing.PublicKey(leaf.publicKey) else { return result(.failed(code: 437, reason: "the signer's key is not P-256")) }
        guard let signature = try? P256.Signing.ECDSASignature(rawRepresentation: passport.signature),
            key.isValidSignature(signature, for: Data(passport.signingInput))
        else { return result(.failed(code: 438, reason: "the ES256 signature does not verify")) }
        var verifier = Verifier(rootCertificates: CertificateStore(trustAnchors)) { RFC5280Policy(fixedExpiryValidationTime: now) }
        switch await verifier.validate(leaf: leaf, intermediates: CertificateStore(chain.dropFirst())) {
        case .validCertificate: return result(.passed)
        case .couldNotValidate(let failures):
            let why = failures.first.map { "\($0.policyFailureReason)" } ?? "no chain to a trust anchor"
            return result(.failed(code: 437, reason: "certificate not trusted: \(why)"))
        }
    }

    /// Certificates from PEM text (a chain: the signer's first), as an STI certificate repository serves them.
    public static func certificates(pem: String) throws(SIPIdentityError) -> [Certificate] {
        let marker = "-----END CERTIFICATE-----"
        var certificates: [Certificate] = []
        for block in pem.components(separatedBy: marker) where block.contains("-----BEGIN CERTIFICATE-----") {
            let text = block[block.range(of: "-----BEGIN CERTIFICATE-----")!.lowerBound...] + marker
            do {
                certificates.append(try Certificate(pemEncoded: String(text)))
            } catch {
                throw .malformed("a PEM certificate does not parse")
            }
        }
        guard !certificates.isEmpty else { throw .malformed("no PEM certificate found") }
        return certificates
    }

    /// A telephone number as RFC 8224 §8.3 compares them: digits only, without '+' and visual separators.
    public static func canonical(_ number: String) -> String {
        String(number.unicodeScalars.filter { $0.properties.numericType == .decimal && $0.isASCII }.map(Character.init))
    }

    static func failed(_ code: Int, _ reason: String) -> STIRVerification {
        STIRVerification(outcome: .failed(code: code, reason: reason))
    }
}
