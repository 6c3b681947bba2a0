import Capture
import Foundation
import NIOCore
import NIOPosix

/// Writes call recordings as WAV files on its own thread (creating and writing a file blocks, which neither an
/// event loop nor Swift's cooperative pool may do). The directory is made on the first write.
final class RecordingWriter: Sendable {
    private let pool: NIOThreadPool
    private let directory: URL

    init(directory: URL) {
        self.directory = directory
        pool = NIOThreadPool(numberOfThreads: 1)
        pool.start()
    }

    func write(_ wav: WAVFile, to file: URL) async throws {
        let directory = directory
        try await pool.runIfActive {
            var buffer = ByteBuffer()
            wav.write(to: &buffer)
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            try Data(buffer.readableBytesView).write(to: file)
        }
    }

    func shutdown() async {
        try? await pool.shutdownGracefully()
    }
}
