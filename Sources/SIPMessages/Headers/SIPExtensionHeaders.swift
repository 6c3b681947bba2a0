/// Headers of the SIP extensions the gateway speaks, parsed and written: Session-Expires and Min-SE (RFC 4028),
/// RSeq and RAck (RFC 3262), Reason (RFC 3326).

/// `Session-Expires: 1800;refresher=uac` (RFC 4028 §4). The refresher names a role in the transaction that carried
/// the header: `uac` the sender of the request, `uas` its receiver.
public struct SIPSessionExpires: Sendable, Equatable {
    public enum Refresher: String, Sendable, Equatable { case uac, uas }

    public var seconds: Int
    public var refresher: Refresher?

    public init(seconds: Int, refresher: Refresher?) {
        self.seconds = seconds
        self.refresher = refresher
    }

    public var serialized: String { "\(seconds)" + (refresher.map { ";refresher=\($0.rawValue)" } ?? "") }

    public init(parsing raw: Substring) throws(SIPMessageError) {
        let (first, parameters) = try SIPParameters.valueAndParameters(raw, what: "Session-Expires")
        guard let value = SIPDeltaSeconds.parse(first), value > 0 else { throw .badRequest("malformed Session-Expires '\(raw)'") }
        seconds = value
        switch (parameters["refresher"] ?? nil)?.lowercased() {
        case nil: refresher = nil
        case "uac": refresher = .uac
        case "uas": refresher = .uas
        case let other?: throw .badRequest("Session-Expires refresher must be uac or uas, not '\(other)'")
        }
    }
}

/// `Min-SE: 90` (RFC 4028 §5), and the delta-seconds of Session-Expires, RSeq and Expires.
public enum SIPDeltaSeconds {
    /// Digits only, below 2^31 (RFC 3261 §25.1 delta-seconds; RFC 3262's response-num has the same range).
    public static func parse(_ raw: Substring) -> Int? {
        let text = SIPGrammar.trimmed(raw.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false).first ?? "")
        guard !text.isEmpty, text.utf8.count <= 10, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let value = Int(text), value < 1 << 31 else {
            return nil
        }
        return value
    }
}

/// `RAck: 776656 1 INVITE` (RFC 3262 §7.2): the RSeq of the reliable provisional response a PRACK acknowledges, and
/// the CSeq of the request it answered.
public struct SIPRAck: Sendable, Equatable {
    public var responseNumber: UInt32
    public var cseq: SIPCSeq

    public init(responseNumber: UInt32, cseq: SIPCSeq) {
        self.responseNumber = responseNumber
        self.cseq = cseq
    }

    public var serialized: String { "\(responseNumber) \(cseq.serialized)" }

    public init(parsing raw: Substring) throws(SIPMessageError) {
        let text = SIPGrammar.trimmed(raw)
        guard let space = text.firstIndex(where: { $0 == " " || $0 == "\t" }), let number = SIPDeltaSeconds.parse(text[..<space]), number > 0 else {
            throw .badRequest("malformed RAck '\(raw)'")
        }
        responseNumber = UInt32(number)
        cseq = try SIPCSeq(parsing: text[space...])
    }
}

/// `Reason: Q.850;cause=16;text="Normal call clearing"` (RFC 3326): why a BYE or CANCEL was sent.
public struct SIPReason: Sendable, Equatable {
    /// `SIP` or `Q.850` (or another registered protocol).
    public var protocolName: String
    public var cause: Int?
    public var text: String?

    public init(protocolName: String, cause: Int?, text: String?) {
        self.protocolName = protocolName
        self.cause = cause
        self.text = text
    }

    /// Q.850 cause 16: the call ended normally.
    public static func normalClearing(_ text: String = "Normal call clearing") -> SIPReason { SIPReason(protocolName: "Q.850", cause: 16, text: text) }

    public var serialized: String {
        var value = protocolName
        if let cause { value += ";cause=\(cause)" }
        if let text {
            let escaped = text.replacingAll("\\", with: "\\\\").replacingAll("\"", with: "\\\"")
            value += ";text=\"\(escaped)\""
        }
        return value
    }

    public init(parsing raw: Substring) throws(SIPMessageError) {
        let (first, parameters) = try SIPParameters.valueAndParameters(raw, what: "Reason")
        guard SIPGrammar.isToken(first) else { throw .badRequest("malformed Reason '\(raw)'") }
        protocolName = String(first)
        if let value = parameters["cause"] ?? nil {
            guard let number = SIPDeltaSeconds.parse(value[...]) else { throw .badRequest("Reason cause must be a number, not '\(value)'") }
            cause = number
        } else {
            cause = nil
        }
        text = (parameters["text"] ?? nil).map { value in
            value.count >= 2 && value.first == "\"" ? SIPGrammar.unquoted(value[...]) : value
        }
    }
}
