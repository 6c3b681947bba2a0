import CSRTP
import NIOCore

/// One direction of SRTP/SRTCP for one call leg: the one owner of a libsrtp `srtp_t` (CONVENTIONS.md §12),
/// created in a throwing init and freed in deinit. Not Sendable: it lives on its call's event loop.
///
/// Protection works in place on a `ByteBuffer` holding one packet; the buffer needs `SRTPSession.trailerRoom`
/// writable bytes after the packet (reserve them once: then protecting never allocates).
public final class SRTPSession {
    public enum Direction: Sendable { case inbound, outbound }

    /// libsrtp writes at most this many bytes after a packet (tag, MKI, SRTCP index).
    public static let trailerRoom = Int(SRTP_MAX_TRAILER_LEN) + 4
    /// Packets remembered for replay protection (RFC 3711 §3.3.2 asks for at least 64; we keep more for
    /// reordering on the Internet).
    public static let replayWindow = 1024

    public let suite: SRTPCryptoSuite
    public let direction: Direction
    private let session: srtp_t

    /// - Parameters:
    ///   - material: key‖salt of `suite.keyMaterialLength` bytes; libsrtp derives the session keys from it.
    public init(suite: SRTPCryptoSuite, material: SRTPKeyMaterial, direction: Direction) throws(SRTPError) {
        guard material.count == suite.keyMaterialLength else {
            throw SRTPError(code: .badParameters, message: "\(suite.rawValue) takes \(suite.keyMaterialLength) bytes of key and salt, got \(material.count)")
        }
        try SRTPLibrary.initializeOnce()
        var policy = srtp_policy_t()
        suite.configure(rtp: &policy.rtp, rtcp: &policy.rtcp)
        policy.ssrc.type = direction == .inbound ? ssrc_any_inbound : ssrc_any_outbound
        policy.window_size = UInt(Self.replayWindow)
        policy.allow_repeat_tx = 0
        var created: srtp_t?
        let status = material.withUnsafeBytes { bytes -> srtp_err_status_t in
            policy.key = UnsafeMutablePointer(mutating: bytes.baseAddress!.assumingMemoryBound(to: UInt8.self))
            defer { policy.key = nil }
            return srtp_create(&created, &policy)
        }
        guard status == srtp_err_status_ok, let created else {
            throw Self.error(status, "srtp_create for \(suite.rawValue)")
        }
        self.session = created
        self.suite = suite
        self.direction = direction
    }

    deinit {
        srtp_dealloc(session)  // frees libsrtp's copies of the session keys (zeroed by libsrtp)
    }

    /// Encrypts and authenticates the RTP packet in `buffer` (its readable bytes), appending the tag.
    public func protect(_ buffer: inout ByteBuffer) throws(SRTPError) {
        try transform(&buffer, growing: true, name: "srtp_protect") { srtp_protect(session, $0, $1) }
    }

    /// Authenticates, checks replay and decrypts the SRTP packet in `buffer`, removing the tag.
    public func unprotect(_ buffer: inout ByteBuffer) throws(SRTPError) {
        try transform(&buffer, growing: false, name: "srtp_unprotect") { srtp_unprotect(session, $0, $1) }
    }

    public func protectRTCP(_ buffer: inout ByteBuffer) throws(SRTPError) {
        try transform(&buffer, growing: true, name: "srtp_protect_rtcp") { srtp_protect_rtcp(session, $0, $1) }
    }

    public func unprotectRTCP(_ buffer: inout ByteBuffer) throws(SRTPError) {
        try transform(&buffer, growing: false, name: "srtp_unprotect_rtcp") { srtp_unprotect_rtcp(session, $0, $1) }
    }

    /// The rollover counter libsrtp holds for `ssrc` (RFC 3711 §3.3.1), if it knows the stream.
    public func rolloverCounter(ssrc: UInt32) -> UInt32? {
        var roc: UInt32 = 0
        return srtp_get_stream_roc(session, ssrc, &roc) == srtp_err_status_ok ? roc : nil
    }

    private func transform(
        _ buffer: inout ByteBuffer, growing: Bool, name: String,
        _ call: (UnsafeMutableRawPointer, UnsafeMutablePointer<Int32>) -> srtp_err_status_t
    ) throws(SRTPError) {
        if growing && buffer.writableBytes < Self.trailerRoom {
            buffer.reserveCapacity(minimumWritableBytes: Self.trailerRoom)
        }
        let start = buffer.readerIndex
        var length = Int32(buffer.readableBytes)
        let status = buffer.withVeryUnsafeMutableBytes { storage in
            call(storage.baseAddress! + start, &length)
        }
        guard status == srtp_err_status_ok else { throw Self.error(status, name) }
        buffer.moveWriterIndex(to: start + Int(length))
    }

    static func error(_ status: srtp_err_status_t, _ what: String) -> SRTPError {
        switch status {
        case srtp_err_status_auth_fail:
            SRTPError(code: .authenticationFailed, message: "\(what): authentication failed")
        case srtp_err_status_replay_fail, srtp_err_status_replay_old:
            SRTPError(code: .replay, message: "\(what): replayed or too old (\(status == srtp_err_status_replay_old ? "older than the window" : "seen before"))")
        case srtp_err_status_bad_param, srtp_err_status_bad_mki:
            SRTPError(code: .badParameters, message: "\(what): bad parameters (status \(status.rawValue))")
        default:
            SRTPError(code: .library, message: "\(what): libsrtp status \(status.rawValue)")
        }
    }
}
