import COpus

/// Facts about the linked libopus, for `answer-ninja selftest`.
public enum OpusLibrary {
    /// `opus_get_version_string()`, e.g. "libopus 1.3.1".
    public static var version: String { String(cString: opus_get_version_string()) }
}
