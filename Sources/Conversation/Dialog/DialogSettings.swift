/// What the user chose for their AI calls (from their settings), plus the termination policy.
public struct DialogSettings: Codable, Sendable, Equatable {
    public var persona: Persona = .polite
    /// How the AI names the user ("Sam's AI assistant"); nil: "the person you called".
    public var userName: String?
    /// Say in the opening line that the call is recorded (required in all-party-consent jurisdictions).
    public var announceRecording = true
    /// "If you're a person, press 1" after the opening line.
    public var challenge = false
    /// Spam callers get the time-waster persona (only the maximum duration ends their call).
    public var timeWaster = false
    /// Wanted callers are offered a bridge to the user after their message is taken.
    public var offerConnect = true
    public var policy = TerminationPolicy()

    public init(persona: Persona = .polite, userName: String? = nil, announceRecording: Bool = true, challenge: Bool = false, timeWaster: Bool = false) {
        self.persona = persona
        self.userName = userName
        self.announceRecording = announceRecording
        self.challenge = challenge
        self.timeWaster = timeWaster
    }
}
