/// The record types RFC 3263 looks up.
public enum DNSRecordType: UInt16, Sendable, CaseIterable {
    case a = 1
    case cname = 5
    case aaaa = 28
    case srv = 33
    case naptr = 35
}

/// One resource record of an answer, with the fields RFC 3263 uses.
public enum DNSRecord: Hashable, Sendable {
    case a(name: String, address: String)
    case aaaa(name: String, address: String)
    case cname(name: String, target: String)
    /// RFC 2782.
    case srv(name: String, priority: UInt16, weight: UInt16, port: UInt16, target: String)
    /// RFC 3403.
    case naptr(name: String, order: UInt16, preference: UInt16, flags: String, service: String, regexp: String, replacement: String)

    public var name: String {
        switch self {
        case .a(let name, _), .aaaa(let name, _), .cname(let name, _), .srv(let name, _, _, _, _), .naptr(let name, _, _, _, _, _, _): name
        }
    }
}

/// A DNS response (RFC 1035 §4) read for its answer and additional sections: names decompressed (§4.1.4, with
/// loops and forward pointers refused), the types of `DNSRecordType` decoded, other types skipped.
public struct DNSMessage: Sendable, Equatable {
    /// RFC 1035 §2.3.4: a name is at most 255 bytes.
    public static let maximumNameLength = 255
    /// The response code (0 NOERROR, 2 SERVFAIL, 3 NXDOMAIN).
    public var responseCode: UInt8
    public var truncated: Bool
    public var answers: [DNSRecord]
    public var additional: [DNSRecord]

    public init(parsing bytes: [UInt8]) throws(SIPLocatorError) {
        var reader = Reader(bytes: bytes)
        _ = try reader.u16()  // id
        let flags = try reader.u16()
        responseCode = UInt8(flags & 0x000F)
        truncated = flags & 0x0200 != 0
        let questions = try reader.u16(), answerCount = try reader.u16(), authorityCount = try reader.u16(), additionalCount = try reader.u16()
        for _ in 0..<questions {
            _ = try reader.name()
            _ = try reader.u16()
            _ = try reader.u16()
        }
        var answers: [DNSRecord] = []
        for _ in 0..<answerCount { if let record = try reader.record() { answers.append(record) } }
        for _ in 0..<authorityCount { _ = try reader.record() }
        var additional: [DNSRecord] = []
        for _ in 0..<additionalCount { if let record = try reader.record() { additional.append(record) } }
        self.answers = answers
        self.additional = additional
    }

    struct Reader {
        let bytes: [UInt8]
        var offset = 0

        mutating func u8() throws(SIPLocatorError) -> UInt8 {
            guard offset < bytes.count else { throw .malformed("DNS message ends early at byte \(offset)") }
            defer { offset += 1 }
            return bytes[offset]
        }

        mutating func u16() throws(SIPLocatorError) -> UInt16 {
            UInt16(try u8()) << 8 | UInt16(try u8())
        }

        mutating func u32() throws(SIPLocatorError) -> UInt32 {
            UInt32(try u16()) << 16 | UInt32(try u16())
        }

        mutating func bytes(_ count: Int) throws(SIPLocatorError) -> ArraySlice<UInt8> {
            guard count >= 0, offset + count <= bytes.count else { throw .malformed("DNS message ends early at byte \(offset)") }
            defer { offset += count }
            return bytes[offset..<offset + count]
        }

        /// A <character-string>: a length byte and that many bytes.
        mutating func characterString() throws(SIPLocatorError) -> String {
            let length = Int(try u8())
            return String(decoding: try bytes(length), as: UTF8.self)
        }

        /// A domain name at the current offset, following compression pointers backwards only.
        mutating func name() throws(SIPLocatorError) -> String {
            var labels: [String] = []
            var position = offset
            var jumped = false
            var length = 0
            while true {
                guard position < bytes.count else { throw .malformed("DNS name runs past the message") }
                let byte = bytes[position]
                if byte & 0xC0 == 0xC0 {
                    guard position + 1 < bytes.count else { throw .malformed("DNS name pointer cut short") }
                    let target = Int(byte & 0x3F) << 8 | Int(bytes[position + 1])
                    guard target < position else { throw .malformed("DNS name pointer does not point backwards") }
                    if !jumped { offset = position + 2 }
                    jumped = true
                    position = target
                    continue
                }
                guard byte & 0xC0 == 0 else { throw .malformed("DNS label type \(byte >> 6) is not supported") }
                let count = Int(byte)
                if count == 0 {
                    if !jumped { offset = position + 1 }
                    break
                }
                guard position + 1 + count <= bytes.count else { throw .malformed("DNS label runs past the message") }
                length += count + 1
                guard length <= DNSMessage.maximumNameLength else { throw .malformed("DNS name longer than 255 bytes") }
                labels.append(String(decoding: bytes[position + 1...position + count], as: UTF8.self))
                position += 1 + count
            }
            return labels.joined(separator: ".")
        }

        /// One resource record; nil for a type we do not read (skipped by its length).
        mutating func record() throws(SIPLocatorError) -> DNSRecord? {
            let owner = try name()
            let type = try u16()
            _ = try u16()  // class
            _ = try u32()  // ttl
            let length = Int(try u16())
            let end = offset + length
            guard end <= bytes.count else { throw .malformed("DNS record data runs past the message") }
            let record = try recordData(type: type, owner: owner, length: length)
            // The fields read must lie within RDLENGTH (a short SRV must not borrow the next record's bytes).
            guard offset <= end else { throw .malformed("DNS record data longer than its RDLENGTH \(length)") }
            offset = end
            return record
        }

        private mutating func recordData(type: UInt16, owner: String, length: Int) throws(SIPLocatorError) -> DNSRecord? {
            switch DNSRecordType(rawValue: type) {
            case .a:
                guard length == 4 else { throw .malformed("A record of \(length) bytes") }
                return .a(name: owner, address: try bytes(4).map(String.init).joined(separator: "."))
            case .aaaa:
                guard length == 16 else { throw .malformed("AAAA record of \(length) bytes") }
                let raw = Array(try bytes(16))
                let groups = stride(from: 0, to: 16, by: 2).map { String(UInt16(raw[$0]) << 8 | UInt16(raw[$0 + 1]), radix: 16) }
                return .aaaa(name: owner, address: IPv6Text.compressed(groups))
            case .cname:
                return .cname(name: owner, target: try name())
            case .srv:
                let priority = try u16(), weight = try u16(), port = try u16()
                return .srv(name: owner, priority: priority, weight: weight, port: port, target: try name())
            case .naptr:
                let order = try u16(), preference = try u16()
                let flags = try characterString(), service = try characterString(), regexp = try characterString()
                return .naptr(name: owner, order: order, preference: preference, flags: flags, service: service, regexp: regexp, replacement: try name())
            case nil:
                return nil
            }
        }
    }
}

/// RFC 5952's text form of an IPv6 address: the longest run of two or more zero groups becomes "::".
enum IPv6Text {
    static func compressed(_ groups: [String]) -> String {
        var best: Range<Int>?
        var index = 0
        while index < groups.count {
            guard groups[index] == "0" else {
                index += 1
                continue
            }
            var end = index
            while end < groups.count && groups[end] == "0" { end += 1 }
            if end - index >= 2, end - index > (best?.count ?? 0) { best = index..<end }
            index = end
        }
        guard let best else { return groups.joined(separator: ":") }
        return groups[..<best.lowerBound].joined(separator: ":") + "::" + groups[best.upperBound...].joined(separator: ":")
    }
}
