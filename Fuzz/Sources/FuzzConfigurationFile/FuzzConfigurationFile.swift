import AnswerNinjaCore

/// Any bytes as the JSON configuration file: loading either succeeds or throws `CoreError` with a message; it
/// never crashes, and a loaded configuration re-validates to the same value.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzConfigurationFile(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let loader = ConfigurationLoader(environment: [:], file: ("fuzz.json", bytes))
    do {
        let first = try loader.load()
        let second = try loader.load()
        precondition(second == first, "loading is not deterministic")
    } catch {
        precondition(!error.message.isEmpty, "a configuration error without a message")
    }
    return 0
}

/// SwiftPM links executables with `main` aliased to `FuzzConfigurationFile_main`, which `-parse-as-library` never emits; this
/// entry point hands control to libFuzzer's driver with the target above.
@_cdecl("FuzzConfigurationFile_main")
public func fuzzConfigurationFileMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv) { data, size in
        guard let data else { return 0 }
        return fuzzConfigurationFile(data, size)
    }
}

@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt
