#if canImport(Glibc)
import Glibc
#endif

/// A master key and salt (key‖salt), in memory of its own that is zeroed (`explicit_bzero`) when released.
/// Its description never shows the bytes.
public final class SRTPKeyMaterial: @unchecked Sendable, CustomStringConvertible {
    // Written once in init, read-only afterwards; freed and zeroed in deinit.
    private let storage: UnsafeMutableRawBufferPointer

    public init(bytes: some Collection<UInt8>) {
        storage = UnsafeMutableRawBufferPointer.allocate(byteCount: max(1, bytes.count), alignment: 16)
        storage.initializeMemory(as: UInt8.self, repeating: 0)
        _ = UnsafeMutableRawBufferPointer(rebasing: storage[0..<bytes.count]).initializeMemory(as: UInt8.self, from: bytes)
        count = bytes.count
    }

    /// Fresh random material for `suite` (one per direction: an answer never echoes the offer's key).
    public static func random(for suite: SRTPCryptoSuite) -> SRTPKeyMaterial {
        var generator = SystemRandomNumberGenerator()
        return SRTPKeyMaterial(bytes: (0..<suite.keyMaterialLength).map { _ in UInt8.random(in: 0...255, using: &generator) })
    }

    public let count: Int

    deinit {
        explicit_bzero(storage.baseAddress!, storage.count)
        storage.deallocate()
    }

    /// Lends the bytes to `body` (libsrtp copies what it needs in `srtp_create`).
    func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(rebasing: storage[0..<count]))
    }

    /// Whether two materials hold the same bytes (constant time in the length).
    public func isEqual(to other: SRTPKeyMaterial) -> Bool {
        guard count == other.count else { return false }
        var difference: UInt8 = 0
        for index in 0..<count { difference |= storage[index] ^ other.storage[index] }
        return difference == 0
    }

    /// Base64 of key‖salt, for SDES `inline:`.
    public var base64: String { withUnsafeBytes { Base64.encode($0) } }

    public var description: String { "SRTPKeyMaterial(\(count) bytes)" }
}
