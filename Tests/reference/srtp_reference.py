#!/usr/bin/env python3
"""An independent SRTP/SRTCP reference (RFC 3711, RFC 4568 §6.2, RFC 7714) on the `cryptography` package, written
from the RFCs, to check libsrtp's packets byte for byte (Tests/SRTPUnitTests).

  srtp_reference.py --self-test      checks this reference against RFC 3711 B.2 and B.3, RFC 7714 §16.1.1 and
                                     libsrtp's published reference packets; exit 1 on any mismatch
  srtp_reference.py < request.json   {"suite", "key" (hex key||salt), "rtp": [hex], "rtcp": [hex]} →
                                     {"rtp": [hex], "rtcp": [hex]}: the packets protected in order (ROC follows
                                     the sequence numbers; SRTCP indexes start at 1, as libsrtp's do)
"""
import hmac
import json
import struct
import sys
from hashlib import sha1

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

SUITES = {
    # name: (salt length, SRTP tag length, SRTCP tag length, GCM?, master key length)
    "AES_CM_128_HMAC_SHA1_80": (14, 10, 10, False, 16),
    "AES_CM_128_HMAC_SHA1_32": (14, 4, 10, False, 16),
    "AEAD_AES_128_GCM": (12, 16, 16, True, 16),
    # RFC 7714 §11 / RFC 6188: the AES-256 PRF derives 256-bit session keys.
    "AEAD_AES_256_GCM": (12, 16, 16, True, 32),
}


def aes_ctr(key, iv16, length):
    """AES in counter mode from a 128-bit IV: the keystream (RFC 3711 §4.1.1)."""
    encryptor = Cipher(algorithms.AES(key), modes.CTR(iv16)).encryptor()
    return encryptor.update(b"\0" * length) + encryptor.finalize()


def xor(a, b):
    return bytes(x ^ y for x, y in zip(a, b))


def kdf(master_key, master_salt, label, length):
    """RFC 3711 §4.3.1 with key_derivation_rate 0: x = key_id XOR master_salt, key_id = label || 0^48, IV = x·2^16.
    A 96-bit AEAD master salt (RFC 7714 §11) is aligned like the 112-bit one: padded with zeros on the right."""
    salt = master_salt.ljust(14, b"\0")
    key_id = bytes(7) + bytes([label]) + bytes(6)  # 14 bytes: label at octet 7 (bits 48..55 from the right)
    x = xor(salt, key_id)
    return aes_ctr(master_key, x + b"\0\0", length)


class Context:
    def __init__(self, suite, key_and_salt):
        salt_length, self.rtp_tag, self.rtcp_tag, self.gcm, key_length = SUITES[suite]
        master_key, master_salt = key_and_salt[:key_length], key_and_salt[key_length:]
        assert len(master_salt) == salt_length, "key||salt length does not fit the suite"
        self.rtp_key, self.rtp_salt = kdf(master_key, master_salt, 0, key_length), kdf(master_key, master_salt, 2, salt_length)
        self.rtcp_key, self.rtcp_salt = kdf(master_key, master_salt, 3, key_length), kdf(master_key, master_salt, 5, salt_length)
        self.rtp_auth, self.rtcp_auth = kdf(master_key, master_salt, 1, 20), kdf(master_key, master_salt, 4, 20)
        self.roc, self.last_seq, self.rtcp_index = 0, None, 0

    @staticmethod
    def header_length(packet):
        count = packet[0] & 0x0F
        length = 12 + 4 * count
        if packet[0] & 0x10:
            words = struct.unpack("!H", packet[length + 2 : length + 4])[0]
            length += 4 + 4 * words
        return length

    def protect_rtp(self, packet):
        seq, ssrc = struct.unpack("!H", packet[2:4])[0], struct.unpack("!I", packet[8:12])[0]
        if self.last_seq is not None and seq < self.last_seq and self.last_seq - seq > 0x8000:
            self.roc += 1
        self.last_seq = seq
        header = packet[: self.header_length(packet)]
        payload = packet[len(header) :]
        if self.gcm:
            iv = xor(b"\0\0" + struct.pack("!IIH", ssrc, self.roc, seq), self.rtp_salt)
            return header + AESGCM(self.rtp_key).encrypt(iv, payload, header)
        index = (self.roc << 16) | seq
        iv = xor(self.rtp_salt + b"\0\0", bytes(4) + struct.pack("!I", ssrc) + index.to_bytes(6, "big") + b"\0\0")
        encrypted = header + xor(payload, aes_ctr(self.rtp_key, iv, len(payload)))
        tag = hmac.new(self.rtp_auth, encrypted + struct.pack("!I", self.roc), sha1).digest()[: self.rtp_tag]
        return encrypted + tag

    def protect_rtcp(self, packet):
        self.rtcp_index += 1
        ssrc = struct.unpack("!I", packet[4:8])[0]
        word = struct.pack("!I", 0x8000_0000 | self.rtcp_index)
        if self.gcm:
            iv = xor(b"\0\0" + struct.pack("!I", ssrc) + b"\0\0" + struct.pack("!I", self.rtcp_index), self.rtcp_salt)
            return packet[:8] + AESGCM(self.rtcp_key).encrypt(iv, packet[8:], packet[:8] + word) + word
        iv = xor(self.rtcp_salt + b"\0\0", bytes(4) + struct.pack("!I", ssrc) + self.rtcp_index.to_bytes(6, "big") + b"\0\0")
        encrypted = packet[:8] + xor(packet[8:], aes_ctr(self.rtcp_key, iv, len(packet) - 8)) + word
        return encrypted + hmac.new(self.rtcp_auth, encrypted, sha1).digest()[: self.rtcp_tag]


def check(name, got, expected):
    if got != expected:
        print(f"FAIL {name}: got {got.hex()}, expected {expected.hex()}")
        return False
    print(f"ok   {name}")
    return True


def self_test():
    h = bytes.fromhex
    ok = True
    # RFC 3711 B.2: the AES-CM keystream for session key 2B7E..., salt F0F1...FD, SSRC 0, index 0.
    keystream = aes_ctr(h("2B7E151628AED2A6ABF7158809CF4F3C"), h("F0F1F2F3F4F5F6F7F8F9FAFBFCFD0000"), 0xFF02 * 16)
    for block, expected in [(0, "E03EAD0935C95E80E166B16DD92B4EB4"), (1, "D23513162B02D0F72A43A2FE4A5F97AB"),
                            (2, "41E95B3BB0A2E8DD477901E4FCA894C0"), (0xFEFF, "EC8CDF7398607CB0F2D21675EA9EA1E4"),
                            (0xFF00, "362B7C3C6773516318A077D7FC5073AE"), (0xFF01, "6A2CC3787889374FBEB4C81B17BA6C44")]:
        ok &= check(f"RFC 3711 B.2 keystream block {block:#x}", keystream[block * 16 : block * 16 + 16], h(expected))
    # RFC 3711 B.3: key derivation.
    master_key, master_salt = h("E1F97A0D3E018BE0D64FA32C06DE4139"), h("0EC675AD498AFEEBB6960B3AABE6")
    ok &= check("RFC 3711 B.3 cipher key", kdf(master_key, master_salt, 0, 16), h("C61E7A93744F39EE10734AFE3FF7A087"))
    ok &= check("RFC 3711 B.3 cipher salt", kdf(master_key, master_salt, 2, 14), h("30CBBC08863D8C85D49DB34A9AE1"))
    ok &= check("RFC 3711 B.3 auth key", kdf(master_key, master_salt, 1, 20), h("CEBE321F6FF7716B6FD4AB49AF256A156D38BAA4"))
    # RFC 7714 §16.1.1: AEAD_AES_128_GCM on session key and salt directly.
    key, salt = h("000102030405060708090a0b0c0d0e0f"), h("517569642070726f2071756f")
    packet = h("8040f17b8041f8d35501a0b247616c6c696120657374206f6d6e69732064697669736120696e207061727465732074726573")
    iv = xor(b"\0\0" + struct.pack("!IIH", 0x5501A0B2, 0, 0xF17B), salt)
    ok &= check("RFC 7714 16.1.1 IV", iv, h("51753c6580c2726f20718414"))
    protected = packet[:12] + AESGCM(key).encrypt(iv, packet[12:], packet[:12])
    ok &= check("RFC 7714 16.1.1 packet", protected, h(
        "8040f17b8041f8d35501a0b2f24de3a3fb34de6cacba861c9d7e4bcabe633bd50d294e6f42a5f47a51c7d19b36de3adf8833"
        "899d7f27beb16a9152cf765ee4390cce"))
    # libsrtp's reference packets (its srtp_validate and srtp_validate_gcm tests), through the full KDF.
    plain_rtp = h("800f1234decafbadcafebabe" + "ab" * 16)
    cm = Context("AES_CM_128_HMAC_SHA1_80", master_key + master_salt)
    ok &= check("libsrtp AES-CM reference packet", cm.protect_rtp(plain_rtp),
                h("800f1234decafbadcafebabe4e55dc4ce79978d88ca4d215949d2402b78d6acc99ea179b8dbb"))
    gcm = Context("AEAD_AES_128_GCM", h("000102030405060708090a0b0c0d0e0f") + h("a0a1a2a3a4a5a6a7a8a9aaab"))
    ok &= check("libsrtp GCM reference packet", gcm.protect_rtp(plain_rtp),
                h("800f1234decafbadcafebabec5002ede04cfdd2eb91159e0880aa06ed2976826f796b201df3131a127e8a392"))
    ok &= check("libsrtp GCM reference SRTCP packet", gcm.protect_rtcp(h("81c8000bcafebabe" + "ab" * 16)),
                h("81c8000bcafebabec98b8b5df0392a55852b6c21ac8e7025c52c6fbea2b3b446ea31123ba88ce61e80000001"))
    return ok


def main():
    if sys.argv[1:] == ["--self-test"]:
        sys.exit(0 if self_test() else 1)
    request = json.load(sys.stdin)
    context = Context(request["suite"], bytes.fromhex(request["key"]))
    json.dump({
        "rtp": [context.protect_rtp(bytes.fromhex(p)).hex() for p in request.get("rtp", [])],
        "rtcp": [context.protect_rtcp(bytes.fromhex(p)).hex() for p in request.get("rtcp", [])],
    }, sys.stdout)


if __name__ == "__main__":
    main()
