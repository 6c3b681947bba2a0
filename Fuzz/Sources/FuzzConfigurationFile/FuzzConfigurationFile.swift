import AnswerNinjaCore
import FuzzSupport

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

/// The entry point SwiftPM links as `main` (see FuzzSupport).
@_cdecl("FuzzConfigurationFile_main")
public func fuzzConfigurationFileMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv) { data, size in
        guard let data else { return 0 }
        return fuzzConfigurationFile(data, size)
    }
}
