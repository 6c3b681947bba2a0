import Crypto
import Foundation

/// A Personal Assertion Token (RFC 8225) with the SHAKEN extension (RFC 8588): the JWS header, the claims, and the
/// bytes its ES256 signature covers. Parsing checks the form only; `STIRVerifier` decides whether to believe it.
public struct PASSporT: Sendable, Equatable {
    /// The JOSE header (RFC 8225 §4).
    public struct Header: Codable, Sendable, Equatable {
        public var alg: String
        public var typ: String?
        public var ppt: String?
        /// The signer's certificate (RFC 8225 §4.3); it must equal the Identity header's `info` (RFC 8588 §4).
        public var x5u: String?

        public init(alg: String = "ES256", typ: String? = "passport", ppt: String? = "shaken", x5u: String?) {
            self.alg = alg
            self.typ = typ
            self.ppt = ppt
            self.x5u = x5u
        }
    }

    /// The originating identity (RFC 8225 §5.2.1): a telephone number or a URI.
    public struct Originator: Codable, Sendable, Equatable {
        public var tn: String?
        public var uri: String?
        public init(tn: String? = nil, uri: String? = nil) {
            self.tn = tn
            self.uri = uri
        }
    }

    /// The destinations (RFC 8225 §5.2.1): telephone numbers and URIs.
    public struct Destination: Codable, Sendable, Equatable {
        public var tn: [String]?
        public var uri: [String]?
        public init(tn: [String]? = nil, uri: [String]? = nil) {
            self.tn = tn
            self.uri = uri
        }
    }

    /// The claims (RFC 8225 §5, RFC 8588 §4).
    public struct Claims: Codable, Sendable, Equatable {
        /// `A` full, `B` partial, `C` gateway attestation (RFC 8588 §4).
        public var attest: String?
        public var dest: Destination
        /// Seconds since 1970 when it was signed.
        public var iat: Int
        public var orig: Originator
        /// The signer's opaque origination identifier.
        public var origid: String?

        public init(attest: String?, dest: Destination, iat: Int, orig: Originator, origid: String?) {
            self.attest = attest
            self.dest = dest
            self.iat = iat
            self.orig = orig
            self.origid = origid
        }
    }

    public var header: Header
    public var claims: Claims
    /// `BASE64URL(header) '.' BASE64URL(payload)`: what the signature covers (RFC 7515 §5.2).
    public var signingInput: [UInt8]
    /// The ES256 signature, R and S of 32 bytes each (RFC 7518 §3.4).
    public var signature: [UInt8]

    /// Parses a PASSporT in the full form (`header.payload.signature`, which SHAKEN uses). RFC 8224's compact form
    /// (`header..signature`), whose claims are rebuilt from the SIP headers, is refused as unsupported: SHAKEN's
    /// `attest` and `origid` cannot be rebuilt.
    public init(compact token: String) throws(SIPIdentityError) {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3 else { throw .malformed("a PASSporT has three dot-separated parts, this one has \(parts.count)") }
        guard !parts[1].isEmpty else { throw .unsupported("compact form PASSporT (no payload): SHAKEN sends the full form") }
        guard let headerBytes = Base64URL.decode(parts[0]) else { throw .malformed("PASSporT header is not base64url") }
        guard let payloadBytes = Base64URL.decode(parts[1]) else { throw .malformed("PASSporT payload is not base64url") }
        guard let signature = Base64URL.decode(parts[2]) else { throw .malformed("PASSporT signature is not base64url") }
        let decoder = JSONDecoder()
        do {
            header = try decoder.decode(Header.self, from: Data(headerBytes))
        } catch {
            throw .malformed("PASSporT header is not the JSON of RFC 8225 §4")
        }
        do {
            claims = try decoder.decode(Claims.self, from: Data(payloadBytes))
        } catch {
            throw .malformed("PASSporT claims are not the JSON of RFC 8225 §5 (iat, orig and dest are required)")
        }
        signingInput = Array(parts[0].utf8) + [UInt8(ascii: ".")] + Array(parts[1].utf8)
        self.signature = signature
    }

    /// Signs claims as an authentication service does (RFC 8224 §5), with keys in lexicographic order and no
    /// whitespace (RFC 8225 §9), and returns the full-form token.
    public static func sign(header: Header, claims: Claims, key: P256.Signing.PrivateKey) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let input = Base64URL.encode(Array(try encoder.encode(header))) + "." + Base64URL.encode(Array(try encoder.encode(claims)))
        let signature = try key.signature(for: Data(input.utf8))
        return input + "." + Base64URL.encode(Array(signature.rawRepresentation))
    }
}

/// Base64 with the URL alphabet and no padding (RFC 7515 §2).
enum Base64URL {
    static func decode(_ text: Substring) -> [UInt8]? {
        guard text.utf8.allSatisfy({ byte in
            (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z")) || (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
                || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_")
        }) else { return nil }
        var standard = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        let remainder = standard.utf8.count % 4
        guard remainder != 1 else { return nil }
        if remainder > 0 { standard += String(repeating: "=", count: 4 - remainder) }
        return Data(base64Encoded: standard).map(Array.init)
    }

    static func encode(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}
