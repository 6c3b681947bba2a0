/// The classifier and the dialog of one call together: what the conversation role runs per connection and
/// `answer-ninja converse` runs per script. Text in, turns out; no I/O.
public struct ConversationEngine: Sendable {
    public let classifier: IntentClassifier
    public private(set) var dialog: DialogStateMachine
    /// The classification of every final utterance, in order.
    public private(set) var classifications: [IntentClassification] = []

    public init(classifier: IntentClassifier, settings: DialogSettings) {
        self.classifier = classifier
        self.dialog = DialogStateMachine(settings: settings)
    }

    public mutating func open() -> DialogTurn { dialog.open() }

    /// A final transcript: classify it, then let the dialog answer (nil once the call has ended).
    public mutating func caller(said text: String, at: Duration) -> DialogTurn? {
        caller(said: text, classification: classifier.classify(text), at: at)
    }

    /// A final transcript already classified (the conversation role times the two steps apart).
    public mutating func caller(said text: String, classification: IntentClassification, at: Duration) -> DialogTurn? {
        classifications.append(classification)
        return dialog.callerSaid(text, classification: classification, at: at)
    }

    public mutating func digit(_ digit: String, at: Duration) -> DialogTurn? { dialog.digit(digit, at: at) }
    public mutating func tick(at: Duration) -> DialogTurn? { dialog.tick(at: at) }
    public mutating func bargedIn() { dialog.bargedIn() }
    /// Caller speech not yet final (a partial transcript).
    public mutating func callerActive(at: Duration) { dialog.callerActive(at: at) }
}

/// A scripted caller for `answer-ninja converse` and the dialog tests.
///
/// ```
/// # a comment
/// @persona humorous            settings: persona, user, challenge on|off, time_waster on|off, recording on|off
/// @expect intent=sales_call end=hangup message=no transfer=no
/// > hi this is dana from acme about your car warranty
/// dtmf 1
/// wait 30s
/// ```
/// A `>` line is one final utterance, said 2 s after the previous reply plus 0.35 s per word; `wait` lets time pass.
public struct ConversationScript: Sendable, Equatable {
    public enum Step: Sendable, Equatable {
        case say(String)
        case dtmf(String)
        case wait(Duration)
    }

    /// What the script's author expects, checked by the tests: the call's intent, whether the AI ends the call
    /// (`hangup`) or never does (`none`), whether the message is captured, whether the caller is connected.
    public struct Expectation: Sendable, Equatable {
        public var intent: Intent?
        public var end: String?
        public var message: Bool?
        public var transfer: Bool?

        public init(intent: Intent? = nil, end: String? = nil, message: Bool? = nil, transfer: Bool? = nil) {
            self.intent = intent
            self.end = end
            self.message = message
            self.transfer = transfer
        }
    }

    public var settings = DialogSettings()
    public var steps: [Step] = []
    public var expectation = Expectation()

    public init(parsing text: String) throws {
        for (offset, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.trimmingWhitespace()
            let number = offset + 1
            if line.isEmpty || line.hasPrefix("#") { continue }
            if line.hasPrefix(">") {
                let said = String(line.dropFirst().trimmingWhitespace())
                guard !said.isEmpty else { throw ConversationError.invalidScript("line \(number): `>` with nothing said") }
                steps.append(.say(said))
            } else if line.hasPrefix("dtmf ") {
                let digit = String(line.dropFirst(5).trimmingWhitespace())
                guard digit.count == 1, "0123456789*#ABCD".contains(digit) else {
                    throw ConversationError.invalidScript("line \(number): a DTMF digit is one of 0-9 * # A-D")
                }
                steps.append(.dtmf(digit))
            } else if line.hasPrefix("wait ") {
                let value = line.dropFirst(5).trimmingWhitespace()
                guard value.hasSuffix("s"), let seconds = Double(value.dropLast()), seconds >= 0, seconds <= 3600 else {
                    throw ConversationError.invalidScript("line \(number): `wait` takes seconds like 30s")
                }
                steps.append(.wait(.milliseconds(Int64(seconds * 1000))))
            } else if line.hasPrefix("@") {
                try setting(String(line.dropFirst()), line: number)
            } else {
                throw ConversationError.invalidScript("line \(number): expected `>`, `dtmf`, `wait`, `@` or `#`")
            }
        }
        guard !steps.isEmpty else { throw ConversationError.invalidScript("the script has no steps") }
    }

    private mutating func setting(_ text: String, line: Int) throws {
        let parts = text.split(separator: " ", maxSplits: 1).map(String.init)
        let name = parts.first ?? ""
        let value = parts.count > 1 ? parts[1].trimmingWhitespace() : ""
        func flag() throws -> Bool {
            switch value {
            case "on", "yes", "true": return true
            case "off", "no", "false": return false
            default: throw ConversationError.invalidScript("line \(line): @\(name) takes on or off")
            }
        }
        switch name {
        case "persona":
            guard let persona = Persona(rawValue: String(value)) else {
                throw ConversationError.invalidScript("line \(line): unknown persona \(value) (\(Persona.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            settings.persona = persona
        case "user": settings.userName = String(value)
        case "challenge": settings.challenge = try flag()
        case "time_waster": settings.timeWaster = try flag()
        case "recording": settings.announceRecording = try flag()
        case "expect":
            for pair in value.split(separator: " ") {
                let kv = pair.split(separator: "=", maxSplits: 1).map(String.init)
                guard kv.count == 2 else { throw ConversationError.invalidScript("line \(line): @expect takes key=value pairs") }
                switch kv[0] {
                case "intent":
                    guard let intent = Intent(rawValue: kv[1]) else { throw ConversationError.invalidScript("line \(line): unknown intent \(kv[1])") }
                    expectation.intent = intent
                case "end":
                    guard kv[1] == "hangup" || kv[1] == "none" else { throw ConversationError.invalidScript("line \(line): end=hangup or end=none") }
                    expectation.end = kv[1]
                case "message": expectation.message = kv[1] == "yes"
                case "transfer": expectation.transfer = kv[1] == "yes"
                default: throw ConversationError.invalidScript("line \(line): unknown expectation \(kv[0])")
                }
            }
        default:
            throw ConversationError.invalidScript("line \(line): unknown setting @\(name)")
        }
    }
}

/// The outcome of a script run: every turn with the caller's words and the AI's reply.
public struct ConversationTranscript: Codable, Sendable, Equatable {
    public struct Entry: Codable, Sendable, Equatable {
        public var atMs: Int
        public var caller: String?
        public var callerIntent: Intent?
        public var callerConfidence: Double?
        public var reply: DialogTurn?

        enum CodingKeys: String, CodingKey {
            case atMs = "at_ms"
            case caller
            case callerIntent = "caller_intent"
            case callerConfidence = "caller_confidence"
            case reply
        }
    }

    public var entries: [Entry] = []
    public var intent: Intent?
    public var confidence: Double?
    /// `hangup` when the AI ended the call, `transfer` when it connected the caller, `none` otherwise.
    public var finalAction: String
    public var endReason: TerminationPolicy.Reason?
    public var turns: Int
    public var durationMs: Int
    public var persistence: Double
    public var frustration: Double
    public var effectiveness: Double
    public var message: String?

    enum CodingKeys: String, CodingKey {
        case entries, intent, confidence
        case finalAction = "final_action"
        case endReason = "end_reason"
        case turns
        case durationMs = "duration_ms"
        case persistence, frustration, effectiveness, message
    }

    /// Runs `script` against a new engine.
    public init(running script: ConversationScript, classifier: IntentClassifier) {
        var engine = ConversationEngine(classifier: classifier, settings: script.settings)
        var now: Duration = .zero
        var transferred = false
        entries.append(Entry(atMs: 0, reply: engine.open()))
        for step in script.steps {
            guard engine.dialog.ended == nil, !transferred else { break }
            var entry: Entry
            switch step {
            case .say(let text):
                let words = text.split(separator: " ").count
                now += .seconds(2) + .milliseconds(350 * words)
                entry = Entry(atMs: Self.milliseconds(now), caller: text)
                entry.reply = engine.caller(said: text, at: now)
                entry.callerIntent = engine.classifications.last?.intent
                entry.callerConfidence = engine.classifications.last.map { ($0.confidence * 1000).rounded() / 1000 }
            case .dtmf(let digit):
                now += .milliseconds(500)
                entry = Entry(atMs: Self.milliseconds(now), caller: "dtmf \(digit)")
                entry.reply = engine.digit(digit, at: now)
            case .wait(let duration):
                // The role's clock ticks once a second: a call that reaches its limit while waiting ends then.
                let end = now + duration
                var reply: DialogTurn?
                while now < end && reply == nil {
                    now = min(end, now + .seconds(1))
                    reply = engine.tick(at: now)
                }
                guard let reply else { continue }
                entry = Entry(atMs: Self.milliseconds(now))
                entry.reply = reply
            }
            if entry.reply?.action == .transfer { transferred = true }
            entries.append(entry)
        }
        let dialog = engine.dialog
        intent = dialog.callIntent
        confidence = dialog.callIntent == nil ? nil : (dialog.callConfidence * 1000).rounded() / 1000
        finalAction = dialog.ended != nil ? "hangup" : (transferred ? "transfer" : "none")
        endReason = dialog.ended
        turns = dialog.turns
        durationMs = Self.milliseconds(now)
        persistence = (dialog.persistence * 1000).rounded() / 1000
        frustration = (dialog.frustration * 1000).rounded() / 1000
        effectiveness = (dialog.effectiveness * 1000).rounded() / 1000
        message = (dialog.callIntent?.isWanted == true || dialog.callIntent?.isRecording == true || dialog.protected) ? dialog.message : nil
    }

    static func milliseconds(_ duration: Duration) -> Int {
        Int(duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000)
    }
}

extension ConversationTranscript {
    /// The expectations of a script this run does not meet, in words (empty: all met).
    public func unmet(_ expectation: ConversationScript.Expectation) -> [String] {
        var failures: [String] = []
        // No confident class all call long is the unknown intent.
        if let expected = expectation.intent, (intent ?? .unknown) != expected {
            failures.append("intent \((intent ?? .unknown).rawValue), expected \(expected.rawValue)")
        }
        if let end = expectation.end {
            let hungUp = finalAction == "hangup"
            if end == "hangup" && !hungUp { failures.append("the AI did not end the call") }
            if end == "none" && hungUp { failures.append("the AI ended the call (\(endReason?.rawValue ?? "?")) but must not") }
            if hungUp, let last = entries.last?.reply, last.text.isEmpty, endReason != .maximumDuration {
                failures.append("the call ended without a final line")
            }
        }
        if let wantsMessage = expectation.message, wantsMessage != (message?.isEmpty == false) {
            failures.append(wantsMessage ? "no message captured" : "a message was captured")
        }
        if let wantsTransfer = expectation.transfer, wantsTransfer != (finalAction == "transfer") {
            failures.append(wantsTransfer ? "the caller was not connected" : "the caller was connected")
        }
        return failures
    }
}
