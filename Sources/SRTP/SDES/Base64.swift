/// RFC 4648 §4 base64, for SDES `inline:` keys (the wire layer does not import Foundation).
enum Base64 {
    static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    static func encode(_ bytes: some Collection<UInt8>) -> String {
        var output: [UInt8] = []
        var iterator = bytes.makeIterator()
        while let a = iterator.next() {
            let b = iterator.next()
            let c = iterator.next()
            output.append(alphabet[Int(a >> 2)])
            output.append(alphabet[Int((a & 0x03) << 4 | (b ?? 0) >> 4)])
            output.append(b.map { alphabet[Int(($0 & 0x0F) << 2 | (c ?? 0) >> 6)] } ?? UInt8(ascii: "="))
            output.append(c.map { alphabet[Int($0 & 0x3F)] } ?? UInt8(ascii: "="))
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// nil for anything but canonical padded base64.
    static func decode(_ text: Substring) -> [UInt8]? {
        let characters = Array(text.utf8)
        guard characters.count % 4 == 0 else { return nil }
        var values: [UInt8] = []
        values.reserveCapacity(characters.count)
        var padding = 0
        for (index, character) in characters.enumerated() {
            if character == UInt8(ascii: "=") {
                guard index >= characters.count - 2 else { return nil }
                padding += 1
                values.append(0)
                continue
            }
            guard padding == 0, let value = alphabet.firstIndex(of: character) else { return nil }
            values.append(UInt8(value))
        }
        var output: [UInt8] = []
        for quad in stride(from: 0, to: values.count, by: 4) {
            output.append(values[quad] << 2 | values[quad + 1] >> 4)
            output.append(values[quad + 1] << 4 | values[quad + 2] >> 2)
            output.append(values[quad + 2] << 6 | values[quad + 3])
        }
        return Array(output.dropLast(padding))
    }
}
