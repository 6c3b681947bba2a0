import Foundation

/// A POSIX ustar archive written in memory (the data export): regular files with names up to 100 bytes, mode 0644.
struct TarArchive {
    private(set) var bytes: [UInt8] = []

    mutating func add(_ name: String, _ contents: [UInt8], modified: Date = Date()) {
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
        octal(contents.count, at: 124, width: 12)
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
        bytes += header
        bytes += contents
        bytes += [UInt8](repeating: 0, count: (512 - contents.count % 512) % 512)
    }

    /// The archive with its end: two zero blocks.
    func finished() -> [UInt8] { bytes + [UInt8](repeating: 0, count: 1024) }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
