import AnswerNinjaCore
import ArgumentParser
import Crypto
import Foundation
import SIPIdentity

extension SIPCommand {
    /// `answer-ninja sip identity sign|verify`: SHAKEN PASSporTs as an authentication service signs them and as the
    /// gateway verifies them (RFC 8224, RFC 8588; docs/sip.md "STIR/SHAKEN").
    struct Identity: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Sign a SHAKEN Identity header, or verify one offline against a certificate chain and trust anchors.",
            subcommands: [Sign.self, Verify.self]
        )

        struct Sign: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Print the Identity header value an authentication service would add.")

            @Option(help: "PEM file of the signer's P-256 private key.") var key: String
            @Option(help: "Where the signer's certificate chain is served (https).") var x5u: String
            @Option(help: "The calling number.") var orig: String
            @Option(help: "The called number.") var dest: String
            @Option(help: "A (full), B (partial) or C (gateway) attestation.") var attest = "A"
            @Option(help: "The origination identifier.") var origid = UUID().uuidString.lowercased()
            @Option(help: "Signing time in seconds since 1970 (default: now).") var iat: Int?
            @OptionGroup var output: OutputOptions

            struct Output: CommandOutput {
                var identity: String
                var humanReadable: String { identity }
            }

            func run() async throws {
                let privateKey: P256.Signing.PrivateKey
                do {
                    privateKey = try P256.Signing.PrivateKey(pemRepresentation: String(contentsOfFile: key, encoding: .utf8))
                } catch {
                    throw ExitCode(try output.fail(code: "bad_key", message: "\(key) is not a PEM P-256 private key").rawValue)
                }
                let claims = PASSporT.Claims(
                    attest: attest, dest: .init(tn: [dest]), iat: iat ?? Int(Date().timeIntervalSince1970), orig: .init(tn: orig), origid: origid
                )
                let token = try PASSporT.sign(header: .init(x5u: x5u), claims: claims, key: privateKey)
                try output.emit(Output(identity: SIPIdentityHeader(token: token, info: x5u).serialized))
            }
        }

        struct Verify: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Verify an Identity header value as the gateway does, with the chain from a file instead of its x5u.",
                discussion: "Exits 1 unless the verification passes."
            )

            @Argument(help: "The Identity header value, or - for standard input.") var identity = "-"
            @Option(help: "PEM file of the trust anchors.") var trustAnchors: String
            @Option(help: "PEM file of the chain x5u serves (the signer's certificate first).") var chain: String
            @Option(help: "The caller's number (From or P-Asserted-Identity).") var caller: String
            @Option(help: "The called number.") var called: String
            @OptionGroup var output: OutputOptions

            struct Output: CommandOutput {
                var outcome: String
                var code: Int?
                var reason: String?
                var attestation: String?
                var claimedAttestation: String?
                var verstat: String
                var certificateUrl: String?
                var humanReadable: String { "\(verstat): \(reason ?? "passed") (attest \(attestation ?? claimedAttestation ?? "-"))" }
            }

            func run() async throws {
                let value = identity == "-" ? String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self) : identity
                let verifier: STIRVerifier
                let certificates: [STIRVerifier.Certificate]
                do {
                    verifier = STIRVerifier(trustAnchors: try STIRVerifier.certificates(pem: String(contentsOfFile: trustAnchors, encoding: .utf8)))
                    certificates = try STIRVerifier.certificates(pem: String(contentsOfFile: chain, encoding: .utf8))
                } catch {
                    throw ExitCode(try output.fail(code: "bad_certificates", message: "\(error)").rawValue)
                }
                let now = Date()
                let result: STIRVerification
                switch verifier.examine(identity: [value.trimmingCharacters(in: .whitespacesAndNewlines)], callers: [caller], called: [called], now: now) {
                case .finished(let finished): result = finished
                case .needsCertificate(let pending): result = await verifier.verify(pending, chain: certificates, now: now)
                }
                var code: Int?, reason: String?
                if case .failed(let failedCode, let why) = result.outcome { (code, reason) = (failedCode, why) }
                try output.emit(Output(
                    outcome: result.outcome == .passed ? "passed" : (result.outcome == .absent ? "absent" : "failed"), code: code, reason: reason,
                    attestation: result.attestation, claimedAttestation: result.claimedAttestation, verstat: result.verstat, certificateUrl: result.certificateURL
                ))
                if result.outcome != .passed { throw ExitCode(1) }
            }
        }
    }
}
