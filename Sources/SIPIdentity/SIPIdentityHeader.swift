/// An RFC 8224 `Identity` header field value: the PASSporT token and its parameters
/// (`token;info=<https://cert.example.org/passport.pem>;alg=ES256;ppt=shaken`).
public struct SIPIdentityHeader: Sendable, Equatable {
    /// The longest Identity value we read (RFC 8224 sets no limit; a SHAKEN token is about 700 bytes).
    public static let maximumLength = 8192

    /// The JWS in compact serialisation (RFC 7515 §7.1), full form (`header.payload.signature`) or RFC 8224's
    /// compact form (`header..signature`).
    public var token: String
    /// Where the signer's certificate is (the `info` parameter, without its angle brackets).
    public var info: String?
    /// The `alg` parameter, if any (RFC 8224 §4.1: the PASSporT header's alg is what counts).
    public var algorithm: String?
    /// The `ppt` parameter (`shaken` for RFC 8588).
    public var ppt: String?

    public init(token: String, info: String?, algorithm: String? = "ES256", ppt: String? = "shaken") {
        self.token = token
        self.info = info
        self.algorithm = algorithm
        self.ppt = ppt
    }

    /// Parses one Identity value; parameter names are case-insensitive, unknown ones are ignored (RFC 8224 §4.1).
    public init(parsing value: String) throws(SIPIdentityError) {
        guard value.utf8.count <= Self.maximumLength else { throw .malformed("Identity header longer than \(Self.maximumLength) bytes") }
        let trimmed = value.trimmingWhitespace
        // The token has no ';'; a parameter value in angle brackets may (an https URL's path).
        let end = trimmed.firstIndex(of: ";") ?? trimmed.endIndex
        let token = String(trimmed[..<end]).trimmingWhitespace
        guard !token.isEmpty, token.allSatisfy(Self.isTokenCharacter) else { throw .malformed("Identity token is not base64url with dots") }
        var info: String?, algorithm: String?, ppt: String?
        var rest = trimmed[end...]
        while let first = rest.first, first == ";" {
            rest = rest.dropFirst()
            guard let equals = rest.firstIndex(of: "=") else { throw .malformed("Identity parameter without a value") }
            let name = rest[..<equals].trimmingWhitespace.lowercased()
            rest = rest[rest.index(after: equals)...].drop { $0 == " " || $0 == "\t" }
            let parameter: Substring
            if rest.first == "<" {
                guard let close = rest.firstIndex(of: ">") else { throw .malformed("Identity info without its closing '>'") }
                parameter = rest[rest.index(after: rest.startIndex)..<close]
                rest = rest[rest.index(after: close)...].drop { $0 == " " || $0 == "\t" }
            } else {
                let stop = rest.firstIndex(of: ";") ?? rest.endIndex
                parameter = rest[..<stop]
                rest = rest[stop...]
            }
            let text = String(parameter).trimmingWhitespace
            switch name {
            case "info": info = text
            case "alg": algorithm = text
            case "ppt": ppt = text.trimmingCharacters(in: "\"")
            default: break
            }
        }
        guard rest.isEmpty else { throw .malformed("unexpected text after the Identity parameters") }
        self.init(token: token, info: info, algorithm: algorithm, ppt: ppt)
    }

    /// The header value, as a signing service writes it.
    public var serialized: String {
        var value = token
        if let info { value += ";info=<\(info)>" }
        if let algorithm { value += ";alg=\(algorithm)" }
        if let ppt { value += ";ppt=\(ppt)" }
        return value
    }

    private static func isTokenCharacter(_ character: Character) -> Bool {
        character.isASCII && (character.isLetter || character.isNumber || character == "-" || character == "_" || character == ".")
    }
}

extension StringProtocol {
    var trimmingWhitespace: String {
        String(drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }

    func trimmingCharacters(in set: String) -> String {
        String(drop { set.contains($0) }.reversed().drop { set.contains($0) }.reversed())
    }
}
