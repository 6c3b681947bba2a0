/// The one line a user hears on their phone before a wanted caller is put through: who is calling, what about, and
/// the start of what they said. Pure text; the gateway speaks it.
public enum CallSummary {
    public static func line(caller: String?, intent: Intent?, said: String, maxWords: Int = 16) -> String {
        let digits = (caller ?? "").filter(\.isNumber)
        let who = digits.count >= 3 ? digits.map(String.init).joined(separator: " ") : "an unknown number"
        var text = "A call from \(who)"
        if let intent, intent != .unknown { text += ", " + describe(intent) }
        let words = said.split(whereSeparator: \.isWhitespace)
        if !words.isEmpty {
            text += ". They said: " + words.prefix(maxWords).joined(separator: " ") + (words.count > maxWords ? " ..." : "")
        }
        return text + "."
    }

    static func describe(_ intent: Intent) -> String {
        switch intent {
        case .personal: "a personal call"
        case .delivery: "about a delivery"
        case .appointmentOrPharmacy: "about an appointment or a prescription"
        case .bankFraudAlert: "a fraud alert from a bank"
        case .verificationCode: "a verification code"
        default: "about " + intent.rawValue.split(separator: "_").joined(separator: " ")
        }
    }
}
