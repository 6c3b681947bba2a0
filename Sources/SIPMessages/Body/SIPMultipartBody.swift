import NIOCore

/// A multipart MIME body (RFC 2046 §5.1, RFC 5621 for SIP): SIP-I trunks send `multipart/mixed` with the SDP and
/// the ISUP message (binary) side by side. Parts are slices of the message body, never decoded as text.
public struct SIPMultipartBody: Sendable, Equatable {
    public struct Part: Sendable, Equatable {
        public var headers: SIPHeaders
        public var body: ByteBuffer

        public var contentType: String? { headers.first("Content-Type") }
    }

    public var parts: [Part]

    /// The first part whose Content-Type is `type` (parameters ignored), if any: `part(ofType: "application/sdp")`.
    public func part(ofType type: String) -> Part? {
        parts.first { part in
            guard let contentType = part.contentType else { return false }
            return contentType.split(separator: ";").first.map { SIPGrammar.trimmed($0).lowercased() } == type.lowercased()
        }
    }

    /// The boundary of a `multipart/...` Content-Type, nil for another type.
    public static func boundary(ofContentType contentType: String) -> String? {
        let items = SIPGrammar.split(contentType[...], at: ";")
        guard let type = items.first, SIPGrammar.trimmed(type).lowercased().hasPrefix("multipart/") else { return nil }
        for item in items.dropFirst() {
            let pair = SIPGrammar.trimmed(item)
            guard let equals = pair.firstByte("="), SIPGrammar.trimmed(pair[..<equals]).lowercased() == "boundary" else { continue }
            var value = SIPGrammar.trimmed(pair[pair.index(after: equals)...])
            if value.first == "\"", value.last == "\"", value.count >= 2 { value = value.dropFirst().dropLast() }
            return value.isEmpty ? nil : String(value)
        }
        return nil
    }

    /// Parses `body` split at `--boundary` delimiter lines; the preamble and the epilogue are ignored.
    public init(parsing body: ByteBuffer, boundary: String) throws(SIPMessageError) {
        let bytes = Array(body.readableBytesView)
        let delimiter = Array("--\(boundary)".utf8)
        // Delimiters start a line: at the very beginning or after CRLF (or LF).
        var positions: [Int] = []
        var index = 0
        while index + delimiter.count <= bytes.count {
            let atLineStart = index == 0 || bytes[index - 1] == 0x0A
            if atLineStart, bytes[index] == 0x2D, Array(bytes[index..<(index + delimiter.count)]) == delimiter {
                positions.append(index)
                index += delimiter.count
            } else {
                index += 1
            }
        }
        guard positions.count >= 2 else { throw .badRequest("multipart body without its boundary delimiters") }
        var parts: [Part] = []
        var closed = false
        for (number, position) in positions.enumerated() {
            var start = position + delimiter.count
            if start + 1 < bytes.count, bytes[start] == 0x2D, bytes[start + 1] == 0x2D {
                closed = true
                break
            }
            guard number + 1 < positions.count else { break }
            // Skip transport padding and the CRLF after the delimiter.
            while start < bytes.count, bytes[start] == 0x20 || bytes[start] == 0x09 { start += 1 }
            if start < bytes.count, bytes[start] == 0x0D { start += 1 }
            if start < bytes.count, bytes[start] == 0x0A { start += 1 }
            // The part ends before the CRLF that precedes the next delimiter.
            var end = positions[number + 1]
            if end > start, bytes[end - 1] == 0x0A { end -= 1 }
            if end > start, bytes[end - 1] == 0x0D { end -= 1 }
            parts.append(try Self.part(body.getSlice(at: body.readerIndex + start, length: max(0, end - start))!))
        }
        guard closed else { throw .badRequest("multipart body without its closing delimiter") }
        guard !parts.isEmpty else { throw .badRequest("multipart body without parts") }
        self.parts = parts
    }

    /// One part: headers, a blank line, the body (no headers at all means text/plain per RFC 2046, kept as is).
    private static func part(_ slice: ByteBuffer) throws(SIPMessageError) -> Part {
        if slice.getInteger(at: slice.readerIndex, as: UInt16.self) == 0x0D0A {
            return Part(headers: SIPHeaders(), body: slice.getSlice(at: slice.readerIndex + 2, length: slice.readableBytes - 2)!)
        }
        guard let end = SIPHeadParser.headEnd(in: slice) else {
            return Part(headers: SIPHeaders(), body: slice)
        }
        var headers = SIPHeaders()
        let text = String(decoding: slice.getSlice(at: slice.readerIndex, length: end.headLength)!.readableBytesView, as: UTF8.self)
        for raw in text.split(whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
            let line = raw.last == "\r" ? raw.dropLast() : raw
            guard !line.isEmpty else { continue }
            guard let colon = line.firstByte(":"), SIPGrammar.isToken(SIPGrammar.trimmed(line[..<colon])) else {
                throw .badRequest("malformed header in a multipart body part")
            }
            headers.add(String(SIPGrammar.trimmed(line[..<colon])), String(SIPGrammar.trimmed(line[line.index(after: colon)...])))
        }
        let bodyStart = end.headLength + end.separatorLength
        return Part(headers: headers, body: slice.getSlice(at: slice.readerIndex + bodyStart, length: slice.readableBytes - bodyStart)!)
    }
}
