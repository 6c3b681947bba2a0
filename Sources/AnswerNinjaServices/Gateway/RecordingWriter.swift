import Capture
import Foundation
import Glibc
import NIOCore
import NIOPosix

/// Writes call recordings as WAV files on its own thread (creating and writing a file blocks, which neither an
/// event loop nor Swift's cooperative pool may do), streamed as the calls go (`RecordingStream`). The directory is
/// made on the first recording.
final class RecordingWriter: Sendable {
    let pool: NIOThreadPool
    private let directory: URL

    init(directory: URL) {
        self.directory = directory
        pool = NIOThreadPool(numberOfThreads: 1)
        pool.start()
    }

    func shutdown() async {
        try? await pool.shutdownGracefully()
    }
}

extension RecordingWriter {
    /// Starts a streamed recording at `file` (see `RecordingStream`); `opened` runs once the file exists (true) or
    /// could not be made (false), on the writer's thread.
    func stream(to file: URL, opened: @escaping @Sendable (Bool) -> Void) -> RecordingStream {
        let stream = RecordingStream(path: file.path, pool: pool)
        let directory = directory
        pool.submit { state in
            guard state == .active else { return opened(false) }
            try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            opened(stream.open())
        }
        return stream
    }
}

/// One call's recording, written as it goes: a 16-bit stereo WAV at 8 kHz (left the caller, right us) whose sizes
/// in the header are rewritten after every chunk, so that a process killed mid-call leaves a playable file that
/// lacks at most the last second. It owns its file descriptor; every operation runs on the writer's one thread, in
/// the order asked. The file may be moved meanwhile (into its owner's folder): the descriptor follows it.
final class RecordingStream: @unchecked Sendable {
    // @unchecked: `descriptor`, `dataBytes` and `failed` are touched only on the writer's thread.
    let path: String
    private let pool: NIOThreadPool
    private var descriptor: Int32 = -1
    private var dataBytes = 0
    private var failed = false

    fileprivate init(path: String, pool: NIOThreadPool) {
        self.path = path
        self.pool = pool
    }

    /// On the writer's thread: creates the file with its header.
    fileprivate func open() -> Bool {
        // O_EXCL: a file of another call (another gateway on the shared volume) is never written over.
        descriptor = Glibc.open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o640)
        guard descriptor >= 0 else {
            failed = true
            return false
        }
        var header = ByteBuffer()
        WAVFile(sampleRate: 8000, channels: 2, samples: []).write(to: &header)
        return writeAll(Array(header.readableBytesView))
    }

    /// Appends interleaved stereo samples and brings the header's sizes up to date.
    func append(_ samples: [Int16]) {
        pool.submit { state in
            // A stopped pool runs the item here, on the caller's thread (an event loop): nothing is written then.
            guard state == .active, self.descriptor >= 0, !self.failed else { return }
            // WAV is little-endian, as every machine we build for.
            let bytes = samples.withUnsafeBytes { [UInt8]($0) }
            guard self.writeAll(bytes) else { return }
            self.dataBytes += bytes.count
            self.updateSizes()
        }
    }

    /// Brings the header up to date and closes the file; false when something could not be written.
    func close() async -> Bool {
        do {
            return try await pool.runIfActive {
                guard self.descriptor >= 0 else { return false }
                self.updateSizes()
                Glibc.close(self.descriptor)
                self.descriptor = -1
                return !self.failed
            }
        } catch {
            // The writer has shut down (no thread uses the descriptor any more): it is closed here, not leaked.
            if descriptor >= 0 { Glibc.close(descriptor) }
            descriptor = -1
            return false
        }
    }

    private func updateSizes() {
        for (offset, value) in [(4, 36 + dataBytes), (40, dataBytes)] {
            var little = UInt32(truncatingIfNeeded: value).littleEndian
            if pwrite(descriptor, &little, 4, off_t(offset)) != 4 { failed = true }
        }
    }

    private func writeAll(_ bytes: [UInt8]) -> Bool {
        var written = 0
        while written < bytes.count {
            let count = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress! + written, bytes.count - written) }
            if count < 0, errno == EINTR { continue }
            guard count > 0 else {
                failed = true
                return false
            }
            written += count
        }
        return true
    }
}
