import SIPMessages

/// What matches a message to its transaction (RFC 3261 §17.1.3, §17.2.3).
///
/// - RFC 3261 requests (branch with the magic cookie `z9hG4bK`): the branch, the top Via's sent-by and the method,
///   with an ACK matching its INVITE; CANCEL has a transaction of its own.
/// - Older requests (RFC 2543, no cookie): the Request-URI, From tag, Call-ID, CSeq number, top Via and method.
/// - Responses, on the client side: the top Via's branch and the CSeq method.
public struct SIPTransactionKey: Hashable, Sendable, CustomStringConvertible {
    private let parts: [String]

    public var description: String { parts.joined(separator: "|") }

    /// The key of the server transaction a request belongs to; nil when the request has no usable top Via.
    public static func server(_ request: SIPRequest) -> SIPTransactionKey? {
        guard let top = request.headers.list("Via").first, let via = try? SIPVia(parsing: top[...]) else { return nil }
        let method = request.method == "ACK" ? "INVITE" : request.method
        let sentBy = via.host.description.lowercased() + ":" + String(via.port ?? 0)
        if let branch = via.branch, branch.hasPrefix(SIPVia.magicCookie) {
            return SIPTransactionKey(parts: ["3261", branch, sentBy, method])
        }
        let fromTag = request.headers.first("From").flatMap { try? SIPNameAddress(parsing: $0[...]) }?.tag ?? ""
        let cseq = request.headers.cseq?.sequence ?? 0
        return SIPTransactionKey(parts: [
            "2543", request.uri.description, fromTag, request.headers.first("Call-ID") ?? "", String(cseq), top, method,
        ])
    }

    /// The key of the client transaction that sent `request`.
    public static func client(_ request: SIPRequest) -> SIPTransactionKey? {
        guard let top = request.headers.list("Via").first, let branch = (try? SIPVia(parsing: top[...]))?.branch else { return nil }
        return SIPTransactionKey(parts: ["client", branch, request.method])
    }

    /// The key of the client transaction a response belongs to.
    public static func client(_ response: SIPResponse) -> SIPTransactionKey? {
        guard let top = response.headers.list("Via").first, let branch = (try? SIPVia(parsing: top[...]))?.branch,
              let method = response.headers.cseq?.method
        else { return nil }
        return SIPTransactionKey(parts: ["client", branch, method])
    }
}
