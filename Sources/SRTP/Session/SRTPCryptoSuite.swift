import CSRTP

/// The SRTP crypto suites we speak (RFC 4568 §6.2, RFC 7714 §14.1), by their SDES names.
public enum SRTPCryptoSuite: String, Sendable, CaseIterable {
    case aesCM128HMACSHA1_80 = "AES_CM_128_HMAC_SHA1_80"
    /// A 32-bit SRTP tag; SRTCP keeps the 80-bit tag (RFC 4568 §6.2).
    case aesCM128HMACSHA1_32 = "AES_CM_128_HMAC_SHA1_32"
    /// AES-128-GCM with a 16-byte tag; 28 bytes of key‖salt (RFC 7714).
    case aeadAES128GCM = "AEAD_AES_128_GCM"
    /// AES-256-GCM with a 16-byte tag; 44 bytes of key‖salt, session keys derived with the AES-256 PRF (RFC 7714
    /// §11, RFC 6188).
    case aeadAES256GCM = "AEAD_AES_256_GCM"

    /// An AEAD suite (RFC 7714): GCM, no HMAC, a 96-bit salt.
    public var isAEAD: Bool { self == .aeadAES128GCM || self == .aeadAES256GCM }
    public var masterKeyLength: Int { self == .aeadAES256GCM ? 32 : 16 }
    public var masterSaltLength: Int { isAEAD ? 12 : 14 }
    /// Key‖salt, as SDES `inline:` carries it.
    public var keyMaterialLength: Int { masterKeyLength + masterSaltLength }

    /// Bytes SRTP adds to an RTP packet (the authentication tag).
    public var rtpOverhead: Int {
        switch self {
        case .aesCM128HMACSHA1_80: 10
        case .aesCM128HMACSHA1_32: 4
        case .aeadAES128GCM, .aeadAES256GCM: 16
        }
    }

    /// Bytes SRTCP adds to an RTCP packet: the E‖index word and the tag (80 bits for both AES-CM suites).
    public var rtcpOverhead: Int { isAEAD ? 4 + 16 : 4 + 10 }

    func configure(rtp: inout srtp_crypto_policy_t, rtcp: inout srtp_crypto_policy_t) {
        switch self {
        case .aesCM128HMACSHA1_80:
            srtp_crypto_policy_set_rtp_default(&rtp)
            srtp_crypto_policy_set_rtcp_default(&rtcp)
        case .aesCM128HMACSHA1_32:
            srtp_crypto_policy_set_aes_cm_128_hmac_sha1_32(&rtp)
            srtp_crypto_policy_set_rtcp_default(&rtcp)  // RFC 4568 §6.2: SRTCP keeps the 80-bit tag
        case .aeadAES128GCM:
            srtp_crypto_policy_set_aes_gcm_128_16_auth(&rtp)
            srtp_crypto_policy_set_aes_gcm_128_16_auth(&rtcp)
        case .aeadAES256GCM:
            srtp_crypto_policy_set_aes_gcm_256_16_auth(&rtp)
            srtp_crypto_policy_set_aes_gcm_256_16_auth(&rtcp)
        }
    }
}
