/// What a caller wants, as the classifier names it. The spam classes are the original's seven plus the ones the
/// research on call screeners adds; the wanted classes are the calls a screener must never drop (one-time codes,
/// couriers, pharmacies, genuine fraud alerts, people the user knows). `unknown` is both a trained class (openers
/// that say nothing: "hello?", "who is this") and the answer whenever the best class is below the threshold.
public enum Intent: String, CaseIterable, Codable, Sendable, Hashable, Comparable {
    case salesCall = "sales_call"
    case loanOffer = "loan_offer"
    case investmentPitch = "investment_pitch"
    case insuranceSales = "insurance_sales"
    case survey
    case telemarketing
    case scam
    case debtCollection = "debt_collection"
    case charity
    case political
    case recordedRobocall = "recorded_robocall"
    case verificationCode = "verification_code"
    case delivery
    case appointmentOrPharmacy = "appointment_or_pharmacy"
    case bankFraudAlert = "bank_fraud_alert"
    case personal
    case unknown

    /// The caller's business is one the user asked not to be bothered with: the AI may end the call early.
    public var isSpam: Bool {
        switch self {
        case .salesCall, .loanOffer, .investmentPitch, .insuranceSales, .survey, .telemarketing, .scam, .debtCollection,
            .charity, .political, .recordedRobocall:
            true
        case .verificationCode, .delivery, .appointmentOrPharmacy, .bankFraudAlert, .personal, .unknown:
            false
        }
    }

    /// A call the user wants: never hung up on before the maximum duration; its message is captured.
    public var isWanted: Bool {
        switch self {
        case .verificationCode, .delivery, .appointmentOrPharmacy, .bankFraudAlert, .personal: true
        default: false
        }
    }

    /// Recorded messages: the AI does not talk over them and captures the whole message.
    public var isRecording: Bool { self == .recordedRobocall || self == .verificationCode }

    public static func < (lhs: Intent, rhs: Intent) -> Bool { lhs.rawValue < rhs.rawValue }
}
