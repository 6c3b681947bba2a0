/// What a UAS answers a well-formed request before any dialog or transaction is looked at (RFC 3261 §8.2), in the
/// order of that section: the method (§8.2.1, 405 with Allow), the Request-URI scheme (§8.2.2.1, 416), the Require
/// header (§8.2.2.3, 420 with Unsupported), the body's type (§8.2.3, 415 with Accept). A request that passes gets its
/// first response: 100 Trying for an INVITE, 200 OK otherwise, none for an ACK.
public struct SIPUASPolicy: Sendable {
    public var allowedMethods: [String]
    public var supportedSchemes: Set<String>
    public var supportedExtensions: Set<String>
    public var acceptedContentTypes: [String]

    /// The gateway's: the methods and extensions of the SIP issue (RFC 3262 reliable provisionals, RFC 4028 session
    /// timers), SIP, SIPS and tel URIs, SDP alone or inside multipart/mixed (SIP-I), DTMF over INFO.
    public static let gateway = SIPUASPolicy(
        allowedMethods: ["INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "REGISTER", "PRACK", "UPDATE", "INFO", "REFER", "NOTIFY"],
        supportedSchemes: ["sip", "sips", "tel"],
        supportedExtensions: ["100rel", "timer", "replaces", "outbound", "path"],
        acceptedContentTypes: ["application/sdp", "multipart/mixed", "application/dtmf-relay", "application/dtmf", "message/sipfrag"]
    )

    public init(allowedMethods: [String], supportedSchemes: Set<String>, supportedExtensions: Set<String>, acceptedContentTypes: [String]) {
        self.allowedMethods = allowedMethods
        self.supportedSchemes = supportedSchemes
        self.supportedExtensions = supportedExtensions
        self.acceptedContentTypes = acceptedContentTypes
    }

    public struct Verdict: Sendable, Equatable {
        public var statusCode: Int
        public var reasonPhrase: String
        /// Headers the response must carry: Allow with 405, Unsupported with 420, Accept with 415.
        public var headers: [SIPHeaders.Field]

        public init(statusCode: Int, reasonPhrase: String, headers: [SIPHeaders.Field] = []) {
            self.statusCode = statusCode
            self.reasonPhrase = reasonPhrase
            self.headers = headers
        }
    }

    /// The first response to `request`; nil for an ACK, which is never answered.
    public func verdict(for request: SIPRequest) -> Verdict? {
        guard allowedMethods.contains(request.method) else {
            return Verdict(statusCode: 405, reasonPhrase: "Method Not Allowed", headers: [.init(name: "Allow", value: allowedMethods.joined(separator: ", "))])
        }
        if request.method == "ACK" { return nil }
        guard supportedSchemes.contains(request.uri.scheme) else {
            return Verdict(statusCode: 416, reasonPhrase: "Unsupported URI Scheme", headers: [])
        }
        // §8.2.2.3 (and CANCEL and ACK carry no meaningful Require).
        if request.method != "CANCEL" {
            let unsupported = request.headers.list("Require").filter { !$0.isEmpty && !supportedExtensions.contains($0.lowercased()) }
            if !unsupported.isEmpty {
                return Verdict(statusCode: 420, reasonPhrase: "Bad Extension", headers: [.init(name: "Unsupported", value: unsupported.joined(separator: ", "))])
            }
        }
        if request.body.readableBytes > 0, let contentType = request.headers.first("Content-Type") {
            let type = contentType.split(separator: ";").first.map { SIPGrammar.trimmed($0).lowercased() } ?? ""
            let encoding = request.headers.first("Content-Encoding")?.lowercased()
            if !acceptedContentTypes.contains(type) || (encoding != nil && encoding != "identity") {
                return Verdict(statusCode: 415, reasonPhrase: "Unsupported Media Type", headers: [.init(name: "Accept", value: acceptedContentTypes.joined(separator: ", "))])
            }
        }
        return request.method == "INVITE" ? Verdict(statusCode: 100, reasonPhrase: "Trying", headers: []) : Verdict(statusCode: 200, reasonPhrase: "OK", headers: [])
    }
}
