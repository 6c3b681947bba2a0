import NIOCore

/// The RTP header extension (RFC 3550 §5.3.1): a 16-bit profile field and data in 32-bit words. RFC 8285 defines
/// two element formats in it: one-byte headers (profile 0xBEDE) and two-byte headers (profile 0x100X).
public struct RTPHeaderExtension: Sendable, Equatable {
    /// RFC 8285 §4.2.
    public static let oneByteProfile: UInt16 = 0xBEDE
    /// RFC 8285 §4.3: 0x100 in the top 12 bits; the low 4 bits are application bits.
    public static let twoByteProfileMask: UInt16 = 0xFFF0
    public static let twoByteProfile: UInt16 = 0x1000

    public var profile: UInt16
    public var data: ByteBuffer

    public init(profile: UInt16, data: ByteBuffer) {
        self.profile = profile
        self.data = data
    }

    /// `data` rounded up to whole words, as it is written.
    var paddedLength: Int { (data.readableBytes + 3) / 4 * 4 }

    public enum Format: Sendable, Equatable { case oneByte, twoByte, other }

    public var format: Format {
        if profile == Self.oneByteProfile { return .oneByte }
        if profile & Self.twoByteProfileMask == Self.twoByteProfile { return .twoByte }
        return .other
    }

    /// One element of an RFC 8285 extension: a local identifier and its data.
    public struct Element: Sendable, Equatable {
        public var id: UInt8
        public var data: ByteBuffer
        public init(id: UInt8, data: ByteBuffer) {
            self.id = id
            self.data = data
        }
    }

    /// The RFC 8285 elements; `[]` for other profiles. Padding bytes (ID 0) are skipped; in the one-byte form ID 15
    /// ends the parse (§4.2).
    public func elements() throws(RTPError) -> [Element] {
        var buffer = data
        var elements: [Element] = []
        switch format {
        case .other:
            return []
        case .oneByte:
            while let header = buffer.readInteger(as: UInt8.self) {
                let id = header >> 4
                if id == 0 { continue }  // padding byte (its length nibble must be 0; tolerated otherwise)
                if id == 15 { break }
                let length = Int(header & 0x0F) + 1
                guard let value = buffer.readSlice(length: length) else {
                    throw RTPError(code: .malformed, message: "one-byte extension element \(id) of \(length) bytes overruns the extension")
                }
                elements.append(Element(id: id, data: value))
            }
        case .twoByte:
            while let id = buffer.readInteger(as: UInt8.self) {
                if id == 0 { continue }
                guard let length = buffer.readInteger(as: UInt8.self) else {
                    throw RTPError(code: .malformed, message: "two-byte extension element \(id) has no length")
                }
                guard let value = buffer.readSlice(length: Int(length)) else {
                    throw RTPError(code: .malformed, message: "two-byte extension element \(id) of \(length) bytes overruns the extension")
                }
                elements.append(Element(id: id, data: value))
            }
        }
        return elements
    }

    /// Builds an RFC 8285 extension, choosing the one-byte form when every element fits it (IDs 1...14, 1...16
    /// bytes) and the two-byte form otherwise (IDs 1...255, 0...255 bytes).
    public static func make(_ elements: [Element]) throws(RTPError) -> RTPHeaderExtension {
        let oneByte = elements.allSatisfy { (1...14).contains($0.id) && (1...16).contains($0.data.readableBytes) }
        var data = ByteBuffer()
        for element in elements {
            guard element.id != 0, element.data.readableBytes <= 255 else {
                throw RTPError(code: .malformed, message: "extension element \(element.id) with \(element.data.readableBytes) bytes cannot be encoded")
            }
            if oneByte {
                data.writeInteger(element.id << 4 | UInt8(element.data.readableBytes - 1))
            } else {
                data.writeMultipleIntegers(element.id, UInt8(element.data.readableBytes))
            }
            data.writeImmutableBuffer(element.data)
        }
        return RTPHeaderExtension(profile: oneByte ? oneByteProfile : twoByteProfile, data: data)
    }
}
