import AnswerNinjaCore

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

/// SwiftPM links executables with `main` aliased to `FuzzProtocolFrames_main`, which `-parse-as-library` never emits; this
/// entry point hands control to libFuzzer's driver with the target above.
@_cdecl("FuzzProtocolFrames_main")
public func fuzzProtocolFramesMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv) { data, size in
        guard let data else { return 0 }
        return fuzzProtocolFrames(data, size)
    }
}

@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt
