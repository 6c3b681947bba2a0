import NIOCore

/// Limits of this implementation (RFC 3261 sets none for the head; §18.1.1 bounds UDP by the path MTU and the
/// 65,535-byte datagram). A message over a limit is answered 513 Message Too Large (§21.5.13).
public enum SIPMessageLimits {
    /// Start line and headers: 16 KiB (RFC 4475's longest valid message, longreq, is under 4 KiB).
    public static let maximumHeadLength = 16_384
    /// Header fields in one message.
    public static let maximumHeaderCount = 256
    /// The body: the largest a UDP datagram can carry (65,535 − 8 − 20), also applied to stream transports.
    public static let maximumBodyLength = 65_507
}

extension SIPMessage {
    /// Parses one SIP message from a datagram (RFC 3261 §18.3): CRLFs before the start line are skipped; the body
    /// is `Content-Length` bytes (octets past it are discarded), or the rest of the datagram when the header is
    /// absent; a `Content-Length` larger than what arrived is an error. Syntax and the rules every UAS checks
    /// (§8.2: mandatory headers, CSeq, version, Request-URI form) throw `SIPMessageError` with the 400/505/513 to
    /// answer; a response that fails them is to be discarded.
    public init(parsing datagram: ByteBuffer) throws(SIPMessageError) {
        var buffer = datagram
        // §7.5: CRLF before the start line is ignored.
        while let byte = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self), byte == 0x0D || byte == 0x0A { buffer.moveReaderIndex(forwardBy: 1) }
        guard let headEnd = SIPHeadParser.headEnd(in: buffer) else {
            if buffer.readableBytes > SIPMessageLimits.maximumHeadLength { throw .messageTooLarge("the head exceeds \(SIPMessageLimits.maximumHeadLength) bytes") }
            throw .badRequest("no blank line after the headers")
        }
        var head = try SIPHeadParser.parse(buffer.getSlice(at: buffer.readerIndex, length: headEnd.headLength)!)
        let available = buffer.readableBytes - headEnd.headLength - headEnd.separatorLength
        let bodyStart = buffer.readerIndex + headEnd.headLength + headEnd.separatorLength
        let length = head.contentLength ?? available
        guard length <= available else {
            throw .badRequest("Content-Length \(length) is more than the \(available) bytes that follow the headers")
        }
        guard length <= SIPMessageLimits.maximumBodyLength else { throw .messageTooLarge("a body of \(length) bytes") }
        head.body = buffer.getSlice(at: bodyStart, length: length)!
        self = try head.message()
    }
}

/// The head of a message (start line and headers), parsed and checked, waiting for its body.
struct SIPHead {
    enum StartLine {
        case request(method: String, uri: SIPURIReference)
        case response(code: Int, reason: String)
    }

    var startLine: StartLine
    var headers: SIPHeaders
    var contentLength: Int?
    var body = ByteBuffer()

    /// The message, after the checks that need the body (Content-Type of a body).
    func message() throws(SIPMessageError) -> SIPMessage {
        // §20.15: a body needs its Content-Type.
        if body.readableBytes > 0, !headers.contains("Content-Type") { throw .badRequest("a body without a Content-Type") }
        switch startLine {
        case .request(let method, let uri):
            return .request(SIPRequest(method: method, uri: uri, headers: headers, body: body))
        case .response(let code, let reason):
            return .response(SIPResponse(statusCode: code, reasonPhrase: reason, headers: headers, body: body))
        }
    }
}

/// Parsing of a message head (shared by the datagram and stream parsers).
enum SIPHeadParser {
    /// Where the head ends: its length and the length of the blank line after it (CRLFCRLF, or LFLF from lax senders).
    static func headEnd(in buffer: ByteBuffer) -> (headLength: Int, separatorLength: Int)? {
        buffer.withUnsafeReadableBytes { bytes -> (Int, Int)? in
            var index = 0
            let limit = min(bytes.count, SIPMessageLimits.maximumHeadLength + 4)
            while index + 1 < limit {
                if bytes[index] == 0x0A {
                    if bytes[index + 1] == 0x0A { return (index + 1, 1) }
                    if index + 2 < limit, bytes[index + 1] == 0x0D, bytes[index + 2] == 0x0A { return (index + 1, 2) }
                }
                index += 1
            }
            return nil
        }.map { (headLength: $0.0, separatorLength: $0.1) }
    }

    static func parse(_ head: ByteBuffer) throws(SIPMessageError) -> SIPHead {
        guard head.readableBytes <= SIPMessageLimits.maximumHeadLength else {
            throw .messageTooLarge("the head exceeds \(SIPMessageLimits.maximumHeadLength) bytes")
        }
        let text = String(decoding: head.readableBytesView, as: UTF8.self)
        var lines: [Substring] = []
        // Lines split on the UTF-8 bytes (LF, with CR dropped): no grapheme breaking on the hot path.
        for rawBytes in text.utf8.split(separator: 0x0A, omittingEmptySubsequences: false) {
            let raw = Substring(rawBytes)
            let line = raw.utf8.last == 0x0D ? raw[raw.startIndex..<raw.utf8.index(before: raw.endIndex)] : raw
            if let first = line.utf8.first, first == 0x20 || first == 0x09 {
                // Folding (§7.3.1): a continuation line joins the previous one with a single space.
                guard let previous = lines.popLast(), !lines.isEmpty || previous.utf8.contains(UInt8(ascii: ":")) else {
                    throw .badRequest("a continuation line with no header before it")
                }
                lines.append(Substring(SIPGrammar.trimmed(previous) + " " + SIPGrammar.trimmed(line)))
            } else if !line.isEmpty {
                lines.append(line)
            }
        }
        guard let first = lines.first else { throw .badRequest("empty message") }
        let startLine = try parseStartLine(first)
        var headers = SIPHeaders()
        for line in lines.dropFirst() {
            guard let colon = line.firstByte(":") else { throw .badRequest("header line without a colon: \(line.prefix(40))") }
            let name = SIPGrammar.trimmed(line[..<colon])
            guard SIPGrammar.isToken(name) else { throw .badRequest("malformed header name '\(name)'") }
            headers.add(String(name), String(SIPGrammar.trimmed(line[line.index(after: colon)...])))
            guard headers.count <= SIPMessageLimits.maximumHeaderCount else { throw .messageTooLarge("more than \(SIPMessageLimits.maximumHeaderCount) headers") }
        }
        var parsed = SIPHead(startLine: startLine, headers: headers, contentLength: nil)
        parsed.contentLength = try SIPMessageValidation.check(parsed)
        return parsed
    }

    /// Request-Line = Method SP Request-URI SP SIP-Version; Status-Line = SIP-Version SP Status-Code SP
    /// Reason-Phrase (§7.1, §7.2): single spaces, nothing trailing.
    static func parseStartLine(_ line: Substring) throws(SIPMessageError) -> SIPHead.StartLine {
        if line.hasPrefix("SIP/") || line.uppercased().hasPrefix("SIP/") {
            guard let firstSpace = line.firstByte(" ") else { throw .badRequest("malformed status line") }
            try checkVersion(line[..<firstSpace])
            let rest = line[line.index(after: firstSpace)...]
            let codeEnd = rest.firstByte(" ") ?? rest.endIndex
            let code = rest[..<codeEnd]
            guard code.count == 3, code.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let value = Int(code), value >= 100 else {
                throw .badRequest("status code '\(code.prefix(12))' is not three digits from 100")
            }
            guard codeEnd < rest.endIndex else { throw .badRequest("no space after the status code") }
            let reason = rest[rest.index(after: codeEnd)...]
            guard !reason.utf8.contains(where: { $0 < 0x20 && $0 != 0x09 }) else { throw .badRequest("control characters in the reason phrase") }
            return .response(code: value, reason: String(reason))
        }
        let parts = line.split(separator: " ", omittingEmptySubsequences: false)
        guard parts.count == 3, parts.allSatisfy({ !$0.isEmpty }) else {
            if line.utf8.contains(UInt8(ascii: "<")) { throw .badRequest("the Request-URI may not be enclosed in < >") }
            throw .badRequest("the request line must be three elements separated by single spaces, with nothing after the version")
        }
        guard SIPGrammar.isToken(parts[0]) else { throw .badRequest("malformed method '\(parts[0].prefix(20))'") }
        try checkVersion(parts[2])
        let uriText = parts[1]
        guard uriText.first != "<" else { throw .badRequest("the Request-URI may not be enclosed in < >") }
        let uri = try SIPURIReference(parsing: uriText)
        if case .sip(let sip) = uri, !sip.headers.isEmpty {
            throw .badRequest("the Request-URI may not carry headers (RFC 3261 §19.1.5)")
        }
        return .request(method: String(parts[0]), uri: uri)
    }

    static func checkVersion(_ version: Substring) throws(SIPMessageError) {
        guard version.uppercased() != "SIP/2.0" else { return }
        let number = version.dropFirst(4)
        if version.uppercased().hasPrefix("SIP/"), let dot = number.firstByte("."), !number[..<dot].isEmpty,
           number[..<dot].allSatisfy(\.isNumber), number[number.index(after: dot)...].allSatisfy(\.isNumber), !number[number.index(after: dot)...].isEmpty {
            throw .versionNotSupported(String(version))
        }
        throw .badRequest("malformed SIP version '\(version.prefix(20))'")
    }
}
