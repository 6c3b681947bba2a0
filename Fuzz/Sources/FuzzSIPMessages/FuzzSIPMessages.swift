import FuzzSupport
import NIOCore
import SIPMessages

/// Any bytes as a SIP datagram and as a SIP stream: parsing either throws `SIPMessageError` or yields a message
/// whose serialisation is a fixed point (serialise, parse, serialise gives the same bytes). The stream parser gets
/// the bytes in two pieces and must never crash or loop. A crash or a difference is a bug.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSIPMessages(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let buffer = ByteBuffer(bytes: UnsafeBufferPointer(start: data, count: size))
    if let message = try? SIPMessage(parsing: buffer) {
        var first = ByteBuffer()
        first.writeSIPMessage(message)
        guard let again = try? SIPMessage(parsing: first) else {
            fatalError("the serialisation of a parsed message does not parse: \(String(buffer: first).debugDescription)")
        }
        var second = ByteBuffer()
        second.writeSIPMessage(again)
        guard first == second else { fatalError("serialisation is not a fixed point for \(String(buffer: buffer).debugDescription)") }
        if let contentType = message.headers.first("Content-Type"), let boundary = SIPMultipartBody.boundary(ofContentType: contentType) {
            _ = try? SIPMultipartBody(parsing: message.body, boundary: boundary)
        }
    }
    var parser = SIPStreamParser()
    let split = size / 2
    parser.append(buffer.getSlice(at: 0, length: split)!)
    var frames = 0
    while (try? parser.next()) != nil {
        frames += 1
        precondition(frames <= size + 1, "the stream parser produced more frames than there are bytes")
    }
    parser.append(buffer.getSlice(at: split, length: size - split)!)
    while (try? parser.next()) != nil {
        frames += 1
        precondition(frames <= size + 1, "the stream parser produced more frames than there are bytes")
    }
    return 0
}

/// The entry point SwiftPM links as `main` (see FuzzSupport).
@_cdecl("FuzzSIPMessages_main")
public func fuzzSIPMessagesMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv) { data, size in
        guard let data else { return 0 }
        return fuzzSIPMessages(data, size)
    }
}
