import CEspeakNG
import CPocketSphinx

#if canImport(Glibc)
import Glibc
#endif

/// Facts about the linked speech engines, for `answer-ninja selftest`.
public enum SpeechLibraries {
    /// Debian's `pocketsphinx-en-us` acoustic model (16 kHz wideband).
    public static let defaultAcousticModel = "/usr/share/pocketsphinx/model/en-us/en-us"

    /// espeak-ng's version (`espeak_Info`, which needs no initialisation).
    public static var espeakVersion: String {
        guard let version = espeak_Info(nil) else { return "unknown" }
        return String(cString: version)
    }

    /// The number of pocketsphinx arguments (`ps_args()`), proving libpocketsphinx links, and whether the default
    /// acoustic model is installed.
    public static func pocketsphinxProbe() -> (arguments: Int, modelInstalled: Bool) {
        var count = 0
        if var definition = ps_args() {
            while definition.pointee.name != nil {
                count += 1
                definition += 1
            }
        }
        return (count, access(defaultAcousticModel + "/mdef", F_OK) == 0)
    }
}
