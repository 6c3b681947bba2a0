@testable import AnswerNinjaServices
import Foundation
import HummingbirdOTP
import Testing

/// TOTP against RFC 6238 Appendix B, and the drift window sign-in accepts.
@Suite struct APIAuthTests {
    // RFC 6238 Appendix B: the seeds are ASCII "1234567890" repeated to the hash's key size; 8 digits.
    @Test(arguments: [
        (59, 94287082, 46119246, 90693936), (1111111109, 7081804, 68084774, 25091201), (1111111111, 14050471, 67062674, 99943326),
        (1234567890, 89005924, 91819424, 93441116), (2000000000, 69279037, 90698825, 38618901), (20000000000, 65353130, 77737706, 47863826),
    ])
    func rfc6238Vectors(time: Int, sha1: Int, sha256: Int, sha512: Int) {
        let date = Date(timeIntervalSince1970: TimeInterval(time))
        #expect(TOTP(secret: "12345678901234567890", length: 8, hashFunction: .sha1).compute(date: date) == sha1)
        #expect(TOTP(secret: "12345678901234567890123456789012", length: 8, hashFunction: .sha256).compute(date: date) == sha256)
        #expect(TOTP(secret: String(repeating: "1234567890", count: 6) + "1234", length: 8, hashFunction: .sha512).compute(date: date) == sha512)
    }

    @Test func signInAcceptsOneStepOfDriftEitherWayAndNothingElse() {
        let secret = "JBSWY3DPEHPK3PXP1234"
        let now = Date(timeIntervalSince1970: 1_800_000_015)
        let code = { (offset: Double) in String(format: "%06d", TOTP(secret: secret).compute(date: now.addingTimeInterval(offset))) }
        #expect(APIAuth.totpMatches(code(0), secret: secret, at: now))
        #expect(APIAuth.totpMatches(code(-30), secret: secret, at: now))
        #expect(APIAuth.totpMatches(code(30), secret: secret, at: now))
        #expect(!APIAuth.totpMatches(code(-90), secret: secret, at: now))
        #expect(!APIAuth.totpMatches("12345", secret: secret, at: now) && !APIAuth.totpMatches("abcdef", secret: secret, at: now))
    }

    @Test func refreshTokensAreRandomAndStoredAsTheirDigest() {
        let tokens = Set((0..<100).map { _ in APIAuth.randomToken() })
        #expect(tokens.count == 100 && tokens.allSatisfy { $0.count == 43 && !$0.contains("+") && !$0.contains("/") && !$0.contains("=") })
        #expect(APIAuth.digest("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    // RFC 4648 §10, without padding.
    @Test(arguments: [("", ""), ("f", "MY"), ("fo", "MZXQ"), ("foo", "MZXW6"), ("foob", "MZXW6YQ"), ("fooba", "MZXW6YTB"), ("foobar", "MZXW6YTBOI")])
    func base32(text: String, encoded: String) {
        #expect(Base32.encode(Array(text.utf8)) == encoded)
    }
}
