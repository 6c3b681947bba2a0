/// An SDP Security Descriptions `a=crypto` attribute (RFC 4568 §9.1):
/// `a=crypto:<tag> <crypto-suite> inline:<key‖salt base64>[|<lifetime>][|<MKI>:<length>] [<session params>]`.
/// Only `inline` key methods exist (§6.1); several `inline:` keys may be separated by `;`.
public struct SDESCryptoAttribute: Sendable, CustomStringConvertible {
    public struct Key: Sendable {
        public var material: SRTPKeyMaterial
        /// Packets under this key: `2^20` or a plain number (§6.1).
        public var lifetime: UInt64?
        /// Master key identifier value and its length in bytes.
        public var mki: (value: UInt32, length: Int)?
    }

    /// RFC 4568 §9.1: tag is 1*9DIGIT.
    public var tag: UInt32
    public var suite: SRTPCryptoSuite
    public var keys: [Key]
    public var sessionParameters: [String]

    public init(tag: UInt32, suite: SRTPCryptoSuite, material: SRTPKeyMaterial, sessionParameters: [String] = []) {
        self.tag = tag
        self.suite = suite
        self.keys = [Key(material: material, lifetime: nil, mki: nil)]
        self.sessionParameters = sessionParameters
    }

    /// Parses the value after `a=crypto:`. Unknown suites and malformed keys are errors whose message never
    /// contains key bytes.
    public init(parsing value: Substring) throws(SRTPError) {
        let fields = value.split(whereSeparator: { $0 == " " || $0 == "\t" })
        guard fields.count >= 3 else { throw Self.bad("needs a tag, a crypto suite and key parameters") }
        guard fields[0].count <= 9, let tag = UInt32(fields[0]) else { throw Self.bad("tag \"\(fields[0])\" is not 1 to 9 digits") }
        guard let suite = SRTPCryptoSuite(rawValue: String(fields[1])) else {
            throw SRTPError(code: .badCryptoAttribute, message: "a=crypto: unsupported crypto suite \(fields[1])")
        }
        var keys: [Key] = []
        for parameter in fields[2].split(separator: ";") {
            guard parameter.hasPrefix("inline:") else { throw Self.bad("key method must be inline") }
            let parts = parameter.dropFirst("inline:".count).split(separator: "|", omittingEmptySubsequences: false)
            guard let bytes = Base64.decode(parts[0]) else { throw Self.bad("key is not base64") }
            guard bytes.count == suite.keyMaterialLength else {
                throw Self.bad("\(suite.rawValue) takes \(suite.keyMaterialLength) bytes of key and salt, got \(bytes.count)")
            }
            var lifetime: UInt64?
            var mki: (UInt32, Int)?
            for extra in parts.dropFirst() {
                if let colon = extra.firstIndex(of: ":") {
                    guard mki == nil, let value = UInt32(extra[..<colon]), let length = Int(extra[extra.index(after: colon)...]), (1...128).contains(length) else {
                        throw Self.bad("MKI \"\(extra)\" must be value:length")
                    }
                    mki = (value, length)
                } else if extra.hasPrefix("2^") {
                    guard lifetime == nil, let exponent = UInt64(extra.dropFirst(2)), exponent < 64 else { throw Self.bad("lifetime \"\(extra)\"") }
                    lifetime = 1 << exponent
                } else {
                    guard lifetime == nil, let value = UInt64(extra), value > 0 else { throw Self.bad("lifetime \"\(extra)\"") }
                    lifetime = value
                }
            }
            keys.append(Key(material: SRTPKeyMaterial(bytes: bytes), lifetime: lifetime, mki: mki))
        }
        self.tag = tag
        self.suite = suite
        self.keys = keys
        self.sessionParameters = fields.dropFirst(3).map(String.init)
    }

    /// The attribute value (after `a=crypto:`), including the key: for the SDP only, never for logs.
    public var sdpValue: String {
        let keyParameters = keys.map { key in
            var text = "inline:" + key.material.base64
            if let lifetime = key.lifetime {
                text += "|" + (lifetime.nonzeroBitCount == 1 ? "2^\(lifetime.trailingZeroBitCount)" : String(lifetime))
            }
            if let mki = key.mki { text += "|\(mki.value):\(mki.length)" }
            return text
        }.joined(separator: ";")
        return ([String(tag), suite.rawValue, keyParameters] + sessionParameters).joined(separator: " ")
    }

    /// Without the key.
    public var description: String { "a=crypto:\(tag) \(suite.rawValue) inline:<\(keys.count) key(s)>" }

    private static func bad(_ why: String) -> SRTPError {
        SRTPError(code: .badCryptoAttribute, message: "a=crypto: \(why)")
    }
}
