/// The screening decision for one incoming call: a pure function of what is known when the INVITE arrives, with
/// every rule that spoke kept as a reason (the call record stores them). The order is the product's:
///
/// 1. no user owns the dialled number → `reject` (404); the store cannot say → `screen` (a call is never refused
///    because the database is down);
/// 2. the user's whitelist allows the caller → `connect` (to the user's device or forwarding number);
/// 3. the user's block list has the caller → `block` (603, or answered with a goodbye, per `blockAction`);
/// 4. the user's settings: AI off, or outside the screening schedule → `connect`; the AI switched off for everyone
///    (the global flag `feature.ai_screening`) → `connect`;
/// 5. the caller's spam score at or above the user's threshold (the user's own verdict wins: `not_spam` scores 0,
///    `spam` 1), or a failed STIR/SHAKEN verification when the global flag `feature.block_failed_stir` is on →
///    `block`;
/// 6. everyone else → `screen` (the AI answers).
public enum ScreeningPolicy {
    public enum Outcome: String, Sendable, Equatable, Codable {
        case reject, connect, block, screen
    }

    public enum BlockAction: String, Sendable, Equatable, Codable {
        /// 603 Decline.
        case reject
        /// Answered, told goodbye, hung up.
        case goodbye
    }

    /// What the gateway knows of the call and its user when it decides.
    public struct Input: Sendable, Equatable {
        /// The owner of the dialled number; nil when no one owns it, or when the store could not say.
        public var userId: String?
        /// The owner could not be looked up (the store failed or was too slow): the call is screened, never refused.
        public var ownerUnavailable = false
        /// The whitelist's verdict on the caller; nil for an anonymous caller (no number to look up).
        public var whitelist: WhitelistDecision?
        public var aiEnabled = true
        /// Whether now is within the user's screening schedule; nil when the user has none (always).
        public var withinSchedule: Bool?
        /// The caller's spam score as this user sees it; nil when unknown (anonymous, or the store did not answer).
        public var spamScore: Double?
        public var userVerdict: String?
        public var blockThreshold = SpamScore.blockThreshold
        public var blockAction = BlockAction.reject
        /// The STIR/SHAKEN verification status (`TN-Validation-Passed`, `TN-Validation-Failed`, `No-TN-Validation`),
        /// from our verifier or a trusted upstream; nil when there is none.
        public var verstat: String?
        public var attestation: String?
        /// Global feature flags.
        public var aiScreeningFlag = true
        public var blockFailedSTIRFlag = false

        public init(userId: String?) { self.userId = userId }
    }

    public struct Decision: Sendable, Equatable {
        public var outcome: Outcome
        /// For `block`: how.
        public var blockAction: BlockAction?
        /// Every rule that spoke, in order: `user:none`, `whitelist:contact:+14155550123`, `settings:ai_off`,
        /// `profile:score=0.93>=0.80`, `stir:TN-Validation-Failed`, `screen:unknown_caller`, ...
        public var reasons: [String]
    }

    public static func decide(_ input: Input) -> Decision {
        var reasons: [String] = []
        if input.userId == nil {
            if input.ownerUnavailable { return Decision(outcome: .screen, reasons: ["store:owner_unavailable", "screen:unknown_caller"]) }
            return Decision(outcome: .reject, reasons: ["user:none"])
        }
        if let verstat = input.verstat { reasons.append("stir:\(verstat)" + (input.attestation.map { ":\($0)" } ?? "")) }
        switch input.whitelist {
        case .allow?:
            reasons.append(input.whitelist!.reason)
            return Decision(outcome: .connect, reasons: reasons)
        case .block?:
            reasons.append(input.whitelist!.reason)
            return Decision(outcome: .block, blockAction: input.blockAction, reasons: reasons)
        case .unknown?:
            reasons.append(WhitelistDecision.unknown.reason)
        case nil:
            reasons.append("caller:anonymous")
        }
        if !input.aiEnabled {
            reasons.append("settings:ai_off")
            return Decision(outcome: .connect, reasons: reasons)
        }
        if input.withinSchedule == false {
            reasons.append("settings:outside_schedule")
            return Decision(outcome: .connect, reasons: reasons)
        }
        if !input.aiScreeningFlag {
            reasons.append("flag:ai_screening_off")
            return Decision(outcome: .connect, reasons: reasons)
        }
        if let score = input.spamScore {
            let shown = "profile:score=\(Self.format(score))"
            if input.userVerdict == "spam" {
                reasons.append("profile:user_verdict=spam")
                return Decision(outcome: .block, blockAction: input.blockAction, reasons: reasons)
            }
            if input.userVerdict == "not_spam" {
                reasons.append("profile:user_verdict=not_spam")
            } else if score >= input.blockThreshold {
                reasons.append("\(shown)>=\(Self.format(input.blockThreshold))")
                return Decision(outcome: .block, blockAction: input.blockAction, reasons: reasons)
            } else {
                reasons.append(shown)
            }
        }
        if input.blockFailedSTIRFlag, input.verstat == "TN-Validation-Failed" {
            reasons.append("flag:block_failed_stir")
            return Decision(outcome: .block, blockAction: input.blockAction, reasons: reasons)
        }
        reasons.append("screen:unknown_caller")
        return Decision(outcome: .screen, reasons: reasons)
    }

    static func format(_ value: Double) -> String {
        let hundredths = Int((value * 100).rounded())
        return "\(hundredths / 100).\(hundredths % 100 < 10 ? "0" : "")\(hundredths % 100)"
    }
}
