import AnswerNinjaCore
import FuzzSupport

/// Any bytes as a frame of each internal protocol: decoding either fails with `CoreError` or yields a frame that
/// survives an encode/decode round trip unchanged. A crash or a round-trip difference is a bug.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzProtocolFrames(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    check(MediaControlMessage.self, text)
    check(ConversationMessage.self, text)
    check(LiveEvent.self, text)
    return 0
}

private func check<Message: ProtocolMessage>(_ type: Message.Type, _ text: String) {
    guard let frame = try? ProtocolCodec.decode(type, from: text) else { return }
    guard let again = try? ProtocolCodec.decode(type, from: ProtocolCodec.encode(frame)), again == frame else {
        fatalError("\(Message.protocolName): round trip changed the frame decoded from \(text.debugDescription)")
    }
}

/// The entry point SwiftPM links as `main` (see FuzzSupport).
@_cdecl("FuzzProtocolFrames_main")
public func fuzzProtocolFramesMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv) { data, size in
        guard let data else { return 0 }
        return fuzzProtocolFrames(data, size)
    }
}
