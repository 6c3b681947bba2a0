import COpenSSL
import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// SRTP and SRTCP (RFC 3711, RFC 7714) on OpenSSL's AES-NI and SHA-1, with the per-packet work free of
/// allocation: the same suites and wire format as `SRTPSession` (libsrtp), which it interoperates with and which,
/// with it, is checked byte for byte against the independent reference. Written because Debian's libsrtp2 is
/// built on NSS, which costs about 50 µs and a dozen allocations per packet (docs/benchmarks.md).
///
/// One direction of one call leg; per SSRC it keeps the rollover counter, the highest sequence number and the
/// replay window (RFC 3711 §3.3.1, appendix A). Not Sendable: it lives on its call's event loop.
public final class NativeSRTPSession {
    public let suite: SRTPCryptoSuite
    public let direction: SRTPSession.Direction

    private struct Keys {
        let cipher: AESContext
        let salt: [UInt8]
        let authentication: HMACSHA1?
    }

    private struct Stream {
        var rolloverCounter: UInt32 = 0
        var highestSequence: UInt16 = 0
        var started = false
        var window = ReplayWindow()
        var rtcpIndex: UInt32 = 0
        var rtcpWindow = ReplayWindow()
    }

    private let rtp: Keys
    private let rtcp: Keys
    private var streams: [UInt32: Stream] = [:]
    /// Scratch for IVs and tags (no per-packet allocation).
    private var iv = [UInt8](repeating: 0, count: 16)
    private var tag = [UInt8](repeating: 0, count: 20)
    private var word = [UInt8](repeating: 0, count: 4)
    /// SRTCP GCM associated data: the first 8 octets ‖ E‖index.
    private var aad = [UInt8](repeating: 0, count: 12)

    public init(suite: SRTPCryptoSuite, material: SRTPKeyMaterial, direction: SRTPSession.Direction) throws(SRTPError) {
        guard material.count == suite.keyMaterialLength else {
            throw SRTPError(code: .badParameters, message: "\(suite.rawValue) takes \(suite.keyMaterialLength) bytes of key and salt, got \(material.count)")
        }
        self.suite = suite
        self.direction = direction
        let gcm = suite.isAEAD
        var master = material.withUnsafeBytes { Array($0) }
        defer { explicit_bzero(&master, master.count) }
        let keyLength = suite.masterKeyLength
        // The PRF is AES-CM with the master key: AES-128, or AES-256 for AEAD_AES_256_GCM (RFC 6188 §7).
        let prf = try AESContext(key: master, count: keyLength, mode: .ctr, encrypt: true)
        let masterSalt = Array(master[keyLength...])
        func derive(_ label: UInt8, _ length: Int) -> [UInt8] {
            // RFC 3711 §4.3.1 (key derivation rate 0): x = (label·2^48) XOR master salt, IV = x·2^16; a 96-bit
            // AEAD salt is aligned on the left like the 112-bit one (RFC 7714 §11).
            var x = masterSalt + [UInt8](repeating: 0, count: 14 - masterSalt.count)
            x[7] ^= label
            var output = [UInt8](repeating: 0, count: length)
            let iv = x + [0, 0]
            iv.withUnsafeBufferPointer { ivBytes in
                output.withUnsafeMutableBufferPointer { prf.ctr(iv: ivBytes.baseAddress!, data: $0.baseAddress!, count: length) }
            }
            return output
        }
        let saltLength = suite.masterSaltLength
        var derived = [derive(0, keyLength), derive(1, 20), derive(2, saltLength), derive(3, keyLength), derive(4, 20), derive(5, saltLength)]
        defer {
            for index in derived.indices { explicit_bzero(&derived[index], derived[index].count) }
        }
        func keys(_ cipher: [UInt8], _ auth: [UInt8], _ salt: [UInt8]) throws(SRTPError) -> Keys {
            let context = try AESContext(key: cipher, count: keyLength, mode: gcm ? .gcm : .ctr, encrypt: direction == .outbound || !gcm)
            return Keys(cipher: context, salt: salt, authentication: gcm ? nil : auth.withUnsafeBytes { HMACSHA1(key: $0) })
        }
        rtp = try keys(derived[0], derived[1], derived[2])
        rtcp = try keys(derived[3], derived[4], derived[5])
    }

    // MARK: SRTP

    public func protect(_ buffer: inout ByteBuffer) throws(SRTPError) {
        let (headerLength, sequence, ssrc) = try Self.rtpHeader(buffer)
        var stream = streams[ssrc] ?? Stream()
        if stream.started, sequence < stream.highestSequence, stream.highestSequence &- sequence > 0x8000 {
            stream.rolloverCounter &+= 1
        }
        if !stream.started || Int16(bitPattern: sequence &- stream.highestSequence) > 0 { stream.highestSequence = sequence }
        stream.started = true
        let roc = stream.rolloverCounter
        streams[ssrc] = stream
        let payloadLength = buffer.readableBytes - headerLength
        buffer.reserveCapacity(minimumWritableBytes: 20)
        let start = buffer.readerIndex
        let overhead = suite.rtpOverhead
        let ok = buffer.withVeryUnsafeMutableBytes { storage -> Bool in
            let packet = storage.baseAddress!.advanced(by: start).assumingMemoryBound(to: UInt8.self)
            if suite.isAEAD {
                makeGCMIV(salt: rtp.salt, ssrc: ssrc, high: roc, low: UInt32(sequence), rtcp: false)
                return iv.withUnsafeBufferPointer { ivBytes in
                    rtp.cipher.seal(iv: ivBytes.baseAddress!, aad: UnsafeRawBufferPointer(start: packet, count: headerLength), data: packet + headerLength, count: payloadLength, tag: packet + headerLength + payloadLength)
                }
            }
            makeCMIV(salt: rtp.salt, ssrc: ssrc, index: UInt64(roc) << 16 | UInt64(sequence))
            iv.withUnsafeBufferPointer { rtp.cipher.ctr(iv: $0.baseAddress!, data: packet + headerLength, count: payloadLength) }
            authenticateRTP(packet: packet, count: headerLength + payloadLength, roc: roc)
            (packet + headerLength + payloadLength).update(from: tag, count: overhead)
            return true
        }
        guard ok else { throw SRTPError(code: .library, message: "AES-GCM seal failed") }
        buffer.moveWriterIndex(to: start + headerLength + payloadLength + overhead)
    }

    public func unprotect(_ buffer: inout ByteBuffer) throws(SRTPError) {
        let (headerLength, sequence, ssrc) = try Self.rtpHeader(buffer)
        let overhead = suite.rtpOverhead
        let payloadLength = buffer.readableBytes - headerLength - overhead
        guard payloadLength >= 0 else { throw SRTPError(code: .authenticationFailed, message: "srtp_unprotect: packet shorter than its tag") }
        var stream = streams[ssrc] ?? Stream()
        // RFC 3711 appendix A: guess the rollover counter from the highest sequence number seen.
        var guess = stream.rolloverCounter
        if stream.started {
            if stream.highestSequence < 0x8000 {
                if Int(sequence) - Int(stream.highestSequence) > 0x8000, guess > 0 { guess -= 1 }
            } else if Int(stream.highestSequence) - 0x8000 > Int(sequence) {
                guess &+= 1
            }
        }
        let index = UInt64(guess) << 16 | UInt64(sequence)
        switch stream.window.check(index) {
        case .replayed: throw SRTPError(code: .replay, message: "srtp_unprotect: replayed or too old (seen before)")
        case .tooOld: throw SRTPError(code: .replay, message: "srtp_unprotect: replayed or too old (older than the window)")
        case .new: break
        }
        let start = buffer.readerIndex
        let ok = buffer.withVeryUnsafeMutableBytes { storage -> Bool in
            let packet = storage.baseAddress!.advanced(by: start).assumingMemoryBound(to: UInt8.self)
            if suite.isAEAD {
                makeGCMIV(salt: rtp.salt, ssrc: ssrc, high: guess, low: UInt32(sequence), rtcp: false)
                return iv.withUnsafeBufferPointer { ivBytes in
                    rtp.cipher.open(iv: ivBytes.baseAddress!, aad: UnsafeRawBufferPointer(start: packet, count: headerLength), data: packet + headerLength, count: payloadLength, tag: packet + headerLength + payloadLength)
                }
            }
            authenticateRTP(packet: packet, count: headerLength + payloadLength, roc: guess)
            guard tag.withUnsafeBufferPointer({ CRYPTO_memcmp($0.baseAddress!, packet + headerLength + payloadLength, overhead) }) == 0 else { return false }
            makeCMIV(salt: rtp.salt, ssrc: ssrc, index: index)
            iv.withUnsafeBufferPointer { rtp.cipher.ctr(iv: $0.baseAddress!, data: packet + headerLength, count: payloadLength) }
            return true
        }
        guard ok else { throw SRTPError(code: .authenticationFailed, message: "srtp_unprotect: authentication failed") }
        stream.window.accept(index)
        if !stream.started || index > (UInt64(stream.rolloverCounter) << 16 | UInt64(stream.highestSequence)) {
            stream.rolloverCounter = guess
            stream.highestSequence = sequence
        }
        stream.started = true
        streams[ssrc] = stream
        buffer.moveWriterIndex(to: start + headerLength + payloadLength)
    }

    /// The rollover counter held for `ssrc`.
    public func rolloverCounter(ssrc: UInt32) -> UInt32? {
        streams[ssrc]?.rolloverCounter
    }

    // MARK: SRTCP

    public func protectRTCP(_ buffer: inout ByteBuffer) throws(SRTPError) {
        guard buffer.readableBytes >= 8, let ssrc = buffer.getInteger(at: buffer.readerIndex + 4, as: UInt32.self) else {
            throw SRTPError(code: .badParameters, message: "srtp_protect_rtcp: an RTCP packet has at least 8 bytes")
        }
        var stream = streams[ssrc] ?? Stream()
        stream.rtcpIndex = (stream.rtcpIndex &+ 1) & 0x7FFF_FFFF
        let index = stream.rtcpIndex
        streams[ssrc] = stream
        let bodyLength = buffer.readableBytes - 8
        buffer.reserveCapacity(minimumWritableBytes: 40)
        let start = buffer.readerIndex
        let eIndex = 0x8000_0000 | index
        word[0] = UInt8(eIndex >> 24); word[1] = UInt8(truncatingIfNeeded: eIndex >> 16); word[2] = UInt8(truncatingIfNeeded: eIndex >> 8); word[3] = UInt8(truncatingIfNeeded: eIndex)
        let ok = buffer.withVeryUnsafeMutableBytes { storage -> Bool in
            let packet = storage.baseAddress!.advanced(by: start).assumingMemoryBound(to: UInt8.self)
            if suite.isAEAD {
                makeGCMIV(salt: rtcp.salt, ssrc: ssrc, high: 0, low: index, rtcp: true)
                // AAD: the first 8 octets and E‖index (RFC 7714 §17); the E‖index word follows the tag.
                for position in 0..<8 { aad[position] = packet[position] }
                for position in 0..<4 { aad[8 + position] = word[position] }
                (packet + 8 + bodyLength + 16).update(from: word, count: 4)
                return aad.withUnsafeBytes { associated in
                    iv.withUnsafeBufferPointer { rtcp.cipher.seal(iv: $0.baseAddress!, aad: associated, data: packet + 8, count: bodyLength, tag: packet + 8 + bodyLength) }
                }
            }
            makeCMIV(salt: rtcp.salt, ssrc: ssrc, index: UInt64(index))
            iv.withUnsafeBufferPointer { rtcp.cipher.ctr(iv: $0.baseAddress!, data: packet + 8, count: bodyLength) }
            (packet + 8 + bodyLength).update(from: word, count: 4)
            tag.withUnsafeMutableBufferPointer { output in
                rtcp.authentication!.tag(UnsafeRawBufferPointer(start: packet, count: 12 + bodyLength), UnsafeRawBufferPointer(start: nil, count: 0), into: output.baseAddress!)
            }
            (packet + 12 + bodyLength).update(from: tag, count: 10)
            return true
        }
        guard ok else { throw SRTPError(code: .library, message: "AES-GCM seal failed") }
        buffer.moveWriterIndex(to: start + 8 + bodyLength + suite.rtcpOverhead)
    }

    public func unprotectRTCP(_ buffer: inout ByteBuffer) throws(SRTPError) {
        let overhead = suite.rtcpOverhead
        guard buffer.readableBytes >= 8 + overhead, let ssrc = buffer.getInteger(at: buffer.readerIndex + 4, as: UInt32.self) else {
            throw SRTPError(code: .authenticationFailed, message: "srtp_unprotect_rtcp: packet shorter than its trailer")
        }
        let bodyLength = buffer.readableBytes - 8 - overhead
        let gcm = suite.isAEAD
        let wordOffset = buffer.readerIndex + (gcm ? buffer.readableBytes - 4 : 8 + bodyLength)
        let eIndex = buffer.getInteger(at: wordOffset, as: UInt32.self)!
        let index = eIndex & 0x7FFF_FFFF
        var stream = streams[ssrc] ?? Stream()
        guard stream.rtcpWindow.check(UInt64(index)) == .new else {
            throw SRTPError(code: .replay, message: "srtp_unprotect_rtcp: replayed or too old")
        }
        let start = buffer.readerIndex
        let ok = buffer.withVeryUnsafeMutableBytes { storage -> Bool in
            let packet = storage.baseAddress!.advanced(by: start).assumingMemoryBound(to: UInt8.self)
            if gcm {
                makeGCMIV(salt: rtcp.salt, ssrc: ssrc, high: 0, low: index, rtcp: true)
                for position in 0..<8 { aad[position] = packet[position] }
                for position in 0..<4 { aad[8 + position] = packet[8 + bodyLength + 16 + position] }
                return aad.withUnsafeBytes { associated in
                    iv.withUnsafeBufferPointer { rtcp.cipher.open(iv: $0.baseAddress!, aad: associated, data: packet + 8, count: bodyLength, tag: packet + 8 + bodyLength) }
                }
            }
            tag.withUnsafeMutableBufferPointer { expected in
                rtcp.authentication!.tag(UnsafeRawBufferPointer(start: packet, count: 12 + bodyLength), UnsafeRawBufferPointer(start: nil, count: 0), into: expected.baseAddress!)
            }
            guard tag.withUnsafeBufferPointer({ CRYPTO_memcmp($0.baseAddress!, packet + 12 + bodyLength, 10) }) == 0 else { return false }
            if eIndex & 0x8000_0000 != 0 {
                makeCMIV(salt: rtcp.salt, ssrc: ssrc, index: UInt64(index))
                iv.withUnsafeBufferPointer { rtcp.cipher.ctr(iv: $0.baseAddress!, data: packet + 8, count: bodyLength) }
            }
            return true
        }
        guard ok else { throw SRTPError(code: .authenticationFailed, message: "srtp_unprotect_rtcp: authentication failed") }
        stream.rtcpWindow.accept(UInt64(index))
        streams[ssrc] = stream
        buffer.moveWriterIndex(to: start + 8 + bodyLength)
    }

    // MARK: Private

    /// The RTP header's length (fixed part, CSRCs, extension), sequence number and SSRC.
    private static func rtpHeader(_ buffer: ByteBuffer) throws(SRTPError) -> (Int, UInt16, UInt32) {
        guard let first = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self), buffer.readableBytes >= 12,
            let sequence = buffer.getInteger(at: buffer.readerIndex + 2, as: UInt16.self),
            let ssrc = buffer.getInteger(at: buffer.readerIndex + 8, as: UInt32.self)
        else { throw SRTPError(code: .badParameters, message: "an RTP packet has at least 12 bytes") }
        var length = 12 + Int(first & 0x0F) * 4
        if first & 0x10 != 0 {
            guard let words = buffer.getInteger(at: buffer.readerIndex + length + 2, as: UInt16.self) else {
                throw SRTPError(code: .badParameters, message: "RTP header extension cut short")
            }
            length += 4 + Int(words) * 4
        }
        guard length <= buffer.readableBytes else { throw SRTPError(code: .badParameters, message: "RTP header longer than the packet") }
        return (length, sequence, ssrc)
    }

    /// AES-CM IV (RFC 3711 §4.1.1): (salt·2^16) XOR (SSRC·2^64) XOR (index·2^16).
    private func makeCMIV(salt: [UInt8], ssrc: UInt32, index: UInt64) {
        for position in 0..<14 { iv[position] = salt[position] }
        iv[14] = 0
        iv[15] = 0
        iv[4] ^= UInt8(ssrc >> 24); iv[5] ^= UInt8(truncatingIfNeeded: ssrc >> 16); iv[6] ^= UInt8(truncatingIfNeeded: ssrc >> 8); iv[7] ^= UInt8(truncatingIfNeeded: ssrc)
        for byte in 0..<6 { iv[8 + byte] ^= UInt8(truncatingIfNeeded: index >> (40 - 8 * UInt64(byte))) }
    }

    /// GCM IV (RFC 7714 §8.1, §9.1): 0x0000 ‖ SSRC ‖ ROC ‖ SEQ for SRTP, 0x0000 ‖ SSRC ‖ 0x0000 ‖ index for SRTCP,
    /// XOR the 12-byte salt.
    private func makeGCMIV(salt: [UInt8], ssrc: UInt32, high: UInt32, low: UInt32, rtcp: Bool) {
        iv[0] = 0; iv[1] = 0
        iv[2] = UInt8(ssrc >> 24); iv[3] = UInt8(truncatingIfNeeded: ssrc >> 16); iv[4] = UInt8(truncatingIfNeeded: ssrc >> 8); iv[5] = UInt8(truncatingIfNeeded: ssrc)
        if rtcp {
            iv[6] = 0; iv[7] = 0
            iv[8] = UInt8(low >> 24); iv[9] = UInt8(truncatingIfNeeded: low >> 16); iv[10] = UInt8(truncatingIfNeeded: low >> 8); iv[11] = UInt8(truncatingIfNeeded: low)
        } else {
            iv[6] = UInt8(high >> 24); iv[7] = UInt8(truncatingIfNeeded: high >> 16); iv[8] = UInt8(truncatingIfNeeded: high >> 8); iv[9] = UInt8(truncatingIfNeeded: high)
            iv[10] = UInt8(truncatingIfNeeded: low >> 8); iv[11] = UInt8(truncatingIfNeeded: low)
        }
        for position in 0..<12 { iv[position] ^= salt[position] }
    }

    /// HMAC-SHA1(auth key, packet ‖ ROC) into the `tag` scratch (20 bytes).
    private func authenticateRTP(packet: UnsafeMutablePointer<UInt8>, count: Int, roc: UInt32) {
        word[0] = UInt8(roc >> 24); word[1] = UInt8(truncatingIfNeeded: roc >> 16); word[2] = UInt8(truncatingIfNeeded: roc >> 8); word[3] = UInt8(truncatingIfNeeded: roc)
        let authentication = rtp.authentication!
        let roc = word
        tag.withUnsafeMutableBufferPointer { full in
            roc.withUnsafeBytes { authentication.tag(UnsafeRawBufferPointer(start: packet, count: count), $0, into: full.baseAddress!) }
        }
    }
}
