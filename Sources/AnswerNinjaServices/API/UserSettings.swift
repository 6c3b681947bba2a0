import AnswerNinjaCore
import Conversation
import Foundation
import Screening

/// A user's settings, as `GET/PUT /api/v1/settings` carries them and `users.settings` stores them (JSON). Every field
/// is checked; an unknown field is an error (a typo would otherwise be silently ignored).
public struct UserSettings: Codable, Sendable, Equatable {
    public var persona: String = Persona.polite.rawValue
    public var greeting: String?
    /// Say that the call is recorded, where the jurisdiction needs it.
    public var recordingDisclosure: Bool = true
    public var jurisdiction: String?
    public var aiEnabled: Bool = true
    public var challenge: Bool = false
    public var timeWaster: Bool = false
    /// The AI screens unknown callers only within these hours (in the schedule's time zone); outside them calls ring
    /// through to the user, as with the AI off. Hours across midnight belong to the day they start on.
    public var schedule: Schedule?
    /// A caller whose spam score is at least this is blocked without the AI.
    public var blockThreshold: Double = SpamScore.blockThreshold
    /// What a blocked caller gets: a 603 Decline, or answered with a goodbye.
    public var blockAction: String = "reject"
    /// Wanted callers: take a message, or bridge them to the forwarding target.
    public var wantedTreatment: String = "bridge"
    public var webhookURL: String?
    public var retentionDays: Int = 90
    /// Region (ISO 3166) for numbers written without a country code.
    public var region: String?

    public struct Schedule: Codable, Sendable, Equatable {
        /// 1 = Monday ... 7 = Sunday.
        public var days: [Int]
        /// "HH:MM", 24-hour.
        public var from: String
        public var to: String
        public var timeZone: String
    }

    public init() {}

    /// A user's stored settings (`users.settings`, snake_case JSON), or the defaults when there are none.
    public init(stored json: String) {
        self = (try? APIRoutes.decoder.decode(UserSettings.self, from: Data(json.utf8))) ?? UserSettings()
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case persona, greeting, recordingDisclosure, jurisdiction, aiEnabled, challenge, timeWaster, schedule, blockThreshold, blockAction
        case wantedTreatment, webhookURL = "webhookUrl", retentionDays, region
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let known = Set(CodingKeys.allCases.map(\.stringValue))
        if let unknown = try decoder.container(keyedBy: AnyCodingKey.self).allKeys.first(where: { !known.contains($0.stringValue) }) {
            throw DecodingError.dataCorrupted(.init(codingPath: [unknown], debugDescription: "there is no such setting"))
        }
        let defaults = UserSettings()
        persona = try container.decodeIfPresent(String.self, forKey: .persona) ?? defaults.persona
        greeting = try container.decodeIfPresent(String.self, forKey: .greeting)
        recordingDisclosure = try container.decodeIfPresent(Bool.self, forKey: .recordingDisclosure) ?? defaults.recordingDisclosure
        jurisdiction = try container.decodeIfPresent(String.self, forKey: .jurisdiction)
        aiEnabled = try container.decodeIfPresent(Bool.self, forKey: .aiEnabled) ?? defaults.aiEnabled
        challenge = try container.decodeIfPresent(Bool.self, forKey: .challenge) ?? defaults.challenge
        timeWaster = try container.decodeIfPresent(Bool.self, forKey: .timeWaster) ?? defaults.timeWaster
        schedule = try container.decodeIfPresent(Schedule.self, forKey: .schedule)
        blockThreshold = try container.decodeIfPresent(Double.self, forKey: .blockThreshold) ?? defaults.blockThreshold
        blockAction = try container.decodeIfPresent(String.self, forKey: .blockAction) ?? defaults.blockAction
        wantedTreatment = try container.decodeIfPresent(String.self, forKey: .wantedTreatment) ?? defaults.wantedTreatment
        webhookURL = try container.decodeIfPresent(String.self, forKey: .webhookURL)
        retentionDays = try container.decodeIfPresent(Int.self, forKey: .retentionDays) ?? defaults.retentionDays
        region = try container.decodeIfPresent(String.self, forKey: .region)
    }

    /// Every problem, each naming its field; empty when the settings are valid.
    public func problems() -> [String] {
        var problems: [String] = []
        if Persona(rawValue: persona) == nil { problems.append("persona must be one of \(Persona.allCases.map(\.rawValue).joined(separator: ", "))") }
        if let greeting, greeting.isEmpty || greeting.count > 300 { problems.append("greeting must be 1 to 300 characters") }
        if !(0.5...1).contains(blockThreshold) { problems.append("block_threshold must be from 0.5 to 1") }
        if !["reject", "goodbye"].contains(blockAction) { problems.append("block_action must be reject or goodbye") }
        if !["bridge", "message"].contains(wantedTreatment) { problems.append("wanted_treatment must be bridge or message") }
        if !(1...3650).contains(retentionDays) { problems.append("retention_days must be from 1 to 3650") }
        if let region, PhoneNumberNormalizer.regions[region.uppercased()] == nil {
            problems.append("region must be one of \(PhoneNumberNormalizer.regions.keys.sorted().joined(separator: ", "))")
        }
        if let webhookURL {
            let url = URLComponents(string: webhookURL)
            if url?.scheme != "https" || (url?.host ?? "").isEmpty { problems.append("webhook_url must be an https:// URL") }
        }
        if let schedule {
            if schedule.days.isEmpty || !schedule.days.allSatisfy((1...7).contains) { problems.append("schedule.days must list days 1 (Monday) to 7 (Sunday)") }
            for (name, time) in [("from", schedule.from), ("to", schedule.to)] where Self.minutes(time) == nil {
                problems.append("schedule.\(name) must be HH:MM (24-hour)")
            }
            if TimeZone(identifier: schedule.timeZone) == nil { problems.append("schedule.time_zone is not a known time zone (e.g. Europe/London)") }
        }
        return problems
    }

    static func minutes(_ time: String) -> Int? {
        let parts = time.split(separator: ":")
        guard parts.count == 2, parts[0].count == 2, parts[1].count == 2, let hours = Int(parts[0]), let minutes = Int(parts[1]),
            (0...23).contains(hours), (0...59).contains(minutes)
        else { return nil }
        return hours * 60 + minutes
    }
}

/// Any key of a JSON object, to find the ones a type does not know.
struct AnyCodingKey: CodingKey {
    var stringValue: String
    var intValue: Int?
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) {
        self.stringValue = String(intValue)
        self.intValue = intValue
    }
}
