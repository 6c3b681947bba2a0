import AnswerNinjaCore
import Foundation

/// Contacts read from a CSV export or a vCard file (RFC 6350), normalised to E.164 in the user's region. Lines
/// that cannot be used are reported with their line number and reason; nothing is dropped silently.
public struct ContactImport: Sendable, Equatable {
    public struct Contact: Sendable, Equatable, Codable {
        public var name: String?
        public var number: E164Number

        public init(name: String?, number: E164Number) {
            self.name = name
            self.number = number
        }
    }

    public struct Problem: Sendable, Equatable, Codable {
        public var line: Int
        public var message: String
    }

    public var contacts: [Contact] = []
    public var problems: [Problem] = []

    /// The format is told by the content: `BEGIN:VCARD` is a vCard, anything else CSV.
    public static func parse(_ text: String, normalizer: PhoneNumberNormalizer) -> ContactImport {
        text.range(of: "BEGIN:VCARD", options: .caseInsensitive) != nil ? vCard(text, normalizer: normalizer) : csv(text, normalizer: normalizer)
    }

    /// CSV (RFC 4180: quoted fields, doubled quotes, commas and newlines inside quotes) with a header row; the
    /// number columns are those whose header says phone, mobile, tel or number, the name column name/full name
    /// (or first and last name).
    public static func csv(_ text: String, normalizer: PhoneNumberNormalizer) -> ContactImport {
        var result = ContactImport()
        let rows = CSVReader.rows(text)
        guard let header = rows.first?.fields.map({ $0.lowercased().trimmingCharacters(in: .whitespaces) }) else { return result }
        let numberColumns = header.indices.filter { name in ["phone", "mobile", "tel", "number", "cell"].contains { header[name].contains($0) } }
        let nameColumn = header.firstIndex { $0 == "name" || $0 == "full name" || $0 == "display name" }
        let firstName = header.firstIndex { $0 == "first name" || $0 == "given name" }
        let lastName = header.firstIndex { $0 == "last name" || $0 == "family name" }
        guard !numberColumns.isEmpty else {
            result.problems.append(Problem(line: 1, message: "no phone number column in the header (\(header.joined(separator: ", ")))"))
            return result
        }
        for row in rows.dropFirst() where !row.fields.allSatisfy({ $0.trimmingCharacters(in: .whitespaces).isEmpty }) {
            func field(_ index: Int?) -> String? {
                guard let index, index < row.fields.count else { return nil }
                let value = row.fields[index].trimmingCharacters(in: .whitespacesAndNewlines)
                return value.isEmpty ? nil : value
            }
            let name = field(nameColumn) ?? [field(firstName), field(lastName)].compactMap { $0 }.joined(separator: " ").nilIfEmpty
            let numbers = numberColumns.compactMap { field($0) }
            if numbers.isEmpty { result.problems.append(Problem(line: row.line, message: "no phone number")) }
            for number in numbers { result.add(number, name: name, line: row.line, normalizer: normalizer) }
        }
        return result
    }

    /// vCard 3.0/4.0: `FN` and every `TEL` of each card, with folded lines unfolded (RFC 6350 §3.2).
    public static func vCard(_ text: String, normalizer: PhoneNumberNormalizer) -> ContactImport {
        var result = ContactImport()
        var lines: [(number: Int, text: String)] = []
        for (index, raw) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            let line = String(raw)
            if (line.hasPrefix(" ") || line.hasPrefix("\t")), !lines.isEmpty {
                lines[lines.count - 1].text += line.dropFirst()
            } else {
                lines.append((index + 1, line))
            }
        }
        var name: String?
        var numbers: [(String, Int)] = []
        var inCard = false
        for (number, line) in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let property = line[..<colon].split(separator: ";").first.map { $0.uppercased() } ?? ""
            // A property may carry a group prefix ("item1.TEL").
            let bare = property.split(separator: ".").last.map(String.init) ?? property
            let value = String(line[line.index(after: colon)...]).trimmingCharacters(in: .whitespaces)
            switch bare {
            case "BEGIN" where value.uppercased() == "VCARD":
                inCard = true
                name = nil
                numbers = []
            case "FN" where inCard: name = value.isEmpty ? nil : value.replacingOccurrences(of: "\\,", with: ",")
            case "TEL" where inCard: numbers.append((value, number))
            case "END" where value.uppercased() == "VCARD" && inCard:
                if numbers.isEmpty { result.problems.append(Problem(line: number, message: "a card without a TEL (\(name ?? "no name"))")) }
                for (value, line) in numbers { result.add(value, name: name, line: line, normalizer: normalizer) }
                inCard = false
            default: break
            }
        }
        return result
    }

    /// The numbers added so far (a contacts file can hold a hundred thousand: no linear scan per line).
    private var seen: Set<E164Number> = []

    private mutating func add(_ text: String, name: String?, line: Int, normalizer: PhoneNumberNormalizer) {
        do {
            let number = try normalizer.normalize(text)
            guard seen.insert(number).inserted else { return }
            contacts.append(Contact(name: name, number: number))
        } catch {
            problems.append(Problem(line: line, message: error.message))
        }
    }
}

/// RFC 4180 rows with the line each starts on.
enum CSVReader {
    static func rows(_ text: String) -> [(line: Int, fields: [String])] {
        var rows: [(Int, [String])] = []
        var fields: [String] = []
        var field = ""
        var quoted = false
        var line = 1, rowLine = 1
        var characters = Array(text.replacingOccurrences(of: "\r\n", with: "\n"))
        if characters.first == "\u{FEFF}" { characters.removeFirst() }
        var index = 0
        while index < characters.count {
            let character = characters[index]
            if quoted {
                if character == "\"" {
                    if index + 1 < characters.count, characters[index + 1] == "\"" {
                        field.append("\"")
                        index += 1
                    } else {
                        quoted = false
                    }
                } else {
                    if character == "\n" { line += 1 }
                    field.append(character)
                }
            } else if character == "\"" && field.isEmpty {
                quoted = true
            } else if character == "," {
                fields.append(field)
                field = ""
            } else if character == "\n" {
                fields.append(field)
                rows.append((rowLine, fields))
                fields = []
                field = ""
                line += 1
                rowLine = line
            } else {
                field.append(character)
            }
            index += 1
        }
        if !field.isEmpty || !fields.isEmpty {
            fields.append(field)
            rows.append((rowLine, fields))
        }
        return rows
    }
}

extension String {
    var nilIfEmpty: String? { isEmpty ? nil : self }
}
