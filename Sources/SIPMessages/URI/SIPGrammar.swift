/// Character classes of RFC 3261 §25.1, on UTF-8 bytes.
enum SIPGrammar {
    static func isAlphanumeric(_ byte: UInt8) -> Bool {
        (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
    }

    /// token = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~")
    static func isTokenCharacter(_ byte: UInt8) -> Bool {
        isAlphanumeric(byte) || "-.!%*_+`'~".utf8.contains(byte)
    }

    static func isToken(_ text: Substring) -> Bool {
        !text.isEmpty && text.utf8.allSatisfy(isTokenCharacter)
    }

    /// unreserved = alphanum / mark; mark = "-" / "_" / "." / "!" / "~" / "*" / "'" / "(" / ")"
    static func isUnreserved(_ byte: UInt8) -> Bool {
        isAlphanumeric(byte) || "-_.!~*'()".utf8.contains(byte)
    }

    static func isHexDigit(_ byte: UInt8) -> Bool {
        (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x46) || (byte >= 0x61 && byte <= 0x66)
    }

    static func isWhitespace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 }

    /// True when every byte is unreserved, one of `extra`, or part of an escape `%HH` (no allocation).
    static func isEscapedText(_ text: Substring, extra: StaticString) -> Bool {
        let bytes = text.utf8
        var index = bytes.startIndex
        while index < bytes.endIndex {
            let byte = bytes[index]
            if byte == UInt8(ascii: "%") {
                let first = bytes.index(after: index)
                guard first < bytes.endIndex else { return false }
                let second = bytes.index(after: first)
                guard second < bytes.endIndex, isHexDigit(bytes[first]), isHexDigit(bytes[second]) else { return false }
                index = bytes.index(after: second)
                continue
            }
            guard isUnreserved(byte) || contains(extra, byte) else { return false }
            index = bytes.index(after: index)
        }
        return true
    }

    @inline(__always)
    static func contains(_ set: StaticString, _ byte: UInt8) -> Bool {
        set.withUTF8Buffer { $0.contains(byte) }
    }

    /// `text` with `%HH` escapes decoded (invalid escapes kept as they are); bytes that are not UTF-8 are replaced.
    static func unescaped(_ text: Substring) -> String {
        let bytes = Array(text.utf8)
        var output: [UInt8] = []
        output.reserveCapacity(bytes.count)
        var index = 0
        while index < bytes.count {
            if bytes[index] == UInt8(ascii: "%"), index + 2 < bytes.count, let high = hexValue(bytes[index + 1]), let low = hexValue(bytes[index + 2]) {
                output.append(high << 4 | low)
                index += 3
            } else {
                output.append(bytes[index])
                index += 1
            }
        }
        return String(decoding: output, as: UTF8.self)
    }

    static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 0x30...0x39: byte - 0x30
        case 0x41...0x46: byte - 0x41 + 10
        case 0x61...0x66: byte - 0x61 + 10
        default: nil
        }
    }

    /// `text` without leading and trailing spaces and tabs (on its UTF-8 bytes: no grapheme breaking).
    static func trimmed(_ text: Substring) -> Substring {
        let bytes = text.utf8
        var start = bytes.startIndex, end = bytes.endIndex
        while start < end, bytes[start] == 0x20 || bytes[start] == 0x09 { start = bytes.index(after: start) }
        while end > start {
            let before = bytes.index(before: end)
            guard bytes[before] == 0x20 || bytes[before] == 0x09 else { break }
            end = before
        }
        return text[start..<end]
    }

    /// The content of a quoted string (`"a \\"b\\""` → `a "b"`): quotes removed, quoted-pairs resolved.
    static func unquoted(_ text: Substring) -> String {
        var bytes: [UInt8] = []
        var escaped = false
        for byte in text.utf8.dropFirst().dropLast() {
            if escaped || byte != 0x5C {
                bytes.append(byte)
                escaped = false
            } else {
                escaped = true
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Splits `text` at the ASCII `separator` where it is outside a quoted string (with `\` escapes) and outside
    /// `<...>`, on its UTF-8 bytes.
    static func split(_ text: Substring, at separator: Character) -> [Substring] {
        let mark = separator.asciiValue!
        let bytes = text.utf8
        var parts: [Substring] = []
        var start = bytes.startIndex
        var index = bytes.startIndex
        var quoted = false, angle = false, escaped = false
        while index < bytes.endIndex {
            let byte = bytes[index]
            if quoted {
                if escaped { escaped = false } else if byte == 0x5C { escaped = true } else if byte == 0x22 { quoted = false }
            } else if byte == 0x22 {
                quoted = true
            } else if byte == 0x3C {
                angle = true
            } else if byte == 0x3E {
                angle = false
            } else if byte == mark && !angle {
                parts.append(text[start..<index])
                start = bytes.index(after: index)
            }
            index = bytes.index(after: index)
        }
        parts.append(text[start..<bytes.endIndex])
        return parts
    }
}

extension StringProtocol where UTF8View: BidirectionalCollection {
    /// The index of the first `ascii` byte (a search on the UTF-8 view: no grapheme breaking).
    @inline(__always)
    func firstByte(_ ascii: Unicode.Scalar) -> Index? { utf8.firstIndex(of: UInt8(ascii: ascii)) }

    @inline(__always)
    func lastByte(_ ascii: Unicode.Scalar) -> Index? { utf8.lastIndex(of: UInt8(ascii: ascii)) }
}
