import AnswerNinjaCore

/// One thing the AI says and does (the `reply` of the conversation protocol), with why.
public struct DialogTurn: Codable, Sendable, Equatable {
    public var turnId: String
    public var text: String
    public var action: ConversationMessage.Action
    /// The call's intent as the dialog understands it after this turn (nil before any caller speech).
    public var intent: Intent?
    public var confidence: Double?
    public var stage: DialogStage
    /// Set when this turn ends the call.
    public var endReason: TerminationPolicy.Reason?

    enum CodingKeys: String, CodingKey {
        case turnId = "turn_id"
        case text, action, intent, confidence, stage
        case endReason = "end_reason"
    }
}

/// The dialog of one AI call: a state machine fed with what the caller said (already classified), DTMF digits and
/// the time, returning what to say and do. No I/O, no clock: every event carries its offset from the answer.
///
/// Policy, in order, for each final caller utterance:
/// 1. a recorded message (robocall, one-time code): listen, never talk over it, capture it all;
/// 2. a wanted caller (delivery, pharmacy or appointment, fraud alert, someone the user knows; once a turn is
///    confidently wanted, the call stays protected): take a message, offer to connect, never hang up;
/// 3. a scam: one line that gives nothing away, then hang up;
/// 4. other spam: decline and ask for the do-not-call list, firmer each turn, and hang up when the termination
///    policy says so, always after a polite final line (the time-waster persona instead stalls until the maximum
///    duration);
/// 5. anyone else: ask who is calling and why, then offer to take a message; never hang up.
/// Only the maximum duration ends a call that is not spam.
public struct DialogStateMachine: Sendable {
    public let settings: DialogSettings
    /// A turn whose top class is wanted with at least this confidence protects the call from early hangup.
    public static let protectionConfidence = 0.6

    public private(set) var stage: DialogStage = .opening
    /// Caller utterances so far (finals).
    public private(set) var turns = 0
    public private(set) var elapsed: Duration = .zero
    public private(set) var callIntent: Intent?
    public private(set) var callConfidence = 0.0
    public private(set) var persistence = 0.0
    public private(set) var frustration = 0.0
    public private(set) var effectiveness = 0.0
    /// Everything the caller said, in order: the message passed to the user for wanted and recorded calls.
    public private(set) var callerUtterances: [String] = []
    public private(set) var digits = ""
    public private(set) var challengePassed = false
    public private(set) var protected = false
    public private(set) var bargeIns = 0
    public private(set) var ended: TerminationPolicy.Reason?

    private var evidence: [Intent: Double] = [:]
    private var recentIntents: [Intent] = []
    private var tones: [CallerTone] = []
    private var persistenceCues = 0
    private var replies = 0
    private var lineUses: [Persona.Line: Int] = [:]
    private var offeredConnection = false
    private var unknownTurns = 0
    private var lastCallerActivity: Duration = .zero

    public init(settings: DialogSettings) {
        self.settings = settings
    }

    /// Whether the call is treated as spam now: the accumulated intent is spam, most of the confident evidence so
    /// far is for spam classes (a seller whose turns read as sales, then survey, is still spam), and no turn was
    /// confidently wanted.
    public var isSpamCall: Bool {
        guard let callIntent, !protected, callIntent.isSpam else { return false }
        let total = evidence.values.reduce(0, +)
        let spam = evidence.filter { $0.key.isSpam }.values.reduce(0, +)
        return total > 0 && spam / total >= IntentClassifier.defaultThreshold
    }

    /// The caller's message (what a wanted or recorded call said), for the user.
    public var message: String { callerUtterances.joined(separator: " ") }

    /// The opening line, said when the call is answered.
    public mutating func open() -> DialogTurn {
        var text = line(.opening, persona: settings.persona == .timeWaster ? .polite : settings.persona)
        if settings.challenge { text += " " + line(.challenge, persona: basePersona) }
        return turn(text, .continue)
    }

    /// A final transcript of the caller at `at` (from the answer).
    public mutating func callerSaid(_ text: String, classification: IntentClassification, at: Duration) -> DialogTurn? {
        guard ended == nil else { return nil }
        elapsed = max(elapsed, at)
        lastCallerActivity = elapsed
        turns += 1
        callerUtterances.append(text)
        tones.append(CallerTone(utterance: text))
        persistenceCues = CallerTone.persistenceCueCount(text)
        absorb(classification)
        if let end = durationEnd() { return end }

        let reply: DialogTurn
        if let callIntent, callIntent.isRecording, callConfidence >= IntentClassifier.defaultThreshold, !protectedByOtherWanted {
            stage = .listening
            reply = turn("", .listen)
        } else if protected || callIntent?.isWanted == true {
            reply = wantedReply(to: text)
        } else if isSpamCall, callIntent == .scam, !settings.timeWaster {
            reply = end(line(.scamGoodbye, persona: basePersona), reason: .scam)
        } else if isSpamCall {
            reply = spamReply()
        } else {
            reply = unknownReply()
        }
        updateScores(replyConfidence: reply.confidence ?? 0.5)
        if reply.endReason == nil, isSpamCall, !settings.timeWaster, stage != .listening,
            let reason = settings.policy.spamTermination(turns: turns, persistence: persistence, frustration: frustration, effectiveness: effectiveness)
        {
            // Always a polite final line: the reply of this turn becomes the goodbye.
            replies -= 1
            return end(line(.goodbye, persona: basePersona), reason: reason)
        }
        return reply
    }

    /// A DTMF digit from the caller.
    public mutating func digit(_ digit: String, at: Duration) -> DialogTurn? {
        guard ended == nil else { return nil }
        elapsed = max(elapsed, at)
        lastCallerActivity = elapsed
        digits += digit
        if let end = durationEnd() { return end }
        if settings.challenge && !challengePassed && digit == "1" {
            challengePassed = true
            return turn(line(.challengePassed, persona: basePersona), .continue)
        }
        return nil
    }

    /// The clock: ends the call at the maximum duration, and a recorded spam message that has gone quiet.
    public mutating func tick(at: Duration) -> DialogTurn? {
        guard ended == nil else { return nil }
        elapsed = max(elapsed, at)
        if let end = durationEnd() { return end }
        if stage == .listening, isSpamCall, elapsed - lastCallerActivity >= settings.policy.recordingSilence {
            return end(line(.goodbye, persona: basePersona), reason: .recordingEnded)
        }
        return nil
    }

    /// The caller is speaking (a partial transcript): a recorded message that goes on is not over.
    public mutating func callerActive(at: Duration) {
        guard ended == nil else { return }
        elapsed = max(elapsed, at)
        lastCallerActivity = elapsed
    }

    /// The caller spoke over a reply.
    public mutating func bargedIn() {
        bargeIns += 1
    }

    // MARK: - Strategies

    private mutating func wantedReply(to text: String) -> DialogTurn {
        stage = .takingMessage
        let words = " " + String(decoding: IntentFeatures.normalise(text), as: UTF8.self) + " "
        if Self.containsAny(words, Self.goodbyes) {
            // The caller is leaving: say goodbye and let them hang up (the AI never hangs up on a wanted caller).
            return turn(line(.wantedGoodbye, persona: basePersona), .continue)
        }
        if offeredConnection {
            offeredConnection = false
            if Self.isYes(words) {
                return turn(line(.connecting, persona: basePersona), .transfer)
            }
            return turn(line(.messageSaved, persona: basePersona) + " " + line(.anythingElse, persona: basePersona), .continue)
        }
        if lineUses[.takeMessage, default: 0] == 0 {
            if settings.offerConnect {
                offeredConnection = true
                return turn(line(.takeMessage, persona: basePersona), .continue)
            }
            return turn(line(.messageSaved, persona: basePersona) + " " + line(.anythingElse, persona: basePersona), .continue)
        }
        return turn(line(.anythingElse, persona: basePersona), .continue)
    }

    private mutating func spamReply() -> DialogTurn {
        if settings.timeWaster {
            stage = .politeDecline
            return turn(line(.decline, persona: .timeWaster), .continue)
        }
        switch stage {
        case .opening, .identifying, .takingMessage, .listening:
            stage = .politeDecline
            return turn(line(.decline, persona: basePersona), .continue)
        case .politeDecline:
            stage = .firmRejection
            return turn(line(.firm, persona: basePersona), .continue)
        case .firmRejection:
            stage = .hangUpWarning
            return turn(line(.warning, persona: basePersona), .continue)
        case .hangUpWarning, .callEnd:
            return end(line(.goodbye, persona: basePersona), reason: .persistence)
        }
    }

    private mutating func unknownReply() -> DialogTurn {
        unknownTurns += 1
        if unknownTurns >= 3 {
            stage = .takingMessage
            return wantedReply(to: "")
        }
        stage = .identifying
        return turn(line(.askWho, persona: basePersona), .continue)
    }

    // MARK: - Bookkeeping

    private var basePersona: Persona { settings.persona == .timeWaster ? .polite : settings.persona }

    /// A recording-like class never overrides a caller already shown to be a person the user wants.
    private var protectedByOtherWanted: Bool { protected && callIntent != .verificationCode }

    private mutating func absorb(_ classification: IntentClassification) {
        let top = classification.intent == .unknown && classification.confidence < IntentClassifier.defaultThreshold ? nil : classification.intent
        guard let top, top != .unknown else {
            recentIntents.append(.unknown)
            return
        }
        // Only confident answers count: a wanted class that keeps coming second must not take over a spam call, and
        // a spam class that keeps coming second must not end a wanted one.
        evidence[top, default: 0] += classification.confidence
        recentIntents.append(top)
        if top.isWanted && classification.confidence >= Self.protectionConfidence { protected = true }
        let best = evidence.max { $0.value < $1.value || ($0.value == $1.value && $0.key > $1.key) }!
        callIntent = best.key
        // The call's intent's share of the confident evidence, times the mean confidence of the turns that gave it.
        let total = evidence.values.reduce(0, +)
        let turnsForBest = Double(recentIntents.filter { $0 == best.key }.count)
        callConfidence = min(1, (best.value / total) * (best.value / max(1, turnsForBest)))
    }

    private mutating func updateScores(replyConfidence: Double) {
        persistence = DialogScores.persistence(turns: turns, recentIntents: recentIntents.filter { $0 != .unknown }, persistenceCues: persistenceCues, stage: stage)
        frustration = DialogScores.frustration(tones: tones)
        effectiveness = DialogScores.effectiveness(stage: stage, turns: turns, replyConfidence: replyConfidence)
    }

    private mutating func durationEnd() -> DialogTurn? {
        guard elapsed >= settings.policy.maximumDuration else { return nil }
        // A one-time-code call is never answered: it ends without a word.
        let text = stage == .listening && !isSpamCall ? "" : line(stage == .takingMessage ? .wantedGoodbye : .goodbye, persona: basePersona)
        return end(text, reason: .maximumDuration)
    }

    private mutating func end(_ text: String, reason: TerminationPolicy.Reason) -> DialogTurn {
        stage = .callEnd
        ended = reason
        var reply = turn(text, .hangup)
        reply.endReason = reason
        return reply
    }

    private mutating func turn(_ text: String, _ action: ConversationMessage.Action) -> DialogTurn {
        replies += 1
        return DialogTurn(
            turnId: "t\(replies)",
            text: text,
            action: action,
            intent: callIntent,
            confidence: callIntent == nil ? nil : (callConfidence * 1000).rounded() / 1000,
            stage: stage,
            endReason: nil
        )
    }

    private mutating func line(_ kind: Persona.Line, persona: Persona) -> String {
        let choices = persona.lines(kind)
        let use = lineUses[kind, default: 0]
        lineUses[kind] = use + 1
        let name = settings.userName ?? "the person you called"
        var text = choices[use % choices.count]
        if text.hasPrefix("{user}") {
            text = name.prefix(1).uppercased() + name.dropFirst() + text.dropFirst("{user}".count)
        }
        return text
            .replacingOccurrences(of: "{user}'s", with: settings.userName.map { "\($0)'s" } ?? "this number's")
            .replacingOccurrences(of: "{user}", with: name)
            .replacingOccurrences(of: "{recorded}", with: settings.announceRecording ? " This call is recorded." : "")
    }

    static let goodbyes = ["bye", "goodbye", "bye bye", "talk to you later", "thats all", "have a good day", "have a nice day"]
    /// An answer to "shall I connect you?": it starts with a yes ("yes please", "sure, thanks"), or asks to be
    /// connected. "Okay, I'll leave it by the door" starts with okay but goes on to say something else, so a yes
    /// must be most of a short answer or an explicit request.
    static func isYes(_ words: String) -> Bool {
        if words.contains(" connect me ") || words.contains(" put me through ") || words.contains(" please do ") { return true }
        let spoken = words.split(separator: " ")
        guard let first = spoken.first, spoken.count <= 4 else { return false }
        return ["yes", "yeah", "yep", "sure", "ok", "okay"].contains(String(first))
    }

    static func containsAny(_ words: String, _ phrases: [String]) -> Bool {
        phrases.contains { words.contains(" \($0) ") }
    }
}
