import AnswerNinjaCore

/// The hand-written corpus the classifier is trained from (`Fixtures/intents/corpus.txt`): slot definitions and
/// per-intent templates.
///
/// ```
/// # a comment
/// @slot company = Sunrise Home Services | Blue River Energy
/// [sales_call]
/// t: hi this is a call from {company} about your energy bill
/// ```
///
/// A template's key is `intent/index`, the index counting its section's `t:` lines from 0. Held-out data is split by
/// template (`IntentCorpus.Split`), never by sentence: the expansions of one template differ only in slot values,
/// so a sentence-level split would test on near-copies of the training data.
public struct IntentCorpus: Sendable, Equatable {
    public struct Template: Sendable, Equatable {
        public var intent: Intent
        public var index: Int
        public var text: String
        public var key: String { "\(intent.rawValue)/\(index)" }
    }

    /// One training or evaluation sentence.
    public struct Example: Sendable, Equatable {
        public var intent: Intent
        public var templateKey: String
        public var text: String
        public init(intent: Intent, templateKey: String, text: String) {
            self.intent = intent
            self.templateKey = templateKey
            self.text = text
        }
    }

    /// Which part of the corpus a template belongs to: `index % 5` 0–2 train, 3 calibration, 4 test.
    public enum Split: String, Sendable, CaseIterable {
        case train, calibration, test

        public init(templateIndex: Int) {
            switch templateIndex % 5 {
            case 3: self = .calibration
            case 4: self = .test
            default: self = .train
            }
        }

        /// The split of a template key `intent/index`; nil when the key is malformed.
        public init?(templateKey: String) {
            guard let slash = templateKey.lastIndex(of: "/"), let index = Int(templateKey[templateKey.index(after: slash)...]) else {
                return nil
            }
            self.init(templateIndex: index)
        }
    }

    public var slots: [String: [String]]
    public var templates: [Template]

    /// Parses the corpus text; every error names its line.
    public init(parsing text: String) throws {
        var slots: [String: [String]] = [:]
        var templates: [Template] = []
        var current: Intent?
        var counts: [Intent: Int] = [:]
        for (offset, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let number = offset + 1
            let line = rawLine.trimmingWhitespace()
            if line.isEmpty || line.hasPrefix("#") { continue }
            if line.hasPrefix("@slot ") {
                let definition = line.dropFirst(6)
                guard let equals = definition.firstIndex(of: "=") else {
                    throw ConversationError.invalidCorpus("line \(number): a slot is `@slot name = a | b`")
                }
                let name = String(definition[..<equals].trimmingWhitespace())
                let values = definition[definition.index(after: equals)...].split(separator: "|").map { String($0.trimmingWhitespace()) }
                guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0 == "_" }), !values.contains(where: \.isEmpty) else {
                    throw ConversationError.invalidCorpus("line \(number): slot \(name) has an empty value or a bad name")
                }
                guard slots[name] == nil else { throw ConversationError.invalidCorpus("line \(number): slot \(name) is defined twice") }
                slots[name] = values
            } else if line.hasPrefix("[") && line.hasSuffix("]") {
                let name = String(line.dropFirst().dropLast())
                guard let intent = Intent(rawValue: name) else {
                    throw ConversationError.invalidCorpus("line \(number): unknown intent [\(name)]")
                }
                guard counts[intent] == nil else { throw ConversationError.invalidCorpus("line \(number): [\(name)] appears twice") }
                counts[intent] = 0
                current = intent
            } else if line.hasPrefix("t:") {
                guard let intent = current else { throw ConversationError.invalidCorpus("line \(number): a template before any [intent]") }
                let template = String(line.dropFirst(2).trimmingWhitespace())
                guard !template.isEmpty else { throw ConversationError.invalidCorpus("line \(number): an empty template") }
                templates.append(Template(intent: intent, index: counts[intent, default: 0], text: template))
                counts[intent, default: 0] += 1
            } else {
                throw ConversationError.invalidCorpus("line \(number): expected `@slot`, `[intent]`, `t:` or `#`")
            }
        }
        for template in templates {
            for slot in Self.slotNames(in: template.text) where slots[slot] == nil {
                throw ConversationError.invalidCorpus("template \(template.key) uses undefined slot {\(slot)}")
            }
        }
        self.slots = slots
        self.templates = templates
    }

    /// `count` sentences per template, slot values drawn by a generator seeded from the template key, so that the
    /// expansion is the same on every machine and adding a template changes no other template's sentences.
    public func expand(count: Int, where include: (Template) -> Bool = { _ in true }) -> [Example] {
        var examples: [Example] = []
        for template in templates where include(template) {
            var generator = SplitMix64(state: Self.seed(template.key))
            var seen: Set<String> = []
            for _ in 0..<count {
                let text = fill(template.text, using: &generator)
                if seen.insert(text).inserted {
                    examples.append(Example(intent: template.intent, templateKey: template.key, text: text))
                }
            }
        }
        return examples
    }

    private func fill(_ template: String, using generator: inout SplitMix64) -> String {
        var output = ""
        var rest = Substring(template)
        while let open = rest.firstIndex(of: "{"), let close = rest[open...].firstIndex(of: "}") {
            output += rest[..<open]
            let values = slots[String(rest[rest.index(after: open)..<close])] ?? []
            output += values.isEmpty ? "" : values[generator.below(values.count)]
            rest = rest[rest.index(after: close)...]
        }
        return output + rest
    }

    static func slotNames(in template: String) -> [String] {
        var names: [String] = []
        var rest = Substring(template)
        while let open = rest.firstIndex(of: "{"), let close = rest[open...].firstIndex(of: "}") {
            names.append(String(rest[rest.index(after: open)..<close]))
            rest = rest[rest.index(after: close)...]
        }
        return names
    }

    /// FNV-1a of the key: a stable seed (Swift's `hashValue` is randomised per process).
    static func seed(_ key: String) -> UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in key.utf8 {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
        }
        return hash
    }
}

extension StringProtocol {
    func trimmingWhitespace() -> SubSequence {
        var start = startIndex
        var end = endIndex
        while start < end, self[start].isWhitespace { start = index(after: start) }
        while end > start, self[index(before: end)].isWhitespace { end = index(before: end) }
        return self[start..<end]
    }
}
