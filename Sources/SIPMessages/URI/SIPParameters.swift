/// An ordered list of `;name[=value]` parameters (URI parameters, header parameters), names compared without case
/// (RFC 3261 §19.1.4, §7.3.1). A parameter without a value (`;lr`) has `value == nil`.
public struct SIPParameters: Sendable, Equatable, Sequence {
    public struct Parameter: Sendable, Equatable {
        public var name: String
        public var value: String?

        public init(name: String, value: String? = nil) {
            self.name = name
            self.value = value
        }
    }

    public private(set) var parameters: [Parameter] = []

    public init(_ parameters: [Parameter] = []) {
        self.parameters = parameters
    }

    public func makeIterator() -> [Parameter].Iterator { parameters.makeIterator() }
    public var isEmpty: Bool { parameters.isEmpty }
    public var count: Int { parameters.count }

    /// The value of `name`: `.some(nil)` for a parameter without a value, nil when absent.
    public subscript(name: String) -> String?? {
        guard let parameter = parameters.first(where: { $0.name.caseInsensitiveCompare(name) }) else { return nil }
        return .some(parameter.value)
    }

    public func contains(_ name: String) -> Bool { parameters.contains { $0.name.caseInsensitiveCompare(name) } }

    /// Sets `name` (replacing it where it is, or appending it).
    public mutating func set(_ name: String, _ value: String?) {
        if let index = parameters.firstIndex(where: { $0.name.caseInsensitiveCompare(name) }) {
            parameters[index].value = value
        } else {
            parameters.append(Parameter(name: name, value: value))
        }
    }

    public mutating func remove(_ name: String) {
        parameters.removeAll { $0.name.caseInsensitiveCompare(name) }
    }

    /// `;name=value;flag` as written on the wire.
    public var serialized: String {
        parameters.map { ";" + $0.name + ($0.value.map { "=" + $0 } ?? "") }.joined()
    }

    /// Parses the `;`-separated list after a URI or header value (`text` starts after the first `;`). LWS around `;`
    /// and `=` is allowed in header parameters (`allowWhitespace`), not in URI parameters; quoted-string values keep
    /// their quotes. An empty parameter (`;;`) is a syntax error (RFC 4475 §3.1.2.1).
    static func parse(_ text: Substring, allowWhitespace: Bool, what: String) throws(SIPMessageError) -> SIPParameters {
        var result = SIPParameters()
        for item in SIPGrammar.split(text, at: ";") {
            let raw = allowWhitespace ? SIPGrammar.trimmed(item) : item
            guard !raw.isEmpty else { throw .badRequest("empty parameter in \(what)") }
            let name: Substring, value: Substring?
            if let equals = raw.firstByte("=") {
                name = allowWhitespace ? SIPGrammar.trimmed(raw[..<equals]) : raw[..<equals]
                value = allowWhitespace ? SIPGrammar.trimmed(raw[raw.index(after: equals)...]) : raw[raw.index(after: equals)...]
            } else {
                name = raw
                value = nil
            }
            let nameOK = allowWhitespace ? SIPGrammar.isToken(name) : (!name.isEmpty && SIPGrammar.isEscapedText(name, extra: "[]/:&+$"))
            guard nameOK else { throw .badRequest("malformed parameter name '\(name)' in \(what)") }
            if let value {
                if value.first == "\"" {
                    guard allowWhitespace, value.count >= 2, value.last == "\"", !isEscapedQuote(value) else {
                        throw .badRequest("malformed quoted parameter value in \(what)")
                    }
                } else {
                    let valueOK = allowWhitespace
                        ? (!value.isEmpty && value.utf8.allSatisfy { SIPGrammar.isTokenCharacter($0) || "[]:".utf8.contains($0) })
                        : SIPGrammar.isEscapedText(value, extra: "[]/:&+$")
                    guard valueOK else { throw .badRequest("malformed value of parameter '\(name)' in \(what)") }
                }
            }
            result.parameters.append(Parameter(name: String(name), value: value.map(String.init)))
        }
        return result
    }

    /// A header value with parameters (`value;name=x;flag`): the value, trimmed, and its parameters.
    static func valueAndParameters(_ raw: Substring, what: String) throws(SIPMessageError) -> (value: Substring, parameters: SIPParameters) {
        let parts = SIPGrammar.split(raw, at: ";")
        let value = SIPGrammar.trimmed(parts[0])
        guard parts.count > 1 else { return (value, SIPParameters()) }
        let rest = raw[raw.utf8.index(after: parts[0].endIndex)...]
        return (value, try parse(rest, allowWhitespace: true, what: what))
    }

    /// A quoted string whose closing quote is escaped (`"abc\"`): unterminated.
    private static func isEscapedQuote(_ value: Substring) -> Bool {
        var backslashes = 0
        var index = value.index(before: value.index(before: value.endIndex))
        while index > value.startIndex, value[index] == "\\" {
            backslashes += 1
            index = value.index(before: index)
        }
        return backslashes % 2 == 1
    }
}

extension String {
    /// ASCII case-insensitive equality.
    func caseInsensitiveCompare(_ other: String) -> Bool {
        utf8.count == other.utf8.count && zip(utf8, other.utf8).allSatisfy { a, b in
            a == b || (a | 0x20 == b | 0x20 && (a | 0x20) >= 0x61 && (a | 0x20) <= 0x7A)
        }
    }
}
