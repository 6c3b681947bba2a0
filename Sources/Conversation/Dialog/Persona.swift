/// The voice the AI answers in, chosen by the user. Every persona says it is an AI assistant, declines firmly and
/// gives nothing away; they differ in words, not in policy. `timeWaster` (after Lenny and RoboKiller's answer
/// bots) is for spam callers only and only when the user turns it on: it keeps a spammer talking, politely and
/// pointlessly, until the maximum duration; wanted callers still get the polite persona's treatment.
public enum Persona: String, Codable, Sendable, CaseIterable {
    case polite, direct, humorous, professional, friendly
    case timeWaster = "time_waster"

    /// What the AI says, by purpose. `{user}` is the user's name ("the person you called" when unknown),
    /// `{recorded}` the recording notice (empty when not configured).
    public enum Line: String, Sendable, CaseIterable {
        case opening, askWho, decline, firm, warning, goodbye, scamGoodbye, takeMessage, messageSaved, connecting, anythingElse
        case wantedGoodbye, challenge, challengePassed
    }

    /// The lines of a line kind; the dialog rotates through them so that the AI does not repeat itself.
    public func lines(_ line: Line) -> [String] {
        let table = self == .timeWaster ? Self.timeWasterLines : Self.lines[self] ?? [:]
        return table[line] ?? Self.lines[.polite]![line]!
    }

    static let lines: [Persona: [Line: [String]]] = [
        .polite: [
            .opening: ["Hello, you've reached {user}'s AI assistant.{recorded} May I ask who's calling and what it's about?"],
            .askWho: ["Sorry, I didn't catch that. Could you tell me your name and why you're calling?", "Could you tell me what your call is about, please?"],
            .decline: ["Thank you for calling, but {user} isn't interested. Please add this number to your do-not-call list."],
            .firm: ["I understand, but the answer is no. Please remove this number from your list.", "I'm sorry, {user} is still not interested. Please don't call again."],
            .warning: ["I'm going to end the call now. Please take this number off your list."],
            .goodbye: ["Thank you, goodbye."],
            .scamGoodbye: ["We don't share any information over the phone. Goodbye."],
            .takeMessage: ["Thank you. I'll make sure {user} gets your message. Would you like me to try to connect you now?"],
            .messageSaved: ["Of course. I've saved your message for {user}."],
            .connecting: ["Please hold while I try to connect you."],
            .anythingElse: ["Is there anything else you'd like me to pass on?"],
            .wantedGoodbye: ["Thank you for calling. {user} will get your message. Goodbye."],
            .challenge: ["If you're a person, please press 1."],
            .challengePassed: ["Thank you."],
        ],
        .direct: [
            .opening: ["This is {user}'s AI assistant.{recorded} Who is calling and why?"],
            .askWho: ["Please state your name and the reason for your call.", "What is this call about?"],
            .decline: ["{user} does not accept sales calls. Put this number on your do-not-call list."],
            .firm: ["No. Remove this number from your list.", "The answer is no. Do not call again."],
            .warning: ["I am ending this call now."],
            .goodbye: ["Goodbye."],
            .scamGoodbye: ["No information will be given. Goodbye."],
            .takeMessage: ["Noted. {user} will get this message. Do you want me to connect you now?"],
            .messageSaved: ["Message saved."],
            .connecting: ["Connecting you now."],
            .anythingElse: ["Anything else?"],
            .wantedGoodbye: ["{user} will get your message. Goodbye."],
            .challenge: ["Press 1 if you are a person."],
            .challengePassed: ["Thanks."],
        ],
        .humorous: [
            .opening: ["Hi! You've reached {user}'s AI assistant, the only one here who loves phone calls.{recorded} Who's calling, and what's the occasion?"],
            .askWho: ["My circuits missed that. Who are you, and what's the occasion?", "Give me the short version: who and why?"],
            .decline: ["Tempting, truly, but {user} is not buying today, or any day. Please put this number on your do-not-call list."],
            .firm: ["Still a no, I'm afraid, and I'm very good at saying it. Please take us off your list.", "My answer hasn't changed since a few seconds ago. Please don't call again."],
            .warning: ["I'm going to hang up now, nothing personal."],
            .goodbye: ["Bye now!"],
            .scamGoodbye: ["Nice try, but nobody here shares information over the phone. Goodbye!"],
            .takeMessage: ["Got it, I'll pass that on to {user}. Want me to try to connect you now?"],
            .messageSaved: ["Message safely stored in my robot memory."],
            .connecting: ["Hold on, I'm connecting you."],
            .anythingElse: ["Anything else for {user}?"],
            .wantedGoodbye: ["Thanks for calling! {user} will get your message. Bye!"],
            .challenge: ["Quick check: if you're a human, press 1."],
            .challengePassed: ["Human confirmed, thank you."],
        ],
        .professional: [
            .opening: ["Good day. You have reached the AI assistant of {user}.{recorded} May I have your name and the purpose of your call?"],
            .askWho: ["Could you please state your name and the purpose of your call?", "May I ask the nature of your call?"],
            .decline: ["Thank you for your call. {user} does not accept unsolicited offers. Please add this number to your do-not-call list."],
            .firm: ["I appreciate your persistence, but the decision is final. Please remove this number from your records.", "The decision stands. Please do not contact this number again."],
            .warning: ["I will be ending this call now."],
            .goodbye: ["Thank you. Goodbye."],
            .scamGoodbye: ["No information is shared over the phone. Goodbye."],
            .takeMessage: ["Thank you. I will ensure {user} receives your message. Would you like me to attempt to connect you now?"],
            .messageSaved: ["Understood. Your message has been recorded for {user}."],
            .connecting: ["One moment while I connect you."],
            .anythingElse: ["Is there anything further you would like me to pass on?"],
            .wantedGoodbye: ["Thank you for calling. {user} will receive your message. Goodbye."],
            .challenge: ["To continue, please press 1 if you are a person."],
            .challengePassed: ["Thank you."],
        ],
        .friendly: [
            .opening: ["Hi there! This is {user}'s AI assistant.{recorded} Who's calling, and what can I help with?"],
            .askWho: ["Oops, I missed that. Who's calling and what's it about?", "Could you tell me a bit about why you're calling?"],
            .decline: ["Thanks so much for thinking of us, but {user} will pass. Could you pop this number on your do-not-call list?"],
            .firm: ["I hear you, but it's still a no. Please take this number off your list.", "Really, it's a no thanks. Please don't call again."],
            .warning: ["I'm going to say goodbye now."],
            .goodbye: ["Take care, bye!"],
            .scamGoodbye: ["We never share information over the phone. Bye!"],
            .takeMessage: ["Thanks! I'll make sure {user} gets that. Would you like me to try to connect you now?"],
            .messageSaved: ["No problem, I've saved your message for {user}."],
            .connecting: ["Great, connecting you now."],
            .anythingElse: ["Anything else you'd like {user} to know?"],
            .wantedGoodbye: ["Thanks for calling! {user} will get your message. Bye!"],
            .challenge: ["If you're a real person, just press 1."],
            .challengePassed: ["Thanks!"],
        ],
    ]

    /// Lenny-style lines: agreeable, slow, never a yes, never any data. Only the spam-facing lines differ.
    static let timeWasterLines: [Line: [String]] = {
        var table = lines[.polite]!
        let stalling = [
            "Oh, hello, yes, yes. Sorry, who did you say you were with?",
            "Oh that sounds interesting. Could you say that again? It's a bit noisy here.",
            "Sorry, the ducks are making a racket. Go on, go on.",
            "Yes, yes. Now, I had a similar thing with my daughter, hold on.",
            "And what did you say your company was called again?",
            "Hmm. Could you explain that one more time, slowly?",
            "Yes. Sorry, I was just getting a pen. Go on.",
            "That's very good. What else do you have?",
        ]
        table[.decline] = stalling
        table[.firm] = stalling
        table[.warning] = stalling
        table[.goodbye] = ["Oh dear, I have to go. Goodbye now."]
        return table
    }()
}
