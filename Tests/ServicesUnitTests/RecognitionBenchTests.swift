import Foundation
import Testing

@testable import AnswerNinjaServices

@Suite struct RecognitionBenchTests {
    @Test func wordErrorsCountSubstitutionsDeletionsAndInsertions() {
        let reference = RecognitionBench.words("Go forward, ten meters.")
        #expect(reference == ["go", "forward", "ten", "meters"])
        #expect(RecognitionBench.editDistance(reference, reference) == 0)
        #expect(RecognitionBench.editDistance(reference, RecognitionBench.words("go four ten meters")) == 1, "one substitution")
        #expect(RecognitionBench.editDistance(reference, RecognitionBench.words("go ten meters")) == 1, "one deletion")
        #expect(RecognitionBench.editDistance(reference, RecognitionBench.words("so go forward ten meters now")) == 2, "two insertions")
        #expect(RecognitionBench.editDistance(reference, []) == 4)
        #expect(RecognitionBench.editDistance([], ["uh"]) == 1)
        // pocketsphinx's markers and alternate pronunciations are not words.
        #expect(RecognitionBench.words("<s> go(2) [noise] forward </s>") == ["go", "forward"])
    }

    @Test func aListWithAMissingFieldOrAWrongRateIsRefusedWithItsLine() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("bench-stt-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let raw = folder.appendingPathComponent("a.raw").path
        try Data(repeating: 0, count: 3200).write(to: URL(fileURLWithPath: raw))
        let list = folder.appendingPathComponent("list.tsv").path
        try "# id, path, reference\na\t\(raw)\tgo forward\n".write(toFile: list, atomically: true, encoding: .utf8)
        let items = try RecognitionBench.load(list: list)
        #expect(items.count == 1 && items[0].samples.count == 1600 && items[0].reference == "go forward")

        try "a\t\(raw)\n".write(toFile: list, atomically: true, encoding: .utf8)
        #expect(throws: (any Error).self) { try RecognitionBench.load(list: list) }
        do {
            _ = try RecognitionBench.load(list: list)
        } catch {
            #expect("\(error)".contains("list.tsv:1"), "\(error)")
        }
        // A 16 kHz WAV is not what a call carries.
        let wav = folder.appendingPathComponent("wide.wav").path
        var header = Data("RIFF".utf8) + le32(36 + 320) + Data("WAVEfmt ".utf8) + le32(16) + le16(1) + le16(1) + le32(16000) + le32(32000) + le16(2) + le16(16)
        header += Data("data".utf8) + le32(320) + Data(repeating: 0, count: 320)
        try header.write(to: URL(fileURLWithPath: wav))
        try "w\t\(wav)\tgo\n".write(toFile: list, atomically: true, encoding: .utf8)
        do {
            _ = try RecognitionBench.load(list: list)
            Issue.record("a 16 kHz file was accepted")
        } catch {
            #expect("\(error)".contains("16000 Hz"), "\(error)")
        }
    }

    private func le32(_ value: UInt32) -> Data { withUnsafeBytes(of: value.littleEndian) { Data($0) } }
    private func le16(_ value: UInt16) -> Data { withUnsafeBytes(of: value.littleEndian) { Data($0) } }
}
