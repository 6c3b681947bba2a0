import Foundation

/// A POSIX ustar archive written as a stream (the data export): each regular file is a 512-byte header, its bytes,
/// and zeros to the next block; two zero blocks end the archive. Names are up to 100 bytes; mode 0644.
enum TarArchive {
    /// A whole entry: header, contents, padding.
    static func entry(_ name: String, _ contents: [UInt8], modified: Date = Date()) -> [UInt8] {
        header(name, size: contents.count, modified: modified) + contents + padding(after: contents.count)
    }

    /// The header of a file of `size` bytes, whose contents follow it (then `padding(after: size)`).
    static func header(_ name: String, size: Int, modified: Date = Date()) -> [UInt8] {
        var header = [UInt8](repeating: 0, count: 512)
        func put(_ text: String, at offset: Int, width: Int) {
            for (index, byte) in text.utf8.prefix(width).enumerated() { header[offset + index] = byte }
        }
        func octal(_ value: Int, at offset: Int, width: Int) {
            put(String(String(value, radix: 8).suffix(width - 1)).leftPadded(to: width - 1), at: offset, width: width - 1)
        }
        put(name, at: 0, width: 100)
        octal(0o644, at: 100, width: 8)
        octal(0, at: 108, width: 8)
        octal(0, at: 116, width: 8)
        octal(size, at: 124, width: 12)
        octal(Int(modified.timeIntervalSince1970), at: 136, width: 12)
        put("        ", at: 148, width: 8)  // the checksum counts its own field as spaces
        header[156] = UInt8(ascii: "0")
        put("ustar", at: 257, width: 6)
        put("00", at: 263, width: 2)
        put("answer-ninja", at: 265, width: 32)
        put("answer-ninja", at: 297, width: 32)
        let checksum = header.reduce(0) { $0 + Int($1) }
        put(String(checksum, radix: 8).leftPadded(to: 6), at: 148, width: 6)
        header[154] = 0
        header[155] = UInt8(ascii: " ")
        return header
    }

    /// Zeros from the end of a file of `size` bytes to the next 512-byte block.
    static func padding(after size: Int) -> [UInt8] {
        [UInt8](repeating: 0, count: (512 - size % 512) % 512)
    }

    /// The archive's end: two zero blocks.
    static let end = [UInt8](repeating: 0, count: 1024)

    /// A call id as a file name in the archive: ASCII letters, digits, '-', '_' and '.', at most 60 of them (a
    /// ustar name holds 100 bytes).
    static func safeName(_ id: String) -> String {
        String(id.unicodeScalars.prefix(60).map { $0.isASCII && (CharacterSet.alphanumerics.contains($0) || "-_.".unicodeScalars.contains($0)) ? Character($0) : "_" })
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
