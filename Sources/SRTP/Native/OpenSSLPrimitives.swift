import COpenSSL

/// One owner of an OpenSSL cipher context keyed once (CONVENTIONS.md §12): AES-128 or AES-256 in CTR mode (SRTP
/// AES-CM, and the key derivation PRF) or GCM. Per packet only the IV changes, so nothing is allocated.
final class AESContext {
    enum Mode { case ctr, gcm }

    let mode: Mode
    private let context: OpaquePointer

    /// Keys the context with the first `count` (16 or 32) bytes of `key`.
    init(key: [UInt8], count: Int, mode: Mode, encrypt: Bool) throws(SRTPError) {
        guard count == 16 || count == 32, key.count >= count, let context = EVP_CIPHER_CTX_new() else {
            throw SRTPError(code: .badParameters, message: "AES takes a 16- or 32-byte key, got \(count)")
        }
        self.context = context
        self.mode = mode
        let cipher = switch (mode, count) {
        case (.ctr, 16): EVP_aes_128_ctr()
        case (.ctr, _): EVP_aes_256_ctr()
        case (.gcm, 16): EVP_aes_128_gcm()
        case (.gcm, _): EVP_aes_256_gcm()
        }
        let status = key.withUnsafeBufferPointer { bytes in
            encrypt ? EVP_EncryptInit_ex(context, cipher, nil, bytes.baseAddress!, nil) : EVP_DecryptInit_ex(context, cipher, nil, bytes.baseAddress!, nil)
        }
        guard status == 1 else {
            EVP_CIPHER_CTX_free(context)
            throw SRTPError(code: .library, message: "OpenSSL could not key AES-\(count * 8)-\(mode == .ctr ? "CTR" : "GCM")")
        }
    }

    deinit { EVP_CIPHER_CTX_free(context) }

    /// XORs `count` bytes at `data` with the CTR keystream from the 16-byte `iv`, in place.
    func ctr(iv: UnsafePointer<UInt8>, data: UnsafeMutablePointer<UInt8>, count: Int) {
        var written: Int32 = 0
        EVP_EncryptInit_ex(context, nil, nil, nil, iv)
        if count > 0 { EVP_EncryptUpdate(context, data, &written, data, Int32(count)) }
    }

    /// GCM seal in place: encrypts `count` bytes at `data` with `aad` authenticated, writes the 16-byte tag at `tag`.
    func seal(iv: UnsafePointer<UInt8>, aad: UnsafeRawBufferPointer, data: UnsafeMutablePointer<UInt8>, count: Int, tag: UnsafeMutablePointer<UInt8>) -> Bool {
        var written: Int32 = 0
        guard EVP_EncryptInit_ex(context, nil, nil, nil, iv) == 1,
            EVP_EncryptUpdate(context, nil, &written, aad.baseAddress!.assumingMemoryBound(to: UInt8.self), Int32(aad.count)) == 1
        else { return false }
        if count > 0 { guard EVP_EncryptUpdate(context, data, &written, data, Int32(count)) == 1 else { return false } }
        guard EVP_EncryptFinal_ex(context, data + count, &written) == 1 else { return false }
        return cshim_gcm_get_tag(context, 16, tag) == 1
    }

    /// GCM open in place: checks the tag and decrypts; false when authentication fails.
    func open(iv: UnsafePointer<UInt8>, aad: UnsafeRawBufferPointer, data: UnsafeMutablePointer<UInt8>, count: Int, tag: UnsafeMutablePointer<UInt8>) -> Bool {
        var written: Int32 = 0
        guard EVP_DecryptInit_ex(context, nil, nil, nil, iv) == 1,
            EVP_DecryptUpdate(context, nil, &written, aad.baseAddress!.assumingMemoryBound(to: UInt8.self), Int32(aad.count)) == 1
        else { return false }
        if count > 0 { guard EVP_DecryptUpdate(context, data, &written, data, Int32(count)) == 1 else { return false } }
        guard cshim_gcm_set_tag(context, 16, tag) == 1 else { return false }
        return EVP_DecryptFinal_ex(context, data + count, &written) == 1
    }
}

/// HMAC-SHA1 with the keyed inner and outer states computed once (RFC 2104): per packet, two SHA-1 states are
/// copied (plain structs, no allocation) and finished.
struct HMACSHA1 {
    private var inner = SHA_CTX()
    private var outer = SHA_CTX()

    init(key: UnsafeRawBufferPointer) {
        var block = [UInt8](repeating: 0, count: 64)
        for (index, byte) in key.prefix(64).enumerated() { block[index] = byte }
        var ipad = block.map { $0 ^ 0x36 }
        var opad = block.map { $0 ^ 0x5C }
        cshim_sha1_init(&inner)
        cshim_sha1_update(&inner, &ipad, 64)
        cshim_sha1_init(&outer)
        cshim_sha1_update(&outer, &opad, 64)
        for index in block.indices { block[index] = 0; ipad[index] = 0; opad[index] = 0 }
    }

    /// The 20-byte tag of `parts` concatenated, written at `output`.
    func tag(_ first: UnsafeRawBufferPointer, _ second: UnsafeRawBufferPointer, into output: UnsafeMutablePointer<UInt8>) {
        var context = inner
        cshim_sha1_update(&context, first.baseAddress, first.count)
        if second.count > 0 { cshim_sha1_update(&context, second.baseAddress, second.count) }
        cshim_sha1_final(output, &context)
        var finish = outer
        cshim_sha1_update(&finish, output, 20)
        cshim_sha1_final(output, &finish)
    }
}
