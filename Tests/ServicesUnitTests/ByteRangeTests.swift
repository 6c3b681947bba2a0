@testable import AnswerNinjaServices
import Testing

/// Range headers (RFC 9110 §14.1.2) against a 1,000-byte recording.
@Suite struct ByteRangeTests {
    @Test(arguments: [
        (String?.none, ByteRange.whole), ("bytes=0-99", .partial(0...99)), ("bytes=900-", .partial(900...999)), ("bytes=-100", .partial(900...999)),
        ("bytes=-5000", .partial(0...999)), ("bytes=990-5000", .partial(990...999)), ("bytes=1000-", .unsatisfiable), ("bytes=5000-6000", .unsatisfiable),
        ("bytes=0-0", .partial(0...0)), ("bytes=0-9,20-29", .whole), ("items=0-9", .whole), ("bytes=9-0", .whole), ("bytes=abc", .whole), ("bytes=-0", .unsatisfiable),
    ])
    func ranges(header: String?, expected: ByteRange) {
        #expect(ByteRange.parse(header, size: 1000) == expected)
    }

    @Test func anEmptyRecordingSatisfiesNoRange() {
        #expect(ByteRange.parse("bytes=0-", size: 0) == .unsatisfiable)
        #expect(ByteRange.parse("bytes=-1", size: 0) == .unsatisfiable)
        #expect(ByteRange.parse(nil, size: 0) == .whole)
    }
}
