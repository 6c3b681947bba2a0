import NIOCore

/// A SIP request (RFC 3261 §7.1).
public struct SIPRequest: Sendable, Equatable {
    /// The method token as sent (methods are case-sensitive, §7.1): `INVITE`, `BYE`, or any extension.
    public var method: String
    public var uri: SIPURIReference
    public var headers: SIPHeaders
    public var body: ByteBuffer

    public init(method: String, uri: SIPURIReference, headers: SIPHeaders = SIPHeaders(), body: ByteBuffer = ByteBuffer()) {
        self.method = method
        self.uri = uri
        self.headers = headers
        self.body = body
    }
}

/// A SIP response (RFC 3261 §7.2).
public struct SIPResponse: Sendable, Equatable {
    public var statusCode: Int
    public var reasonPhrase: String
    public var headers: SIPHeaders
    public var body: ByteBuffer

    public init(statusCode: Int, reasonPhrase: String, headers: SIPHeaders = SIPHeaders(), body: ByteBuffer = ByteBuffer()) {
        self.statusCode = statusCode
        self.reasonPhrase = reasonPhrase
        self.headers = headers
        self.body = body
    }
}

/// A parsed SIP message. Parse a datagram with `init(parsing:)`, a stream with `SIPStreamParser`; write one with
/// `ByteBuffer.writeSIPMessage(_:)`.
public enum SIPMessage: Sendable, Equatable {
    case request(SIPRequest)
    case response(SIPResponse)

    public var headers: SIPHeaders {
        switch self {
        case .request(let request): request.headers
        case .response(let response): response.headers
        }
    }

    public var body: ByteBuffer {
        switch self {
        case .request(let request): request.body
        case .response(let response): response.body
        }
    }

    // MARK: Typed views of the headers every message has (they were checked when the message was parsed)

    public var callID: String? { headers.first("Call-ID") }
    public var cseq: SIPCSeq? { headers.cseq }
    public var from: SIPNameAddress? { headers.first("From").flatMap { try? SIPNameAddress(parsing: $0[...]) } }
    public var to: SIPNameAddress? { headers.first("To").flatMap { try? SIPNameAddress(parsing: $0[...]) } }
    /// Every Via, topmost first.
    public var vias: [SIPVia] { headers.list("Via").compactMap { try? SIPVia(parsing: $0[...]) } }
}

extension ByteBuffer {
    /// Writes `message`: start line, headers in order (Content-Length written last, from the body's size,
    /// replacing any the message held), a blank line and the body.
    @discardableResult
    public mutating func writeSIPMessage(_ message: SIPMessage) -> Int {
        let start = writerIndex
        switch message {
        case .request(let request):
            writeString("\(request.method) \(request.uri) SIP/2.0\r\n")
        case .response(let response):
            writeString("SIP/2.0 \(response.statusCode) \(response.reasonPhrase)\r\n")
        }
        for field in message.headers where !field.name.caseInsensitiveCompare("Content-Length") {
            writeString("\(field.name): \(field.value)\r\n")
        }
        var body = message.body
        writeString("Content-Length: \(body.readableBytes)\r\n\r\n")
        writeBuffer(&body)
        return writerIndex - start
    }
}

extension SIPHeaders {
    /// The CSeq, typed (nil when absent or malformed).
    public var cseq: SIPCSeq? { first("CSeq").flatMap { try? SIPCSeq(parsing: $0[...]) } }
}
