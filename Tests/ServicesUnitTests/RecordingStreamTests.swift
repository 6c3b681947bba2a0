import Capture
import Foundation
import NIOCore
import Testing

@testable import AnswerNinjaServices

/// The streamed call recording: after every chunk the file on disk is a valid stereo WAV holding everything so far
/// (what a process killed mid-call leaves), the file can be moved while it is written (into its owner's folder),
/// and closing leaves the whole call.
@Suite struct RecordingStreamTests {
    static func parse(_ path: String) throws -> WAVFile {
        try WAVFile(parsing: ByteBuffer(bytes: try Data(contentsOf: URL(fileURLWithPath: path))))
    }

    @Test(.timeLimit(.minutes(1)))
    func everyChunkLeavesAPlayableFileAndTheFileMayMove() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("recording-stream-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let writer = RecordingWriter(directory: directory)
        let (stream, opened) = await Self.open(writer, directory.appendingPathComponent("call.wav"))
        #expect(opened)
        #expect(try Self.parse(stream.path).samples.isEmpty, "a header alone: an empty recording")

        // Left 1000 + n, right -(1000 + n): which channel is which survives the trip.
        let chunk = (0..<800).flatMap { [Int16(1000 + $0), Int16(-1000 - $0)] }
        stream.append(chunk)
        _ = try await writerIdle(writer)
        var wav = try Self.parse(stream.path)
        #expect(wav.channels == 2 && wav.sampleRate == 8000 && wav.samples == chunk)

        // Moved while open (the call recorder adopts it into the owner's folder): the writes follow the file.
        let moved = directory.appendingPathComponent("users/u1/call.wav")
        try FileManager.default.createDirectory(at: moved.deletingLastPathComponent(), withIntermediateDirectories: true)
        try FileManager.default.moveItem(atPath: stream.path, toPath: moved.path)
        stream.append(chunk)
        #expect(await stream.close())
        wav = try Self.parse(moved.path)
        #expect(wav.samples == chunk + chunk)
        #expect(!FileManager.default.fileExists(atPath: stream.path))
        await writer.shutdown()
    }

    /// A file that cannot be made (its folder is a file) says so at once and at the close; nothing is written.
    @Test(.timeLimit(.minutes(1)))
    func aRecordingThatCannotStartSaysSo() async throws {
        let blocker = FileManager.default.temporaryDirectory.appendingPathComponent("recording-blocker-\(UUID().uuidString)")
        try Data("x".utf8).write(to: blocker)
        defer { try? FileManager.default.removeItem(at: blocker) }
        let writer = RecordingWriter(directory: blocker)
        let (stream, opened) = await Self.open(writer, blocker.appendingPathComponent("call.wav"))
        #expect(!opened)
        stream.append([1, 2, 3, 4])
        #expect(await stream.close() == false)
        await writer.shutdown()
    }

    /// Starts a recording and waits for the writer to say whether the file was made.
    static func open(_ writer: RecordingWriter, _ file: URL) async -> (RecordingStream, Bool) {
        let opened = AsyncStream.makeStream(of: Bool.self)
        let stream = writer.stream(to: file) { ok in
            opened.continuation.yield(ok)
            opened.continuation.finish()
        }
        var result = false
        for await ok in opened.stream { result = ok }
        return (stream, result)
    }

    /// Waits until the writer's thread has done what was asked before now (its queue is first in, first out).
    func writerIdle(_ writer: RecordingWriter) async throws -> Bool {
        try await writer.pool.runIfActive { true }
    }
}
