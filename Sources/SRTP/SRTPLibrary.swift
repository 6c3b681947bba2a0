import CSRTP

/// Facts about the linked libsrtp2, for `answer-ninja selftest`.
public enum SRTPLibrary {
    /// `srtp_get_version_string()`, e.g. "libsrtp2 2.5.0".
    public static var version: String { String(cString: srtp_get_version_string()) }
}
