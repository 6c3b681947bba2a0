/// The caller's tone in one utterance, from cue words. Its weight feeds the frustration score (the original's
/// weights: aggressive 1.0, frustrated 0.8, annoyed 0.6, firm 0.4, neutral 0.2, polite and friendly 0).
public enum CallerTone: String, Codable, Sendable, CaseIterable {
    case aggressive, frustrated, annoyed, firm, neutral, polite, friendly

    public var weight: Double {
        switch self {
        case .aggressive: 1.0
        case .frustrated: 0.8
        case .annoyed: 0.6
        case .firm: 0.4
        case .neutral: 0.2
        case .polite, .friendly: 0
        }
    }

    /// Cue phrases, strongest tone first; matched on the normalised words (`IntentFeatures.normalise`).
    static let cues: [(CallerTone, [String])] = [
        (.aggressive, ["shut up", "idiot", "stupid", "damn", "hell", "listen to me", "how dare", "you people", "screw"]),
        (.frustrated, ["ridiculous", "waste of time", "come on", "why wont you", "why are you", "this is crazy", "are you serious", "i already told"]),
        (.annoyed, ["whatever", "seriously", "ugh", "again", "i said", "just let me", "for the last time"]),
        (.firm, ["you need to", "you must", "immediately", "right now", "final notice", "last chance", "have to", "today only"]),
        (.polite, ["please", "thank you", "thanks", "sorry", "appreciate", "excuse me"]),
        (.friendly, ["great", "wonderful", "how are you", "awesome", "lovely", "have a nice"]),
    ]

    /// Persistence cues: the caller pushes on after being declined.
    static let persistenceCues = ["just", "only", "one minute", "one second", "hear me out", "but", "still", "really", "listen", "again", "wait", "dont hang up", "let me finish", "before you go"]

    public init(utterance: String) {
        let words = " " + String(decoding: IntentFeatures.normalise(utterance), as: UTF8.self) + " "
        for (tone, phrases) in Self.cues where phrases.contains(where: { words.contains(" \($0) ") }) {
            self = tone
            return
        }
        self = .neutral
    }

    static func persistenceCueCount(_ utterance: String) -> Int {
        let words = " " + String(decoding: IntentFeatures.normalise(utterance), as: UTF8.self) + " "
        return persistenceCues.filter { words.contains(" \($0) ") }.count
    }
}

/// Where the AI is in declining a spam caller; each stage's reply is firmer than the last.
public enum DialogStage: String, Codable, Sendable, CaseIterable {
    case opening
    /// Asking an unidentified caller who they are and why they call.
    case identifying
    case politeDecline = "polite_decline"
    case firmRejection = "firm_rejection"
    case hangUpWarning = "hang_up_warning"
    /// Taking a message from a wanted caller.
    case takingMessage = "taking_message"
    /// Listening to a recorded message without talking.
    case listening
    case callEnd = "call_end"
}

/// The original's three scores (termination_manager.py), as functions of the dialog so far. All are in [0, 1].
public enum DialogScores {
    /// Persistence = 0.3 × min(turns/10, 1) + 0.3 × intent repetition over the last 5 caller turns
    /// + 0.2 × keyword score + 0.2 × resistance.
    ///
    /// Intent repetition is the share of the last (up to) 5 classified turns with the most recent turn's intent.
    /// The keyword score is the larger of the caller's persistence cues (0.25 each, at most 1) and the original's
    /// turn floor (0.5 after 5 turns, 0.8 after 8). Resistance is 0.8 when the caller is still being declined
    /// politely or not yet at all after 5 turns, 0.6 at a polite decline, else 0.
    public static func persistence(turns: Int, recentIntents: [Intent], persistenceCues: Int, stage: DialogStage) -> Double {
        let turnScore = min(Double(turns) / 10, 1)
        let window = recentIntents.suffix(5)
        let repetition = window.last.map { last in Double(window.filter { $0 == last }.count) / Double(window.count) } ?? 0
        let floor = turns > 8 ? 0.8 : (turns > 5 ? 0.5 : 0)
        let keyword = max(min(1, 0.25 * Double(persistenceCues)), floor)
        let resistance: Double
        if turns > 5 && (stage == .opening || stage == .identifying || stage == .politeDecline) {
            resistance = 0.8
        } else if stage == .politeDecline {
            resistance = 0.6
        } else {
            resistance = 0
        }
        return 0.3 * turnScore + 0.3 * repetition + 0.2 * keyword + 0.2 * resistance
    }

    /// Frustration = 0.5 × mean tone weight of the last 3 turns + 0.3 × the peak over the call + 0.2 × escalation
    /// (how much the last turn's weight rose over the first of those three, 0 when it fell).
    public static func frustration(tones: [CallerTone]) -> Double {
        guard !tones.isEmpty else { return 0 }
        let recent = tones.suffix(3).map(\.weight)
        let mean = recent.reduce(0, +) / Double(recent.count)
        let peak = tones.map(\.weight).max() ?? 0
        let escalation = max(0, (recent.last ?? 0) - (recent.first ?? 0))
        return 0.5 * mean + 0.3 * peak + 0.2 * escalation
    }

    /// Effectiveness = 0.4 × stage score (call end 1, hang-up warning 0.8, firm rejection 0.6, else 0.3)
    /// + 0.3 × (1 − turns/10, not below 0) + 0.3 × the last reply's confidence.
    public static func effectiveness(stage: DialogStage, turns: Int, replyConfidence: Double) -> Double {
        let stageScore: Double
        switch stage {
        case .callEnd: stageScore = 1
        case .hangUpWarning: stageScore = 0.8
        case .firmRejection: stageScore = 0.6
        default: stageScore = 0.3
        }
        return 0.4 * stageScore + 0.3 * max(0, 1 - Double(turns) / 10) + 0.3 * replyConfidence
    }
}

/// When the AI ends a call. Defaults are the original's (Python engine): 8 turns or 180 s, persistence ≥ 0.8,
/// frustration ≥ 0.9, effectiveness < 0.3 after more than 4 turns. Costs are asymmetric: every rule but the
/// maximum duration applies only to a call classified as spam; a wanted or unidentified caller is never hung up
/// on by the AI before `maximumDuration`.
public struct TerminationPolicy: Codable, Sendable, Equatable {
    public var maximumTurns = 8
    public var maximumDuration: Duration = .seconds(180)
    public var persistenceLimit = 0.8
    public var frustrationLimit = 0.9
    public var effectivenessFloor = 0.3
    public var effectivenessAfterTurns = 4
    /// A recorded spam message (robocall) that has gone quiet this long is over: the AI hangs up.
    public var recordingSilence: Duration = .seconds(8)

    public init() {}

    public enum Reason: String, Codable, Sendable {
        case maximumTurns = "max_turns"
        case maximumDuration = "max_duration"
        case persistence
        case frustration
        case ineffective
        case scam
        case recordingEnded = "recording_ended"
    }

    /// The rule that ends a spam call now, if any (the duration rule is checked for every call by the caller).
    public func spamTermination(turns: Int, persistence: Double, frustration: Double, effectiveness: Double) -> Reason? {
        if turns >= maximumTurns { return .maximumTurns }
        if persistence >= persistenceLimit { return .persistence }
        if frustration >= frustrationLimit { return .frustration }
        if turns > effectivenessAfterTurns && effectiveness < effectivenessFloor { return .ineffective }
        return nil
    }
}
