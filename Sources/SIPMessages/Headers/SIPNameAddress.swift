/// A name-addr or addr-spec with header parameters (RFC 3261 §20.10, §25.1): the value of From, To, Contact,
/// Route, Record-Route, Reply-To, Refer-To, P-Asserted-Identity. `"Alice" <sip:alice@example.com>;tag=88`.
public struct SIPNameAddress: Sendable, Equatable {
    /// The display name, unquoted and unescaped; nil when there is none.
    public var displayName: String?
    public var uri: SIPURIReference
    public var parameters: SIPParameters

    public init(displayName: String? = nil, uri: SIPURIReference, parameters: SIPParameters = SIPParameters()) {
        self.displayName = displayName
        self.uri = uri
        self.parameters = parameters
    }

    public var tag: String? { parameters["tag"] ?? nil }

    /// Always in the name-addr form, which is never ambiguous.
    public var serialized: String {
        var text = ""
        if let displayName {
            let escaped = displayName.replacingAll("\\", with: "\\\\").replacingAll("\"", with: "\\\"")
            text += "\"\(escaped)\" "
        }
        return text + "<\(uri)>" + parameters.serialized
    }

    /// Parses one name-addr or addr-spec (not a comma list: split lists first).
    public init(parsing raw: Substring) throws(SIPMessageError) {
        let text = SIPGrammar.trimmed(raw)
        guard !text.isEmpty else { throw .badRequest("empty address") }
        var rest: Substring
        if text.first == "\"" || text.utf8.contains(UInt8(ascii: "<")) {
            var index = text.startIndex
            if text.first == "\"" {
                // quoted-string = SWS DQUOTE *(qdtext / quoted-pair) DQUOTE
                var name = ""
                index = text.index(after: index)
                var closed = false
                while index < text.endIndex {
                    let character = text[index]
                    if character == "\\" {
                        let next = text.index(after: index)
                        guard next < text.endIndex else { break }
                        name.append(text[next])
                        index = text.index(after: next)
                        continue
                    }
                    if character == "\"" {
                        closed = true
                        index = text.index(after: index)
                        break
                    }
                    name.append(character)
                    index = text.index(after: index)
                }
                guard closed else { throw .badRequest("unterminated quoted display name") }
                displayName = name
            } else {
                guard let open = text.firstByte("<") else { throw .badRequest("malformed address") }
                // display-name = *(token LWS): tokens separated by whitespace, nothing else.
                let name = SIPGrammar.trimmed(text[..<open])
                for word in name.split(whereSeparator: { $0 == " " || $0 == "\t" }) where !SIPGrammar.isToken(word) {
                    throw .badRequest("display name '\(name)' must be quoted: it holds characters a token cannot")
                }
                displayName = name.isEmpty ? nil : String(name)
                index = open
            }
            let afterName = SIPGrammar.trimmed(text[index...])
            guard afterName.first == "<", let close = afterName.firstByte(">") else { throw .badRequest("missing <URI> after the display name") }
            let inner = afterName[afterName.index(after: afterName.startIndex)..<close]
            guard let first = inner.first, let last = inner.last, first != " ", first != "\t", last != " ", last != "\t" else {
                throw .badRequest("no whitespace is allowed inside < > around a URI")
            }
            uri = try SIPURIReference(parsing: inner)
            rest = SIPGrammar.trimmed(afterName[afterName.index(after: close)...])
        } else {
            // addr-spec: it may not hold ',', ';' or '?' (RFC 3261 §20): what follows the first ';' is parameters.
            displayName = nil
            let end = text.firstByte(";") ?? text.endIndex
            let spec = SIPGrammar.trimmed(text[..<end])
            guard !spec.utf8.contains(UInt8(ascii: "?")), !spec.utf8.contains(UInt8(ascii: ",")) else {
                throw .badRequest("a URI with headers or commas must be enclosed in < > (RFC 3261 §20)")
            }
            uri = try SIPURIReference(parsing: spec)
            rest = text[end...]
        }
        parameters = SIPParameters()
        if !rest.isEmpty {
            guard rest.first == ";" else { throw .badRequest("unexpected text after the address: \(rest.prefix(20))") }
            parameters = try SIPParameters.parse(rest.dropFirst(), allowWhitespace: true, what: "header parameters")
        }
    }
}

extension String {
    /// Every occurrence of `target` replaced (without Foundation).
    func replacingAll(_ target: String, with replacement: String) -> String {
        guard !target.isEmpty else { return self }
        var result = ""
        var rest = self[...]
        while let range = rest.firstRange(of: target) {
            result += rest[..<range.lowerBound] + replacement
            rest = rest[range.upperBound...]
        }
        return result + rest
    }
}
