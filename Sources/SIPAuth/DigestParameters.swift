/// The `Digest` scheme's comma-separated `name=value` list (RFC 7616 §3.3, §3.4; RFC 3261 §25.1), used by
/// WWW-Authenticate, Proxy-Authenticate, Authorization and Proxy-Authorization. Quoted values are unquoted
/// (`\` escapes removed); names are lowercased.
struct DigestParameters: Sendable, Equatable {
    var values: [String: String] = [:]
    /// Which values were quoted, so they are written back the same way.
    var order: [String] = []

    subscript(name: String) -> String? { values[name] }

    static func parse(_ header: String) throws(SIPAuthError) -> DigestParameters {
        var text = header[...]
        while text.first == " " || text.first == "\t" { text = text.dropFirst() }
        guard text.lowercased().hasPrefix("digest"), text.dropFirst(6).first.map({ $0 == " " || $0 == "\t" }) == true else {
            throw .unsupported("only the Digest scheme is supported")
        }
        text = text.dropFirst(6)
        var result = DigestParameters()
        var index = text.startIndex
        func skipSpace() { while index < text.endIndex, text[index] == " " || text[index] == "\t" || text[index] == "," { index = text.index(after: index) } }
        skipSpace()
        while index < text.endIndex {
            let nameStart = index
            while index < text.endIndex, text[index] != "=", text[index] != "," { index = text.index(after: index) }
            let name = text[nameStart..<index].trimmingCharacters(in: " \t").lowercased()
            guard index < text.endIndex, text[index] == "=", !name.isEmpty else { throw .malformed("expected name=value in the Digest parameters") }
            index = text.index(after: index)
            while index < text.endIndex, text[index] == " " || text[index] == "\t" { index = text.index(after: index) }
            var value = ""
            if index < text.endIndex, text[index] == "\"" {
                index = text.index(after: index)
                var closed = false
                while index < text.endIndex {
                    if text[index] == "\\", text.index(after: index) < text.endIndex {
                        value.append(text[text.index(after: index)])
                        index = text.index(index, offsetBy: 2)
                        continue
                    }
                    if text[index] == "\"" {
                        closed = true
                        index = text.index(after: index)
                        break
                    }
                    value.append(text[index])
                    index = text.index(after: index)
                }
                guard closed else { throw .malformed("unterminated quoted value of \(name)") }
            } else {
                let valueStart = index
                while index < text.endIndex, text[index] != "," { index = text.index(after: index) }
                value = text[valueStart..<index].trimmingCharacters(in: " \t")
            }
            guard result.values[name] == nil else { throw .malformed("\(name) appears twice") }
            result.values[name] = value
            result.order.append(name)
            skipSpace()
        }
        return result
    }
}

extension Substring {
    func trimmingCharacters(in set: String) -> String {
        var text = self
        while let first = text.first, set.contains(first) { text = text.dropFirst() }
        while let last = text.last, set.contains(last) { text = text.dropLast() }
        return String(text)
    }
}
