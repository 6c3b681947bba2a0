import AnswerNinjaCore
import Testing

@Suite struct SharedTypesTests {
    @Test func callIDAcceptsRFC3261WordsAndRefusesTheRest() throws {
        #expect(try CallID("a84b4c76e66710@pc33.atlanta.com").rawValue == "a84b4c76e66710@pc33.atlanta.com")
        #expect(throws: CoreError.self) { try CallID("") }
        #expect(throws: CoreError.self) { try CallID("has space") }
        #expect(throws: CoreError.self) { try CallID(String(repeating: "a", count: CallID.maximumLength + 1)) }
        var generator = SystemRandomNumberGenerator()
        let random = CallID.random(using: &generator)
        #expect(random.rawValue.count == 32)
        #expect(random != CallID.random())
    }

    @Test(arguments: [
        ("+1 (415) 555-0100", "+14155550100"),
        ("0044 20 7946 0958", "+442079460958"),
        ("+49.30.1234567", "+49301234567"),
    ])
    func e164NormalisesWhatPeopleWrite(input: String, expected: String) throws {
        #expect(try E164Number(input).rawValue == expected)
    }

    @Test(arguments: ["4155550100", "+0123456789", "+1234", "+1234567890123456", "+1415555O100", ""])
    func e164RefusesWhatIsNotANumber(input: String) {
        #expect(throws: CoreError.self) { try E164Number(input) }
    }

    @Test func aliasesAreLowercaseAndSafeInAUserPart() throws {
        #expect(try NumberAlias("Demo").rawValue == "demo")
        #expect(throws: CoreError.self) { try NumberAlias("9lives") }
        #expect(throws: CoreError.self) { try NumberAlias("has space") }
        #expect(throws: CoreError.self) { try NumberAlias("a@b") }
    }

    @Test func dialledNumbersAreNumbersOrAliases() throws {
        #expect(try DialledNumber(userPart: "+14155550100") == .number(try E164Number("+14155550100")))
        #expect(try DialledNumber(userPart: "14155550100") == .number(try E164Number("+14155550100")))
        #expect(try DialledNumber(userPart: "demo") == .alias(try NumberAlias("demo")))
        #expect(throws: CoreError.self) { try DialledNumber(userPart: "no way") }
    }

    @Test func audioFramesKnowTheirDuration() throws {
        let frame = AudioFrame.silence(.milliseconds(20), rate: .narrowband, rtpTimestamp: 160)
        #expect(frame.samples.count == 160)
        #expect(frame.duration == .milliseconds(20))
        #expect(AudioSampleRate(rawValue: 44100) == nil)
        #expect(AudioSampleRate.espeak.samples(in: .milliseconds(20)) == 441)
    }

    @Test func mediaInstantsSaturateAndMeasure() {
        let start = MediaInstant(nanoseconds: 1_000)
        #expect(start.advanced(by: .microseconds(1)).nanoseconds == 2_000)
        #expect(start.advanced(by: .seconds(-1)).nanoseconds == 0)
        #expect(MediaInstant(nanoseconds: .max - 1).advanced(by: .seconds(1)).nanoseconds == .max)
        #expect(start.duration(to: MediaInstant(nanoseconds: 500)) == .nanoseconds(-500))
    }

    @Test func turnLatencyMeasuresEachStageFromThePreviousOne() throws {
        var latency = TurnLatency()
        let t0 = MediaInstant(nanoseconds: 0)
        try latency.mark(.vadEnd, at: t0)
        try latency.mark(.sttFinal, at: t0.advanced(by: .milliseconds(180)))
        try latency.mark(.reply, at: t0.advanced(by: .milliseconds(230)))
        try latency.mark(.rtpFirst, at: t0.advanced(by: .milliseconds(420)))
        #expect(latency.stageDuration(.sttFinal) == .milliseconds(180))
        #expect(latency.stageDuration(.reply) == .milliseconds(50))
        #expect(latency.stageDuration(.ttsFirst) == nil)
        // rtp_first measured from the last marked stage before it (reply) when tts_first is missing.
        #expect(latency.stageDuration(.rtpFirst) == .milliseconds(190))
        #expect(latency.total == .milliseconds(420))
        #expect(throws: CoreError.self) { try latency.mark(.ttsFirst, at: t0.advanced(by: .milliseconds(500))) }
        #expect(throws: CoreError.self) { try latency.mark(.vadEnd, at: t0) }
        #expect(LatencyStage.allCases.map(\.rawValue) == ["vad_end", "stt_final", "reply", "tts_first", "rtp_first"])
    }

    @Test func errorsCarryTheirModuleCodeAndWhere() {
        let error = CoreError.invalidValue("bad")
        #expect(error.code == .invalidValue)
        #expect(error.description == "core.invalid_value: bad")
        #expect(error.file.hasSuffix("SharedTypesTests.swift"))
        #expect(error.line > 0)
    }
}
