/// The checks every UAS makes on a message before it looks at it (RFC 3261 §8.1.1, §8.2, §18.3, §20), each a 400
/// with its reason. They apply to responses too: a response that fails them is discarded (§18.1.2).
enum SIPMessageValidation {
    /// Headers a request carries exactly once (§8.1.1); Via at least once.
    static let singleRequestHeaders = ["To", "From", "CSeq", "Call-ID", "Max-Forwards"]
    static let singleResponseHeaders = ["To", "From", "CSeq", "Call-ID"]

    /// Checks `head`; returns its Content-Length, if it has one.
    static func check(_ head: SIPHead) throws(SIPMessageError) -> Int? {
        let headers = head.headers
        let isRequest: Bool
        if case .request = head.startLine { isRequest = true } else { isRequest = false }
        for name in isRequest ? singleRequestHeaders : singleResponseHeaders {
            let count = headers[name].count
            guard count > 0 else { throw .badRequest("missing \(name) header") }
            guard count == 1 else { throw .badRequest("\(name) appears \(count) times") }
        }
        let vias = headers.list("Via")
        guard !vias.isEmpty else { throw .badRequest("missing Via header") }
        for via in vias { _ = try SIPVia(parsing: via[...]) }
        let callID = headers.first("Call-ID")!
        guard !callID.isEmpty, !callID.utf8.contains(UInt8(ascii: " ")), !callID.utf8.contains(UInt8(ascii: ",")) else { throw .badRequest("malformed Call-ID '\(callID.prefix(40))'") }
        let cseq = try SIPCSeq(parsing: headers.first("CSeq")![...])
        for name in ["From", "To"] {
            let values = SIPGrammar.split(headers.first(name)![...], at: ",")
            guard values.count == 1 else { throw .badRequest("\(name) holds more than one address") }
            _ = try SIPNameAddress(parsing: values[0])
        }
        for name in ["Route", "Record-Route"] {
            for value in headers.list(name) { _ = try SIPNameAddress(parsing: value[...]) }
        }
        for value in headers.list("Contact") where value != "*" {
            _ = try SIPNameAddress(parsing: value[...])
        }
        if case .request(let method, _) = head.startLine {
            guard cseq.method == method else { throw .badRequest("CSeq method \(cseq.method) is not the request's method \(method)") }
            // 1*DIGIT from 0 to 255 (§20.22); leading zeros are digits too (RFC 4475's wsinv has 0068).
            let maxForwards = headers.first("Max-Forwards")!
            let significant = maxForwards.drop { $0 == "0" }
            guard !maxForwards.isEmpty, maxForwards.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), significant.count <= 3,
                  let hops = Int(significant.isEmpty ? "0" : significant), hops <= 255 else {
                throw .badRequest("Max-Forwards '\(maxForwards.prefix(20))' is not 0-255")
            }
        }
        if let date = headers.first("Date") { try checkDate(date) }
        return try contentLength(headers)
    }

    /// Content-Length: one non-negative integer; repeated only with the same value.
    static func contentLength(_ headers: SIPHeaders) throws(SIPMessageError) -> Int? {
        let values = headers["Content-Length"]
        guard let first = values.first else { return nil }
        guard values.allSatisfy({ $0 == first }) else { throw .badRequest("conflicting Content-Length headers") }
        guard !first.isEmpty, first.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else {
            throw .badRequest("Content-Length '\(first.prefix(20))' is not a non-negative integer")
        }
        guard first.count <= 9, let length = Int(first) else { throw .messageTooLarge("Content-Length \(first.prefix(20))") }
        return length
    }

    /// rfc1123-date: `Sat, 13 Nov 2010 23:29:00 GMT` (§20.17: only GMT).
    static func checkDate(_ date: String) throws(SIPMessageError) {
        let parts = date.split(separator: " ")
        let days = ["Mon,", "Tue,", "Wed,", "Thu,", "Fri,", "Sat,", "Sun,"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        let time = parts.count == 6 ? parts[4].split(separator: ":") : []
        guard parts.count == 6, days.contains(String(parts[0])), parts[1].count == 2, parts[1].allSatisfy(\.isNumber),
              months.contains(String(parts[2])), parts[3].count == 4, parts[3].allSatisfy(\.isNumber),
              time.count == 3, time.allSatisfy({ $0.count == 2 && $0.allSatisfy(\.isNumber) }), parts[5] == "GMT"
        else { throw .badRequest("Date '\(date.prefix(40))' is not an RFC 1123 date in GMT") }
    }
}
