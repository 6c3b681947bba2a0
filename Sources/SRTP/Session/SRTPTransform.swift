import NIOCore

/// One direction of SRTP/SRTCP for a call leg, whichever implementation carries it: `SRTPSession` (libsrtp2) or
/// `NativeSRTPSession` (OpenSSL). Both produce the same bytes (tested against each other and the reference).
public protocol SRTPTransform: AnyObject {
    var suite: SRTPCryptoSuite { get }
    func protect(_ buffer: inout ByteBuffer) throws(SRTPError)
    func unprotect(_ buffer: inout ByteBuffer) throws(SRTPError)
    func protectRTCP(_ buffer: inout ByteBuffer) throws(SRTPError)
    func unprotectRTCP(_ buffer: inout ByteBuffer) throws(SRTPError)
    func rolloverCounter(ssrc: UInt32) -> UInt32?
}

extension SRTPSession: SRTPTransform {}
extension NativeSRTPSession: SRTPTransform {}

/// Which implementation makes a transform.
public enum SRTPImplementation: String, Sendable, CaseIterable {
    case libsrtp
    case native

    public func make(suite: SRTPCryptoSuite, material: SRTPKeyMaterial, direction: SRTPSession.Direction) throws(SRTPError) -> any SRTPTransform {
        switch self {
        case .libsrtp: try SRTPSession(suite: suite, material: material, direction: direction)
        case .native: try NativeSRTPSession(suite: suite, material: material, direction: direction)
        }
    }
}
