import AnswerNinjaCore
import Crypto
import Foundation

/// The first-run setup's code. A fresh install has no admin who can sign in (the demo user has no password), so the
/// first person to open the dashboard claims it at `/setup` with this code, which `serve` prints (and logs) while no
/// owner exists. Someone who can reach the port but not the console or logs cannot claim it. The code is derived
/// from the server's key (an HMAC, as the CSRF tokens are): every pod of one install prints the same code, and
/// nothing is stored. It opens nothing once an owner exists.
enum OwnerSetup {
    /// 16 base32 characters (80 bits) in groups of four: `ABCD-EFGH-JKLM-NPQR`.
    static func code(secret: [UInt8]) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Array("answer-ninja setup code".utf8), using: SymmetricKey(data: secret))
        let letters = Array(Base32.encode(Array(Array(mac).prefix(10))))
        return stride(from: 0, to: letters.count, by: 4).map { String(letters[$0..<min($0 + 4, letters.count)]) }.joined(separator: "-")
    }

    /// Whether a typed code is the install's: case, spaces and dashes do not matter; compared in constant time.
    static func matches(_ typed: String, secret: [UInt8]) -> Bool {
        func normal(_ text: String) -> String { text.uppercased().filter { $0 != "-" && !$0.isWhitespace } }
        let given = normal(typed)
        return !given.isEmpty && ConstantTime.equal(given, normal(code(secret: secret)))
    }
}
