import CSRTP

extension SRTPLibrary {
    /// `srtp_init()`, once per process (libsrtp's global state: crypto kernel, debug modules); thread-safe.
    static func initializeOnce() throws(SRTPError) {
        let status = initialization
        guard status == srtp_err_status_ok else {
            throw SRTPError(code: .library, message: "srtp_init failed with status \(status.rawValue)")
        }
    }

    private static let initialization: srtp_err_status_t = srtp_init()
}
