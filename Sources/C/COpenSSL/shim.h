#ifndef ANSWER_NINJA_COPENSSL_SHIM_H
#define ANSWER_NINJA_COPENSSL_SHIM_H
// OpenSSL's libcrypto, for the SRTP transforms (AES-CTR, AES-GCM, HMAC-SHA1). The low-level SHA-1 calls are
// deprecated in OpenSSL 3 but are the allocation-free way to reuse a keyed HMAC state per packet; the wrappers
// below keep the deprecation out of Swift. Only Sources/SRTP imports this module.
#define OPENSSL_SUPPRESS_DEPRECATED 1
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <openssl/crypto.h>

static inline int cshim_sha1_init(SHA_CTX *c) { return SHA1_Init(c); }
static inline int cshim_sha1_update(SHA_CTX *c, const void *data, size_t length) { return SHA1_Update(c, data, length); }
static inline int cshim_sha1_final(unsigned char *digest, SHA_CTX *c) { return SHA1_Final(digest, c); }
static inline int cshim_gcm_get_tag(EVP_CIPHER_CTX *ctx, int length, void *tag) { return EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, length, tag); }
static inline int cshim_gcm_set_tag(EVP_CIPHER_CTX *ctx, int length, void *tag) { return EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, length, tag); }
#endif
