import AnswerNinjaCore

/// Turns what people type and contact lists hold ("(415) 555-0123", "020 7946 0018", "+49 30 123456",
/// "00 33 1 23 45 67 89", "tel:+1-415-555-0123") into E.164, given the user's region for national forms. Checked
/// against Google's libphonenumber (the `phonenumbers` package) over a sweep of inputs (PeerTests).
///
/// Rules per region are the dialling plan's: the international call prefix (`011` in the NANP, `00` elsewhere), the
/// national trunk prefix dropped from national forms (`1` in the NANP, `0` in most of Europe, none in Spain), and the
/// national significant number lengths libphonenumber calls possible.
public struct PhoneNumberNormalizer: Sendable {
    public struct Region: Sendable, Equatable {
        public var code: String
        public var countryCode: String
        public var internationalPrefix: String
        public var trunkPrefix: String?
        public var nationalLengths: Set<Int>
    }

    /// The regions known by their dialling plan (ISO 3166 codes).
    public static let regions: [String: Region] = Dictionary(uniqueKeysWithValues: [
        Region(code: "US", countryCode: "1", internationalPrefix: "011", trunkPrefix: "1", nationalLengths: [10]),
        Region(code: "CA", countryCode: "1", internationalPrefix: "011", trunkPrefix: "1", nationalLengths: [10]),
        Region(code: "GB", countryCode: "44", internationalPrefix: "00", trunkPrefix: "0", nationalLengths: [7, 9, 10]),
        Region(code: "IE", countryCode: "353", internationalPrefix: "00", trunkPrefix: "0", nationalLengths: [7, 8, 9, 10]),
        Region(code: "DE", countryCode: "49", internationalPrefix: "00", trunkPrefix: "0", nationalLengths: Set(5...13)),
        Region(code: "FR", countryCode: "33", internationalPrefix: "00", trunkPrefix: "0", nationalLengths: [9]),
        Region(code: "ES", countryCode: "34", internationalPrefix: "00", trunkPrefix: nil, nationalLengths: [9]),
        Region(code: "NL", countryCode: "31", internationalPrefix: "00", trunkPrefix: "0", nationalLengths: Set(5...11)),
        Region(code: "CH", countryCode: "41", internationalPrefix: "00", trunkPrefix: "0", nationalLengths: [9, 12]),
        Region(code: "SE", countryCode: "46", internationalPrefix: "00", trunkPrefix: "0", nationalLengths: [6, 7, 8, 9, 10, 12]),
        Region(code: "IN", countryCode: "91", internationalPrefix: "00", trunkPrefix: "0", nationalLengths: [8, 9, 10, 11, 12, 13]),
    ].map { ($0.code, $0) })

    public let region: Region

    /// - Parameter region: the ISO 3166 code of the user's country, for numbers written without a country code.
    public init(region code: String) throws(ScreeningError) {
        guard let region = Self.regions[code.uppercased()] else {
            throw ScreeningError(code: .init("unknown_region"), message: "unknown region \"\(code)\"; known: \(Self.regions.keys.sorted().joined(separator: ", "))")
        }
        self.region = region
    }

    /// `text` as E.164, or an error that says what is wrong with it.
    public func normalize(_ text: String) throws(ScreeningError) -> E164Number {
        var body = Substring(text).drop { $0.isWhitespace }
        if body.lowercased().hasPrefix("tel:") { body = body.dropFirst(4) }
        // A `tel:` URI's parameters (";ext=...") and a trailing extension are not part of the number.
        if let semicolon = body.firstIndex(of: ";") { body = body[..<semicolon] }
        body = Self.withoutExtension(body)
        // Vanity numbers ("1-800-FLOWERS"): with at least three letters and three digits, letters are keypad digits.
        let letters = body.filter { $0.isASCII && $0.isLetter }.count, digitCount = body.filter { $0.isASCII && $0.isNumber }.count
        if letters >= 3 && digitCount >= 3 { body = Substring(String(body.map { Self.keypad($0) ?? $0 })) }
        var digits = ""
        var international = false
        for (index, character) in body.enumerated() {
            if character == "+" && index == 0 && digits.isEmpty {
                international = true
            } else if let value = character.wholeNumberValue, character.isASCII {
                digits.append(String(value))
            } else if character.isWhitespace || "-.()/".contains(character) {
                continue
            } else {
                throw Self.invalid(text, "unexpected \"\(character)\"")
            }
        }
        guard !digits.isEmpty else { throw Self.invalid(text, "no digits") }
        if !international, digits.hasPrefix(region.internationalPrefix) {
            digits.removeFirst(region.internationalPrefix.count)
            international = true
        }
        let full: String
        if international {
            full = digits
            guard let countryCode = Self.countryCode(of: full) else { throw Self.invalid(text, "+\(full.prefix(3)) is not an assigned country code") }
            // A country whose plan is known gets its length checked too.
            if let known = Self.regions.values.first(where: { $0.countryCode == countryCode }) {
                let national = full.dropFirst(known.countryCode.count)
                guard known.nationalLengths.contains(national.count) else {
                    throw Self.invalid(text, "+\(known.countryCode) numbers have \(Self.describe(known.nationalLengths)) digits after the country code, got \(national.count)")
                }
            }
        } else {
            var national = Substring(digits)
            if let trunk = region.trunkPrefix, national.hasPrefix(trunk), !region.nationalLengths.contains(national.count) || trunk == "0" {
                national = national.dropFirst(trunk.count)
            }
            guard region.nationalLengths.contains(national.count) else {
                throw Self.invalid(text, "a number in \(region.code) has \(Self.describe(region.nationalLengths)) digits (without the trunk prefix), got \(national.count)")
            }
            full = region.countryCode + national
        }
        do {
            return try E164Number("+" + full)
        } catch {
            throw Self.invalid(text, error.message)
        }
    }

    /// The country codes ITU-T assigns (E.164's list, as libphonenumber 9.0 carries it). They are prefix-free: a
    /// number starts with at most one of them.
    public static let countryCodes: Set<String> = Set("1,7,20,27,30,31,32,33,34,36,39,40,41,43,44,45,46,47,48,49,51,52,53,54,55,56,57,58,60,61,62,63,64,65,66,81,82,84,86,90,91,92,93,94,95,98,211,212,213,216,218,220,221,222,223,224,225,226,227,228,229,230,231,232,233,234,235,236,237,238,239,240,241,242,243,244,245,246,247,248,249,250,251,252,253,254,255,256,257,258,260,261,262,263,264,265,266,267,268,269,290,291,297,298,299,350,351,352,353,354,355,356,357,358,359,370,371,372,373,374,375,376,377,378,380,381,382,383,385,386,387,389,420,421,423,500,501,502,503,504,505,506,507,508,509,590,591,592,593,594,595,596,597,598,599,670,672,673,674,675,676,677,678,679,680,681,682,683,685,686,687,688,689,690,691,692,800,808,850,852,853,855,856,870,878,880,881,882,883,886,888,960,961,962,963,964,965,966,967,968,970,971,972,973,974,975,976,977,979,992,993,994,995,996,998".split(separator: ",").map(String.init))

    /// The country code at the start of international `digits`, if it is an assigned one.
    public static func countryCode(of digits: some StringProtocol) -> String? {
        (1...3).lazy.map { String(digits.prefix($0)) }.first { $0.count > 0 && countryCodes.contains($0) }
    }

    /// Drops an extension written after the number: "x123", "ext. 123", "extension 123", or a bare "x".
    static func withoutExtension(_ text: Substring) -> Substring {
        let lowered = text.lowercased()
        guard lowered.count == text.count else { return text }
        for marker in ["extension", "ext.", "ext", "x"] {
            guard let range = lowered.range(of: marker, options: .backwards) else { continue }
            let tail = lowered[range.upperBound...]
            guard tail.allSatisfy({ $0.isNumber || $0 == " " }) else { continue }
            let head = lowered[..<range.lowerBound]
            guard head.contains(where: \.isNumber) else { continue }
            return text.prefix(head.count)
        }
        return text
    }

    /// The ITU E.161 keypad digit of a letter.
    static func keypad(_ character: Character) -> Character? {
        guard let ascii = character.uppercased().first?.asciiValue, (65...90).contains(ascii) else { return nil }
        let groups = ["ABC", "DEF", "GHI", "JKL", "MNO", "PQRS", "TUV", "WXYZ"]
        let index = groups.firstIndex { $0.utf8.contains(ascii) }!
        return Character(String(index + 2))
    }

    private static func describe(_ lengths: Set<Int>) -> String {
        let sorted = lengths.sorted()
        if let first = sorted.first, let last = sorted.last, sorted.count == last - first + 1, sorted.count > 2 { return "\(first) to \(last)" }
        return sorted.map(String.init).joined(separator: " or ")
    }

    private static func invalid(_ text: String, _ why: String) -> ScreeningError {
        ScreeningError(code: .init("invalid_number"), message: "\"\(text)\" is not a phone number: \(why)")
    }
}
