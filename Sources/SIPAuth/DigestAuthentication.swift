import Crypto

/// HTTP Digest as SIP uses it (RFC 3261 §22.4, RFC 7616, RFC 8760): MD5 and SHA-256 (and their `-sess` variants),
/// with `qop=auth` and nonce counts, or without qop for RFC 2069 peers.
public enum DigestAlgorithm: String, Sendable, CaseIterable {
    case md5 = "MD5"
    case md5Session = "MD5-sess"
    case sha256 = "SHA-256"
    case sha256Session = "SHA-256-sess"

    /// Parses the `algorithm` parameter (absent means MD5, RFC 7616 §3.3); case-insensitive.
    public init(parameter: String?) throws(SIPAuthError) {
        guard let parameter else {
            self = .md5
            return
        }
        guard let algorithm = Self.allCases.first(where: { $0.rawValue.lowercased() == parameter.lowercased() }) else {
            throw .unsupported("digest algorithm \(parameter) is not supported (MD5, SHA-256 and their -sess variants are)")
        }
        self = algorithm
    }

    var isSession: Bool { self == .md5Session || self == .sha256Session }

    /// Lowercase hex of the hash of `text`.
    func hash(_ text: String) -> String {
        let bytes = Array(text.utf8)
        switch self {
        case .md5, .md5Session: return hex(Insecure.MD5.hash(data: bytes))
        case .sha256, .sha256Session: return hex(SHA256.hash(data: bytes))
        }
    }
}

/// Lowercase hex of bytes.
func hex(_ bytes: some Sequence<UInt8>) -> String {
    let digits = Array("0123456789abcdef".utf8)
    var output: [UInt8] = []
    for byte in bytes {
        output.append(digits[Int(byte >> 4)])
        output.append(digits[Int(byte & 0x0F)])
    }
    return String(decoding: output, as: UTF8.self)
}

/// `value` as 8 lowercase hex digits (the nonce count, RFC 7616 §3.4).
func hex8(_ value: UInt32) -> String {
    hex([UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)])
}

extension DigestAlgorithm {
}

/// A challenge (`WWW-Authenticate` from a registrar or UAS, `Proxy-Authenticate` from a proxy).
public struct DigestChallenge: Sendable, Equatable {
    public var realm: String
    public var nonce: String
    public var algorithm: DigestAlgorithm
    /// `auth` offered (we never ask for `auth-int`).
    public var qopAuth: Bool
    public var opaque: String?
    /// The nonce was valid but expired: retry with the new one without asking the user (RFC 7616 §3.3).
    public var stale: Bool

    public init(realm: String, nonce: String, algorithm: DigestAlgorithm = .sha256, qopAuth: Bool = true, opaque: String? = nil, stale: Bool = false) {
        self.realm = realm
        self.nonce = nonce
        self.algorithm = algorithm
        self.qopAuth = qopAuth
        self.opaque = opaque
        self.stale = stale
    }

    public init(parsing header: String) throws(SIPAuthError) {
        let parameters = try DigestParameters.parse(header)
        guard let realm = parameters["realm"], let nonce = parameters["nonce"] else { throw .malformed("a Digest challenge needs realm and nonce") }
        self.realm = realm
        self.nonce = nonce
        algorithm = try DigestAlgorithm(parameter: parameters["algorithm"])
        let qops = parameters["qop"].map { $0.split(separator: ",").map { $0.trimmingCharacters(in: " \t").lowercased() } } ?? []
        guard qops.isEmpty || qops.contains("auth") else { throw .unsupported("qop \(parameters["qop"]!) offers no auth") }
        qopAuth = qops.contains("auth")
        opaque = parameters["opaque"]
        stale = parameters["stale"]?.lowercased() == "true"
    }

    public var headerValue: String {
        var parts = ["realm=\"\(realm)\"", "nonce=\"\(nonce)\"", "algorithm=\(algorithm.rawValue)"]
        if qopAuth { parts.append("qop=\"auth\"") }
        if let opaque { parts.append("opaque=\"\(opaque)\"") }
        if stale { parts.append("stale=true") }
        return "Digest " + parts.joined(separator: ", ")
    }
}

/// Credentials (`Authorization` or `Proxy-Authorization`).
public struct DigestCredentials: Sendable, Equatable {
    public var username: String
    public var realm: String
    public var nonce: String
    public var uri: String
    public var response: String
    public var algorithm: DigestAlgorithm
    public var cnonce: String?
    /// `nc`, 8 hex digits on the wire.
    public var nonceCount: UInt32?
    public var qopAuth: Bool
    public var opaque: String?

    public init(parsing header: String) throws(SIPAuthError) {
        let parameters = try DigestParameters.parse(header)
        guard let username = parameters["username"], let realm = parameters["realm"], let nonce = parameters["nonce"], let uri = parameters["uri"],
              let response = parameters["response"]
        else { throw .malformed("Digest credentials need username, realm, nonce, uri and response") }
        self.username = username
        self.realm = realm
        self.nonce = nonce
        self.uri = uri
        self.response = response.lowercased()
        algorithm = try DigestAlgorithm(parameter: parameters["algorithm"])
        cnonce = parameters["cnonce"]
        opaque = parameters["opaque"]
        qopAuth = parameters["qop"]?.lowercased() == "auth"
        if let nc = parameters["nc"] {
            guard nc.count == 8, let value = UInt32(nc, radix: 16) else { throw .malformed("nc must be 8 hex digits") }
            nonceCount = value
        }
        if qopAuth { guard cnonce != nil, nonceCount != nil else { throw .malformed("qop=auth needs cnonce and nc") } }
    }

    init(username: String, realm: String, nonce: String, uri: String, response: String, algorithm: DigestAlgorithm, cnonce: String?, nonceCount: UInt32?, qopAuth: Bool, opaque: String?) {
        self.username = username
        self.realm = realm
        self.nonce = nonce
        self.uri = uri
        self.response = response
        self.algorithm = algorithm
        self.cnonce = cnonce
        self.nonceCount = nonceCount
        self.qopAuth = qopAuth
        self.opaque = opaque
    }

    public var headerValue: String {
        var parts = [
            "username=\"\(username)\"", "realm=\"\(realm)\"", "nonce=\"\(nonce)\"", "uri=\"\(uri)\"", "response=\"\(response)\"",
            "algorithm=\(algorithm.rawValue)",
        ]
        if qopAuth, let cnonce, let nonceCount {
            parts += ["qop=auth", "nc=" + hex8(nonceCount), "cnonce=\"\(cnonce)\""]
        }
        if let opaque { parts.append("opaque=\"\(opaque)\"") }
        return "Digest " + parts.joined(separator: ", ")
    }

    /// Never prints the response digest.
    public var redacted: String { "Digest username=\"\(username)\", realm=\"\(realm)\", uri=\"\(uri)\", algorithm=\(algorithm.rawValue)" }
}

/// The digest computation of RFC 7616 §3.4.1 (and RFC 2617 for MD5).
public enum DigestComputation {
    /// H(username:realm:password), what a server may store instead of the password (for the non-session algorithms).
    public static func ha1(username: String, realm: String, password: String, algorithm: DigestAlgorithm) -> String {
        algorithm.hash("\(username):\(realm):\(password)")
    }

    /// The `response` value for `method` on `uri`, from HA1 (as `ha1(...)` computes it).
    public static func response(
        ha1 base: String, algorithm: DigestAlgorithm, nonce: String, method: String, uri: String, qopAuth: Bool, nonceCount: UInt32?, cnonce: String?
    ) -> String {
        var ha1 = base
        if algorithm.isSession, let cnonce { ha1 = algorithm.hash("\(base):\(nonce):\(cnonce)") }
        let ha2 = algorithm.hash("\(method):\(uri)")
        if qopAuth, let nonceCount, let cnonce {
            return algorithm.hash("\(ha1):\(nonce):\(hex8(nonceCount)):\(cnonce):auth:\(ha2)")
        }
        return algorithm.hash("\(ha1):\(nonce):\(ha2)")
    }
}
