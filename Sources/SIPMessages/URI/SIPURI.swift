/// A `sip:` or `sips:` URI (RFC 3261 §19.1), with IPv6 references (RFC 5118):
/// `sip:user:password@host:port;uri-parameters?headers`. The user part is kept as written (escapes and all); `user`
/// gives it unescaped.
public struct SIPURI: Sendable, Equatable {
    public enum Host: Sendable, Equatable, CustomStringConvertible {
        case name(String)
        case ipv4(String)
        /// Without the brackets.
        case ipv6(String)

        public var description: String {
            switch self {
            case .name(let name): name
            case .ipv4(let address): address
            case .ipv6(let address): "[\(address)]"
            }
        }

        /// The address of a numeric host (IPv6 without brackets); nil for a name, which needs a lookup.
        public var ipAddress: String? {
            switch self {
            case .ipv4(let address), .ipv6(let address): address
            case .name: nil
            }
        }

        /// A host as configuration or a socket gives it, not parsed: an IPv6 address (with or without its
        /// brackets) when it holds a colon, else a name or an IPv4 address (kept as `.name`). Its description is
        /// what a URI or Via writes, brackets and all.
        public init(unparsed text: String) {
            let bare = text.hasPrefix("[") && text.hasSuffix("]") ? String(text.dropFirst().dropLast()) : text
            self = bare.contains(":") ? .ipv6(bare) : .name(bare)
        }
    }

    public var secure: Bool
    /// The user part as written (escapes kept), nil when the URI has none.
    public var rawUser: String?
    public var password: String?
    public var host: Host
    public var port: Int?
    public var parameters: SIPParameters
    /// `?name=value&...`, as written.
    public var headers: [(name: String, value: String)]

    public init(secure: Bool = false, user: String? = nil, host: Host, port: Int? = nil, parameters: SIPParameters = SIPParameters()) {
        self.secure = secure
        rawUser = user
        password = nil
        self.host = host
        self.port = port
        self.parameters = parameters
        headers = []
    }

    /// The user part with its `%HH` escapes decoded.
    public var user: String? { rawUser.map { SIPGrammar.unescaped($0[...]) } }

    public static func == (lhs: SIPURI, rhs: SIPURI) -> Bool {
        lhs.secure == rhs.secure && lhs.rawUser == rhs.rawUser && lhs.password == rhs.password && lhs.host == rhs.host
            && lhs.port == rhs.port && lhs.parameters == rhs.parameters
            && lhs.headers.map(\.name) == rhs.headers.map(\.name) && lhs.headers.map(\.value) == rhs.headers.map(\.value)
    }

    public var serialized: String {
        var text = secure ? "sips:" : "sip:"
        if let rawUser {
            text += rawUser + (password.map { ":" + $0 } ?? "") + "@"
        }
        text += host.description
        if let port { text += ":\(port)" }
        text += parameters.serialized
        if !headers.isEmpty { text += "?" + headers.map { "\($0.name)=\($0.value)" }.joined(separator: "&") }
        return text
    }

    /// Parses `text`, which starts with `sip:` or `sips:` (any case).
    public init(parsing text: Substring) throws(SIPMessageError) {
        // "sip:" or "sips:", any case, on the bytes.
        let head = Array(text.utf8.prefix(5)).map { $0 | 0x20 }
        if head.count == 5, head[0] == 0x73, head[1] == 0x69, head[2] == 0x70, head[3] == 0x73, text.utf8.dropFirst(4).first == 0x3A {
            secure = true
        } else if head.count >= 4, head[0] == 0x73, head[1] == 0x69, head[2] == 0x70, text.utf8.dropFirst(3).first == 0x3A {
            secure = false
        } else {
            throw .badRequest("not a SIP URI: \(text.prefix(40))")
        }
        var rest = text.dropFirst(secure ? 5 : 4)
        guard !rest.isEmpty else { throw .badRequest("empty SIP URI") }
        guard !rest.utf8.contains(where: { $0 <= 0x20 || $0 == UInt8(ascii: "<") || $0 == UInt8(ascii: ">") || $0 == UInt8(ascii: "\"") }) else {
            throw .badRequest("a SIP URI may not contain spaces, quotes or angle brackets")
        }
        // userinfo: up to the first '@' (the user part cannot hold a raw '@').
        rawUser = nil
        password = nil
        if let at = rest.firstByte("@") {
            let userinfo = rest[..<at]
            let user: Substring, pass: Substring?
            if let colon = userinfo.firstByte(":") {
                user = userinfo[..<colon]
                pass = userinfo[userinfo.index(after: colon)...]
            } else {
                user = userinfo
                pass = nil
            }
            guard !user.isEmpty, SIPGrammar.isEscapedText(user, extra: "&=+$,;?/") else { throw .badRequest("malformed user part in \(text)") }
            if let pass {
                guard SIPGrammar.isEscapedText(pass, extra: "&=+$,") else { throw .badRequest("malformed password in \(text)") }
                password = String(pass)
            }
            rawUser = String(user)
            rest = rest[rest.index(after: at)...]
        }
        // headers
        headers = []
        if let question = rest.firstByte("?") {
            for pair in rest[rest.index(after: question)...].split(separator: "&", omittingEmptySubsequences: false) {
                guard let equals = pair.firstByte("="), !pair[..<equals].isEmpty,
                      SIPGrammar.isEscapedText(pair[..<equals], extra: "[]/?:+$"), SIPGrammar.isEscapedText(pair[pair.index(after: equals)...], extra: "[]/?:+$")
                else { throw .badRequest("malformed URI header in \(text)") }
                headers.append((String(pair[..<equals]), String(pair[pair.index(after: equals)...])))
            }
            rest = rest[..<question]
        }
        // parameters
        parameters = SIPParameters()
        if let semicolon = rest.firstByte(";") {
            parameters = try SIPParameters.parse(rest[rest.index(after: semicolon)...], allowWhitespace: false, what: "URI parameters")
            rest = rest[..<semicolon]
        }
        // host[:port]
        (host, port) = try Self.parseHostPort(rest, in: text)
    }

    static func parseHostPort(_ text: Substring, in whole: Substring) throws(SIPMessageError) -> (Host, Int?) {
        var hostText = text
        var portText: Substring?
        if text.first == "[" {
            guard let close = text.firstByte("]") else { throw .badRequest("unterminated IPv6 reference in \(whole)") }
            hostText = text[text.startIndex...close]
            let after = text[text.index(after: close)...]
            if !after.isEmpty {
                guard after.first == ":" else { throw .badRequest("malformed host in \(whole)") }
                portText = after.dropFirst()
            }
        } else if let colon = text.lastByte(":") {
            hostText = text[..<colon]
            portText = text[text.index(after: colon)...]
        }
        var port: Int?
        if let portText {
            guard !portText.isEmpty, portText.count <= 5, portText.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let value = Int(portText), value <= 65535 else {
                throw .badRequest("malformed port in \(whole)")
            }
            port = value
        }
        return (try parseHost(hostText, in: whole), port)
    }

    static func parseHost(_ text: Substring, in whole: Substring) throws(SIPMessageError) -> Host {
        guard !text.isEmpty else { throw .badRequest("missing host in \(whole)") }
        if text.first == "[" {
            let inner = text.dropFirst().dropLast()
            guard text.last == "]", isIPv6(inner) else { throw .badRequest("malformed IPv6 reference in \(whole)") }
            return .ipv6(String(inner))
        }
        if text.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || $0 == UInt8(ascii: ".") }) {
            let octets = text.split(separator: ".", omittingEmptySubsequences: false)
            guard octets.count == 4, octets.allSatisfy({ !$0.isEmpty && $0.count <= 3 && Int($0).map { $0 <= 255 } == true }) else {
                throw .badRequest("malformed IPv4 address in \(whole)")
            }
            return .ipv4(String(text))
        }
        // hostname = *( domainlabel "." ) toplabel [ "." ]
        let labels = text.hasSuffix(".") ? text.dropLast().split(separator: ".", omittingEmptySubsequences: false) : text.split(separator: ".", omittingEmptySubsequences: false)
        guard labels.allSatisfy({ label in
            !label.isEmpty && label.first != "-" && label.last != "-" && label.utf8.allSatisfy { SIPGrammar.isAlphanumeric($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") }
        }) else { throw .badRequest("malformed host name in \(whole)") }
        return .name(String(text))
    }

    /// IPv6address of RFC 3261 §25.1 / RFC 4291 §2.2: eight groups of up to four hex digits, `::` once, an IPv4
    /// tail allowed.
    static func isIPv6(_ text: Substring) -> Bool {
        guard !text.isEmpty, text.utf8.allSatisfy({ SIPGrammar.isHexDigit($0) || $0 == UInt8(ascii: ":") || $0 == UInt8(ascii: ".") }) else { return false }
        var compressed: [Substring] = [text]
        if let range = doubleColon(in: text) {
            let tail = text[range.upperBound...]
            guard doubleColon(in: tail) == nil else { return false }
            compressed = [text[..<range.lowerBound], tail]
        }
        var groups = 0
        for (position, side) in compressed.enumerated() where !side.isEmpty {
            let parts = side.split(separator: ":", omittingEmptySubsequences: false)
            for (index, part) in parts.enumerated() {
                if part.utf8.contains(UInt8(ascii: ".")) {
                    // An IPv4 tail, only last.
                    guard position == compressed.count - 1, index == parts.count - 1,
                          (try? parseHost(part, in: part)).map({ if case .ipv4 = $0 { true } else { false } }) == true
                    else { return false }
                    groups += 2
                } else {
                    guard !part.isEmpty, part.count <= 4 else { return false }
                    groups += 1
                }
            }
        }
        return compressed.count == 2 ? groups <= 7 : groups == 8
    }

    private static func doubleColon(in text: Substring) -> Range<Substring.Index>? {
        var index = text.startIndex
        while index < text.endIndex {
            let next = text.index(after: index)
            if next < text.endIndex, text[index] == ":", text[next] == ":" { return index..<text.index(after: next) }
            index = next
        }
        return nil
    }
}
