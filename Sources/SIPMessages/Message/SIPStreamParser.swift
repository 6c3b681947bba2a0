import NIOCore

/// Frames SIP messages on a stream transport (TCP, TLS; RFC 3261 §18.3): `append` what arrives, then call `next`
/// until it returns nil (more bytes needed). Every message must carry Content-Length on a stream. Keep-alives of
/// RFC 5626 §4.4.1 come out as frames of their own: a double CRLF is a ping (answer it with a single CRLF), a single
/// CRLF between messages a pong.
///
/// After an error the stream cannot be resynchronised: answer the 400/513 if it was a request, then close.
public struct SIPStreamParser {
    public enum Frame: Sendable, Equatable {
        case message(SIPMessage)
        /// CRLFCRLF: the peer asks for a pong.
        case ping
        /// A lone CRLF: the answer to our ping.
        case pong
    }

    private enum State {
        case head
        case body(SIPHead, length: Int)
        case failed
    }

    private var buffer = ByteBuffer()
    private var state = State.head

    public init() {}

    /// Bytes waiting to be framed.
    public var bufferedBytes: Int { buffer.readableBytes }

    public mutating func append(_ bytes: ByteBuffer) {
        var bytes = bytes
        buffer.writeBuffer(&bytes)
    }

    public mutating func next() throws(SIPMessageError) -> Frame? {
        switch state {
        case .failed:
            throw .badRequest("the stream failed earlier and cannot be resynchronised")
        case .head:
            if let keepAlive = keepAlive() { return keepAlive }
            guard let end = SIPHeadParser.headEnd(in: buffer) else {
                guard buffer.readableBytes <= SIPMessageLimits.maximumHeadLength else {
                    state = .failed
                    throw .messageTooLarge("the head exceeds \(SIPMessageLimits.maximumHeadLength) bytes")
                }
                return nil
            }
            let head: SIPHead
            do {
                head = try SIPHeadParser.parse(buffer.readSlice(length: end.headLength)!)
            } catch {
                state = .failed
                throw error
            }
            buffer.moveReaderIndex(forwardBy: end.separatorLength)
            guard let length = head.contentLength else {
                state = .failed
                throw .badRequest("Content-Length is mandatory on a stream transport (RFC 3261 §18.3)")
            }
            guard length <= SIPMessageLimits.maximumBodyLength else {
                state = .failed
                throw .messageTooLarge("a body of \(length) bytes")
            }
            state = .body(head, length: length)
            return try next()
        case .body(var head, let length):
            guard buffer.readableBytes >= length else { return nil }
            head.body = buffer.readSlice(length: length)!
            state = .head
            buffer.discardReadBytes()
            do {
                return .message(try head.message())
            } catch {
                state = .failed
                throw error
            }
        }
    }

    /// CRLFs before a message: a ping (two pairs), a pong (one pair followed by something else), or nil.
    private mutating func keepAlive() -> Frame? {
        guard buffer.readableBytes >= 2, buffer.getInteger(at: buffer.readerIndex, as: UInt16.self) == 0x0D0A else { return nil }
        if buffer.readableBytes >= 4, buffer.getInteger(at: buffer.readerIndex + 2, as: UInt16.self) == 0x0D0A {
            buffer.moveReaderIndex(forwardBy: 4)
            return .ping
        }
        // A lone CRLF: a pong, once the next byte shows that no second pair follows.
        guard buffer.readableBytes >= 3, buffer.getInteger(at: buffer.readerIndex + 2, as: UInt8.self) != 0x0D || buffer.readableBytes >= 4 else {
            return nil
        }
        buffer.moveReaderIndex(forwardBy: 2)
        return .pong
    }
}
