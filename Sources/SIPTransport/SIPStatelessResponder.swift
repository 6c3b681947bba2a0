import NIOCore
import SIPMessages

/// Answers a request that could not be parsed (RFC 3261 §8.2, §16.3): the status and reason of the error, with the
/// Via, From, To, Call-ID and CSeq lines copied as they came, since the message as a whole did not parse. A
/// datagram with no recognisable request line or Via gets nothing (there is nobody to answer), and responses are
/// never answered.
public enum SIPStatelessResponder {
    public static func response(to datagram: ByteBuffer, error: SIPMessageError) -> ByteBuffer? {
        let text = String(decoding: datagram.readableBytesView.prefix(SIPMessageLimits.maximumHeadLength), as: UTF8.self)
        let lines = text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }).map { $0.last == "\r" ? $0.dropLast() : $0 }
        guard let first = lines.first, !first.uppercased().hasPrefix("SIP/"), first.contains(" ") else { return nil }
        var copied: [Substring] = []
        var sawVia = false
        for line in lines.dropFirst() {
            if line.isEmpty { break }
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = line[..<colon].trimmingSpaces.lowercased()
            switch name {
            case "via", "v":
                sawVia = true
                copied.append(line)
            case "from", "f", "to", "t", "call-id", "i", "cseq":
                copied.append(line)
            default:
                continue
            }
        }
        guard sawVia else { return nil }
        var output = ByteBuffer()
        output.writeString("SIP/2.0 \(error.statusCode) \(error.reasonPhrase.replacingLineBreaks)\r\n")
        for line in copied { output.writeString(String(line) + "\r\n") }
        output.writeString("Content-Length: 0\r\n\r\n")
        return output
    }
}

extension Substring {
    fileprivate var trimmingSpaces: Substring {
        var text = self
        while text.first == " " || text.first == "\t" { text = text.dropFirst() }
        while text.last == " " || text.last == "\t" { text = text.dropLast() }
        return text
    }
}

extension String {
    /// A reason phrase may not hold CR or LF.
    fileprivate var replacingLineBreaks: String { String(map { $0 == "\r" || $0 == "\n" ? " " : $0 }) }
}
