import AnswerNinjaCore
import AnswerNinjaTestSupport
import Foundation
import Screening
import Testing

/// Our E.164 normaliser against Google's libphonenumber (the `phonenumbers` package from PyPI, installed by
/// tools/setup): for each region we know, libphonenumber's example numbers of every type, written the ways people
/// write them, plus junk. Where libphonenumber calls an input a possible number we must give the same E.164; where
/// it refuses one, so must we.
@Suite struct PhoneNumberSweepTests {
    static let python = AnswerNinjaProcess.packageRootFromSource() + "/.venv/bin/python"

    static let script = #"""
import json, sys, phonenumbers
from phonenumbers import PhoneNumberFormat as F, PhoneNumberType as T
regions = sys.argv[1].split(",")
cases = []
for region in regions:
    inputs = set()
    for kind in [T.FIXED_LINE, T.MOBILE, T.TOLL_FREE, T.PREMIUM_RATE, T.VOIP]:
        n = phonenumbers.example_number_for_type(region, kind)
        if n is None:
            continue
        national = phonenumbers.format_number(n, F.NATIONAL)
        international = phonenumbers.format_number(n, F.INTERNATIONAL)
        e164 = phonenumbers.format_number(n, F.E164)
        digits = "".join(c for c in national if c.isdigit())
        meta = phonenumbers.PhoneMetadata.metadata_for_region(region)
        prefix = meta.international_prefix if meta.international_prefix and meta.international_prefix.isdigit() else "00"
        inputs.update([national, international, e164, "tel:" + e164, digits, e164.replace("+", prefix, 1),
                       international.replace(" ", "-"), international.replace(" ", "."), "  " + national + "  ",
                       digits[:-2], digits + "12345678901", national.replace(" ", "") + "x"])
    inputs.update(["", "12", "+", "+1", "hello", "555-CALL-NOW", "+999 1234"])
    for text in sorted(inputs):
        try:
            n = phonenumbers.parse(text, region)
            possible = phonenumbers.is_possible_number_with_reason(n) == phonenumbers.ValidationResult.IS_POSSIBLE
            valid = phonenumbers.is_valid_number(n)
            expected = phonenumbers.format_number(n, F.E164) if possible else None
        except phonenumbers.NumberParseException:
            expected, possible, valid = None, False, False
        # Possible by length but invalid by the plan's patterns (a national prefix kept as part of the number):
        # libphonenumber's E.164 for those means nothing, so either answer is fine.
        cases.append({"region": region, "input": text, "expected": expected, "ambiguous": possible and not valid})
print(json.dumps(cases))
"""#

    struct Case: Decodable {
        let region: String
        let input: String
        let expected: String?
        let ambiguous: Bool
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: python) || PeerEnvironment.isCI), .timeLimit(.minutes(1)))
    func weAgreeWithLibphonenumber() async throws {
        let regions = PhoneNumberNormalizer.regions.keys.sorted()
        let result = try await PeerEnvironment.run(Self.python, ["-c", Self.script, regions.joined(separator: ",")])
        try #require(result.status == 0, "python phonenumbers: \(result.output.suffix(500))")
        let cases = try JSONDecoder().decode([Case].self, from: Data(result.output.utf8))
        #expect(cases.count > 300)
        var agreed = 0, accepted = 0
        var disagreements: [String] = []
        let ambiguous = cases.filter(\.ambiguous).count
        #expect(ambiguous < cases.count / 20, "\(ambiguous) ambiguous cases")
        for item in cases where !item.ambiguous {
            let ours = try? PhoneNumberNormalizer(region: item.region).normalize(item.input).rawValue
            // libphonenumber keeps numbers E.164 cannot hold (more than 15 digits, or under 7); we refuse those.
            let expected = item.expected.flatMap { (try? E164Number($0))?.rawValue }
            if ours == expected { agreed += 1 } else { disagreements.append("\(item.region) \"\(item.input)\": ours \(ours ?? "refused"), libphonenumber \(expected ?? "refused")") }
            if ours != nil { accepted += 1 }
        }
        #expect(disagreements.isEmpty, "\(disagreements.count) of \(cases.count):\n\(disagreements.prefix(30).joined(separator: "\n"))")
        #expect(accepted > cases.count / 3, "the sweep holds valid numbers, not only junk")
        #expect(agreed == cases.count - ambiguous)
    }
}
