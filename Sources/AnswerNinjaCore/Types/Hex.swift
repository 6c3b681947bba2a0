/// Lower-case hexadecimal, two digits a byte: digests, keys and ids as the store and the logs write them.
extension Sequence where Element == UInt8 {
    public var hexString: String {
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        text.reserveCapacity(underestimatedCount * 2)
        for byte in self {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: text, as: UTF8.self)
    }
}

extension Array where Element == UInt8 {
    /// The bytes of `hex` (two digits a byte, either case); an odd count or a non-hex digit is an error.
    public init(hex: String) throws(CoreError) {
        let digits = Array(hex.utf8)
        guard digits.count % 2 == 0 else { throw .invalidValue("a hex string has an even number of digits, got \(digits.count)") }
        func value(_ digit: UInt8) throws(CoreError) -> UInt8 {
            switch digit {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): return digit - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): return digit - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): return digit - UInt8(ascii: "A") + 10
            default: throw .invalidValue("\"\(Character(Unicode.Scalar(digit)))\" is not a hex digit")
            }
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(digits.count / 2)
        for index in stride(from: 0, to: digits.count, by: 2) { bytes.append(try value(digits[index]) << 4 | value(digits[index + 1])) }
        self = bytes
    }
}
