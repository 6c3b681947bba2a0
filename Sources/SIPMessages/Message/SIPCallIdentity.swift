/// Who an INVITE is from and for, as the routing decision needs it: the called number (the user's DID) from the
/// header the trunk puts it in, the caller from From, and the network-asserted identity (RFC 3325
/// P-Asserted-Identity, with the `verstat` of a STIR/SHAKEN verification service) only when the INVITE came from a
/// trusted trunk. No I/O: the gateway says where the called number is and whether the sender is trusted.
public struct SIPCallIdentity: Sendable, Equatable {
    /// Where a trunk puts the number that was dialled.
    public enum CalledNumberSource: String, Sendable, CaseIterable {
        /// The Request-URI's user part (the default: RFC 3261 routing).
        case requestURI = "request_uri"
        case to
        /// RFC 3455's P-Called-Party-ID (IMS trunks).
        case pCalledPartyID = "p_called_party_id"
        /// The number a call was forwarded from: the most recent Diversion (RFC 5806), else History-Info (RFC 7044).
        case diversion
    }

    /// The dialled number, or user, without URI parameters; nil when the source header is absent or unusable (the
    /// Request-URI is the fallback for the other sources).
    public var called: String?
    /// Where `called` was taken from in the end.
    public var calledSource: CalledNumberSource
    /// The From user part (or tel number): what the caller claims.
    public var caller: String?
    public var callerName: String?
    /// The P-Asserted-Identity number, present only when the sender is trusted.
    public var asserted: String?
    /// The `verstat` of the asserted identity (for example `TN-Validation-Passed`), only from a trusted sender.
    public var verstat: String?
    /// The caller withheld their identity (`Privacy: id` or `anonymous` in From).
    public var anonymous: Bool

    public init(_ invite: SIPRequest, calledNumberSource: CalledNumberSource, trustedSender: Bool) {
        let requestURINumber = Self.number(invite.uri)
        var called: String?, source = CalledNumberSource.requestURI
        switch calledNumberSource {
        case .requestURI: break
        case .to: called = SIPMessage.request(invite).to.flatMap { Self.number($0.uri) }
        case .pCalledPartyID:
            called = invite.headers.first("P-Called-Party-ID").flatMap { try? SIPNameAddress(parsing: $0[...]) }.flatMap { Self.number($0.uri) }
        case .diversion:
            called = invite.headers.list("Diversion").first.flatMap { try? SIPNameAddress(parsing: $0[...]) }.flatMap { Self.number($0.uri) }
                ?? Self.divertedFrom(historyInfo: invite.headers.list("History-Info"))
        }
        if called != nil { source = calledNumberSource } else { called = requestURINumber }
        self.called = called
        calledSource = source
        let from = SIPMessage.request(invite).from
        caller = from.flatMap { Self.number($0.uri) }
        callerName = from?.displayName
        let privacy = invite.headers.list("Privacy").map { $0.lowercased() }
        anonymous = privacy.contains("id") || caller?.lowercased() == "anonymous"
        if trustedSender, let identity = invite.headers.list("P-Asserted-Identity").compactMap({ try? SIPNameAddress(parsing: $0[...]) }).first {
            asserted = Self.number(identity.uri)
            verstat = Self.verstat(identity.uri)
        } else {
            asserted = nil
            verstat = nil
        }
    }

    /// The user part of a SIP URI without its user parameters (`+15551234;npdi` → `+15551234`), or a tel URI's number.
    public static func number(_ uri: SIPURIReference) -> String? {
        switch uri {
        case .sip(let sip):
            guard let user = sip.user, !user.isEmpty else { return nil }
            return String(user.split(separator: ";", maxSplits: 1).first ?? "")
        case .tel(let tel): return tel.number
        default: return nil
        }
    }

    /// `verstat` in a tel URI's parameters, or in a SIP URI's user parameters (`sip:+1555;verstat=TN-Validation-Passed@host`).
    static func verstat(_ uri: SIPURIReference) -> String? {
        switch uri {
        case .tel(let tel): return tel.parameters["verstat"] ?? nil
        case .sip(let sip):
            if let value = sip.parameters["verstat"] ?? nil { return value }
            for parameter in (sip.user ?? "").split(separator: ";").dropFirst() {
                let pair = parameter.split(separator: "=", maxSplits: 1)
                if pair.count == 2, pair[0].lowercased() == "verstat" { return String(pair[1]) }
            }
            return nil
        default: return nil
        }
    }

    /// History-Info (RFC 7044): the entries in index order; the last is the target reached, and the one before it
    /// the number the call was diverted from.
    static func divertedFrom(historyInfo: [String]) -> String? {
        let entries = historyInfo.compactMap { try? SIPNameAddress(parsing: $0[...]) }
        guard entries.count >= 2 else { return nil }
        let indexed = entries.map { entry -> (index: String, uri: SIPURIReference) in
            let index: String = (entry.parameters["index"] ?? nil) ?? ""
            return (index, entry.uri)
        }
        let ordered = indexed.sorted { $0.index < $1.index }
        return number(ordered[ordered.count - 2].uri)
    }
}
