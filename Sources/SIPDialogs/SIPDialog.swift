import SIPMessages

/// A dialog (RFC 3261 §12): the state two user agents share for a call, made from the INVITE and the response that
/// carries a To tag (early on a 1xx, confirmed on a 2xx). It builds the requests we send in it (§12.2.1.1) and
/// checks the ones we receive (§12.2.2). A struct: the call owns it.
public struct SIPDialog: Sendable, Equatable {
    public enum Role: Sendable, Equatable { case uac, uas }
    public enum State: Sendable, Equatable { case early, confirmed, terminated }

    /// Call-ID, local tag, remote tag: what identifies a dialog (§12).
    public struct ID: Hashable, Sendable {
        public var callID: String
        public var localTag: String
        public var remoteTag: String

        public init(callID: String, localTag: String, remoteTag: String) {
            self.callID = callID
            self.localTag = localTag
            self.remoteTag = remoteTag
        }
    }

    public let role: Role
    public private(set) var state: State
    public let id: ID
    /// Our address (From when we are the UAC, To when the UAS), without tag.
    public let localURI: SIPURIReference
    public let remoteURI: SIPURIReference
    /// Where requests in the dialog go: the far end's Contact, updated by target-refresh requests (re-INVITE, UPDATE).
    public private(set) var remoteTarget: SIPURIReference
    /// Record-Route of the dialog-forming messages, in the order our requests carry it as Route.
    public let routeSet: [String]
    /// The CSeq of our last request; the first is random below 2^31 (§8.1.1.5).
    public private(set) var localSequence: UInt32
    /// The CSeq of the far end's last request, nil until one arrives.
    public private(set) var remoteSequence: UInt32?
    public let secure: Bool

    /// The dialog a UAS forms by answering `request` (an INVITE) with `response`, which carries our To tag (§12.1.1).
    public init(uas request: SIPRequest, response: SIPResponse) throws(SIPDialogError) {
        guard let callID = request.headers.first("Call-ID"),
              let from = request.headers.first("From").flatMap({ try? SIPNameAddress(parsing: $0[...]) }), let remoteTag = from.tag,
              let to = response.headers.first("To").flatMap({ try? SIPNameAddress(parsing: $0[...]) }), let localTag = to.tag,
              let cseq = request.headers.cseq
        else { throw .malformed("the INVITE and its response need Call-ID, From and To tags and CSeq to form a dialog") }
        guard let contact = request.headers.list("Contact").first.flatMap({ try? SIPNameAddress(parsing: $0[...]) }) else {
            throw .malformed("a dialog-forming request must carry a Contact (§8.1.1.8)")
        }
        role = .uas
        state = response.statusCode < 200 ? .early : .confirmed
        id = ID(callID: callID, localTag: localTag, remoteTag: remoteTag)
        localURI = to.uri
        remoteURI = from.uri
        remoteTarget = contact.uri
        routeSet = request.headers.list("Record-Route")
        localSequence = UInt32.random(in: 1..<(1 << 16))
        remoteSequence = cseq.sequence
        secure = request.uri.sipURI?.secure == true
    }

    /// The dialog a UAC forms from its `request` and a `response` with a To tag (§12.1.2): the route set is the
    /// response's Record-Route reversed.
    public init(uac request: SIPRequest, response: SIPResponse) throws(SIPDialogError) {
        guard let callID = request.headers.first("Call-ID"),
              let from = request.headers.first("From").flatMap({ try? SIPNameAddress(parsing: $0[...]) }), let localTag = from.tag,
              let to = response.headers.first("To").flatMap({ try? SIPNameAddress(parsing: $0[...]) }), let remoteTag = to.tag,
              let cseq = request.headers.cseq
        else { throw .malformed("the request and its response need Call-ID, From and To tags and CSeq to form a dialog") }
        guard let contact = response.headers.list("Contact").first.flatMap({ try? SIPNameAddress(parsing: $0[...]) }) else {
            throw .malformed("a dialog-forming response must carry a Contact (§12.1.1)")
        }
        role = .uac
        state = response.statusCode < 200 ? .early : .confirmed
        id = ID(callID: callID, localTag: localTag, remoteTag: remoteTag)
        localURI = from.uri
        remoteURI = to.uri
        remoteTarget = contact.uri
        routeSet = response.headers.list("Record-Route").reversed()
        localSequence = cseq.sequence
        remoteSequence = nil
        secure = request.uri.sipURI?.secure == true
    }

    /// The dialog ID of a message we received: a request names us in To, a response (to our request) in From.
    public static func id(ofReceived message: SIPMessage) -> ID? {
        guard let callID = message.callID, let fromTag = message.from?.tag, let toTag = message.to?.tag else { return nil }
        if case .request = message { return ID(callID: callID, localTag: toTag, remoteTag: fromTag) }
        return ID(callID: callID, localTag: fromTag, remoteTag: toTag)
    }

    /// A 2xx confirmed an early dialog.
    public mutating func confirm() {
        if state == .early { state = .confirmed }
    }

    public mutating func terminate() { state = .terminated }

    /// A request we send in the dialog (§12.2.1.1): Request-URI the remote target (loose routing, RFC 3261 §16.12),
    /// Route the route set, From and To with the tags, the dialog's Call-ID, the next CSeq (ACK and CANCEL reuse the
    /// INVITE's: pass `sequence`), our Contact, a new branch.
    public mutating func makeRequest(method: String, via: SIPVia, contact: String, sequence: UInt32? = nil) -> SIPRequest {
        let number: UInt32
        if let sequence {
            number = sequence
        } else {
            localSequence &+= 1
            number = localSequence
        }
        var headers = SIPHeaders()
        headers.add("Via", via.serialized)
        headers.add("Max-Forwards", "70")
        let local = SIPNameAddress(uri: localURI, parameters: SIPParameters([.init(name: "tag", value: id.localTag)]))
        let remote = SIPNameAddress(uri: remoteURI, parameters: SIPParameters([.init(name: "tag", value: id.remoteTag)]))
        headers.add("From", local.serialized)
        headers.add("To", remote.serialized)
        headers.add("Call-ID", id.callID)
        headers.add("CSeq", "\(number) \(method)")
        for route in routeSet { headers.add("Route", route) }
        if method != "ACK" && method != "CANCEL" && method != "BYE" { headers.add("Contact", contact) }
        return SIPRequest(method: method, uri: remoteTarget, headers: headers)
    }

    /// Checks a request the far end sent in the dialog (§12.2.2): a CSeq below the last one is out of order (answer
    /// 500); ACK and CANCEL carry the INVITE's number and are not checked. A target-refresh request (re-INVITE,
    /// UPDATE) with a Contact moves the remote target.
    public mutating func receive(_ request: SIPRequest) throws(SIPDialogError) {
        guard let cseq = request.headers.cseq else { throw .malformed("a request without CSeq") }
        if request.method != "ACK" && request.method != "CANCEL" {
            if let last = remoteSequence, cseq.sequence <= last, !(cseq.sequence == last && request.method == "PRACK") {
                throw .outOfOrder("CSeq \(cseq.sequence) is not above the dialog's last \(last)")
            }
            remoteSequence = cseq.sequence
        }
        if request.method == "INVITE" || request.method == "UPDATE",
           let contact = request.headers.list("Contact").first.flatMap({ try? SIPNameAddress(parsing: $0[...]) }) {
            remoteTarget = contact.uri
        }
        if request.method == "BYE" { state = .terminated }
    }
}
