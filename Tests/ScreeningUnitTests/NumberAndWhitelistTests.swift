import AnswerNinjaCore
import Screening
import Testing

@Suite struct PhoneNumberNormalizerTests {
    @Test(arguments: [
        ("US", "(415) 555-0123", "+14155550123"), ("US", "1-415-555-0123", "+14155550123"), ("US", "011 44 20 7946 0018", "+442079460018"),
        ("US", "tel:+1-415-555-0123;ext=12", "+14155550123"), ("US", "415.555.0123 x 204", "+14155550123"), ("US", "1-800-FLOWERS", "+18003569377"),
        ("GB", "020 7946 0018", "+442079460018"), ("GB", "+44 (20) 7946 0018", "+442079460018"), ("DE", "030 123456", "+4930123456"),
        ("FR", "01 23 45 67 89", "+33123456789"), ("FR", "00 1 415 555 0123", "+14155550123"), ("ES", "612 34 56 78", "+34612345678"),
    ])
    func normalises(region: String, input: String, expected: String) throws {
        #expect(try PhoneNumberNormalizer(region: region).normalize(input).rawValue == expected)
    }

    @Test(arguments: [
        ("US", "555-0123", "digits"), ("US", "hello", "unexpected"), ("US", "+999 1234 5678", "country code"), ("GB", "+44 20 7946", "digits after the country code"),
        ("US", "", "no digits"), ("US", "415-555-0123-9999", "digits"),
    ])
    func refusesWithAReason(region: String, input: String, why: String) throws {
        let error = #expect(throws: ScreeningError.self) { try PhoneNumberNormalizer(region: region).normalize(input) }
        #expect(error?.code.rawValue == "invalid_number")
        #expect(error?.message.contains(why) == true, "\(error?.message ?? "")")
    }

    @Test func anUnknownRegionIsNamed() {
        let error = #expect(throws: ScreeningError.self) { try PhoneNumberNormalizer(region: "XX") }
        #expect(error?.message.contains("US") == true)
    }
}

@Suite struct WhitelistRulesTests {
    static let now: Int64 = 1_800_000_000_000

    static func entry(_ pattern: String, _ list: WhitelistEntry.List, _ source: WhitelistEntry.Source = .manual, expires: Int64? = nil) throws -> WhitelistEntry {
        WhitelistEntry(pattern: try WhitelistPattern(pattern), list: list, source: source, expiresAt: expires, createdAt: now - 1000)
    }

    @Test func theMostSpecificActiveEntryDecides() throws {
        let entries = [
            try Self.entry("+1900*", .block), try Self.entry("+1900555*", .allow), try Self.entry("+19005550100", .block, .contact),
            try Self.entry("+14155550123", .allow, .contact), try Self.entry("+14155550199", .allow, .temporary, expires: Self.now - 1),
            try Self.entry("+1415555*", .block), try Self.entry("+1415555*", .allow, .learned),
        ]
        func check(_ number: String) throws -> WhitelistDecision { WhitelistRules.check(entries, number: try E164Number(number), now: Self.now) }
        #expect(try check("+19001234567").reason == "blocklist:manual:+1900*")
        #expect(try check("+19005551234").reason == "whitelist:manual:+1900555*", "a longer prefix wins")
        #expect(try check("+19005550100").reason == "blocklist:contact:+19005550100", "an exact number wins over any prefix")
        #expect(try check("+14155550123").reason == "whitelist:contact:+14155550123")
        #expect(try check("+14155550199").reason == "blocklist:manual:+1415555*", "an expired temporary entry no longer counts; at equal specificity block wins")
        #expect(try check("+442079460018") == .unknown)
        #expect(WhitelistDecision.unknown.reason == "whitelist:none")
    }

    @Test(arguments: ["+1*", "+*", "1415*", "+14a5*", "+44*", "not a number", "+1 415"])
    func patternsThatCouldCoverACountryOrAreNotNumbersAreRefused(text: String) {
        #expect(throws: ScreeningError.self) { try WhitelistPattern(text) }
    }

    @Test func aPrefixHoldsACountryCodeAndMore() throws {
        #expect(try WhitelistPattern("+1800*").prefix == "+1800")
        #expect(try WhitelistPattern("+4420*").isPrefix)
        #expect(try WhitelistPattern(" +1 (415) 555-0123 ").rawValue == "+14155550123")
    }
}

@Suite struct ContactImportTests {
    @Test func csvWithQuotesSeveralNumbersAndBadRows() throws {
        let csv = """
            Name,Mobile Phone,Work Phone,Email\r
            "Smith, Anna",(415) 555-0123,+44 20 7946 0018,anna@example.com\r
            Bob,555-0000,,\r
            "Carol ""CJ"" Jones","415 555 0199\r
            ",,\r
            ,,,\r
            Dan,,,dan@example.com\r
            """
        let result = ContactImport.parse(csv, normalizer: try PhoneNumberNormalizer(region: "US"))
        #expect(result.contacts.map(\.number.rawValue) == ["+14155550123", "+442079460018", "+14155550199"])
        #expect(result.contacts.map(\.name) == ["Smith, Anna", "Smith, Anna", "Carol \"CJ\" Jones"])
        #expect(result.problems.map(\.line) == [3, 7])
        #expect(result.problems.first?.message.contains("555-0000") == true)
    }

    @Test func vCardsWithFoldedLinesAndGroups() throws {
        let vcf = """
            BEGIN:VCARD
            VERSION:3.0
            FN:Pharmacy on Main
            TEL;TYPE=WORK,VOICE:+1 415 555 01
             77
            item1.TEL:(415) 555-0178
            END:VCARD
            BEGIN:VCARD
            VERSION:4.0
            FN:No Phone
            END:VCARD
            BEGIN:VCARD
            FN:Bad
            TEL:12
            END:VCARD
            """
        let result = ContactImport.parse(vcf, normalizer: try PhoneNumberNormalizer(region: "US"))
        #expect(result.contacts == [
            .init(name: "Pharmacy on Main", number: try E164Number("+14155550177")), .init(name: "Pharmacy on Main", number: try E164Number("+14155550178")),
        ])
        #expect(result.problems.map(\.line) == [11, 14], "the card without TEL ends on line 11; the bad TEL is on line 14")
    }

    @Test func aCSVWithoutANumberColumnSaysSo() throws {
        let result = ContactImport.parse("name,email\nA,a@example.com\n", normalizer: try PhoneNumberNormalizer(region: "US"))
        #expect(result.contacts.isEmpty && result.problems.first?.message.contains("no phone number column") == true)
    }
}
