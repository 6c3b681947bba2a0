import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The journal's files, used only on the journal's own thread (not Sendable; `CallJournal` confines it): segments
/// `NNNNNNNNNN.log` of JSON lines, a `checkpoint` (how far the database has them), and a `lock` held with `flock`
/// so that two processes never write one journal. The one owner of its file descriptors.
final class JournalFile {
    let directory: String
    let segmentLimit: Int
    private let lockDescriptor: Int32
    private var descriptor: Int32 = -1
    private(set) var segment: Int = 0
    private(set) var size: Int = 0
    /// Lines found corrupt while reading (counted, skipped).
    private(set) var corruptLines = 0

    init(directory: String, segmentLimit: Int) throws(StoreError) {
        self.directory = directory
        self.segmentLimit = segmentLimit
        try DirectoryMaker.ensure(directory)
        lockDescriptor = open(directory + "/lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o640)
        guard lockDescriptor >= 0 else { throw Self.error("cannot open \(directory)/lock") }
        guard flock(lockDescriptor, LOCK_EX | LOCK_NB) == 0 else {
            close(lockDescriptor)
            throw StoreError(code: .init("journal_locked"), message: "the journal \(directory) is in use by another process")
        }
        let segments = try self.segments()
        segment = segments.last ?? 1
        do {
            try openSegment(segment)
            try trimTornTail()
        } catch {
            close(lockDescriptor)
            throw error
        }
    }

    deinit {
        if descriptor >= 0 { close(descriptor) }
        flock(lockDescriptor, LOCK_UN)
        close(lockDescriptor)
    }

    /// The segment numbers present, ascending.
    func segments() throws(StoreError) -> [Int] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { throw Self.error("cannot list \(directory)") }
        return names.compactMap { $0.hasSuffix(".log") ? Int($0.dropLast(4)) : nil }.sorted()
    }

    func path(_ segment: Int) -> String { directory + "/" + String(format: "%010d.log", segment) }

    /// Writes `lines` (each ending in a newline) at the end of the current segment and makes them durable with one
    /// `fsync`; starts a new segment first when the current one is over its limit.
    func append(_ bytes: [UInt8]) throws(StoreError) {
        if size >= segmentLimit {
            close(descriptor)
            descriptor = -1
            segment += 1
            try openSegment(segment)
            try syncDirectory()
        }
        var written = 0
        while written < bytes.count {
            let result = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress! + written, bytes.count - written) }
            if result < 0 {
                if errno == EINTR { continue }
                // Whatever part went out is cut off again, so that the next line does not glue onto half of this one.
                _ = ftruncate(descriptor, off_t(size))
                throw Self.error("cannot write \(path(segment))")
            }
            written += result
        }
        // The bytes are in the file now, durable or not: `size` follows the file, so that a later failed write's
        // truncation never cuts them (a failed fsync is reported; the lines may be replayed, which is harmless).
        size += bytes.count
        guard fsync(descriptor) == 0 else { throw Self.error("cannot fsync \(path(segment))") }
    }

    /// Complete lines from `position`, at most `limit`, across segments; returns them and the position after the
    /// last one. A line that does not decode is counted in `corruptLines` and skipped.
    func read(from position: JournalPosition, limit: Int) throws(StoreError) -> (events: [CallEvent], next: JournalPosition) {
        var events: [CallEvent] = []
        var position = position
        let decoder = JSONDecoder()
        for number in try segments() where number >= position.segment {
            if number > position.segment { position = JournalPosition(segment: number, offset: 0) }
            // A segment that cannot be read stops the reading: skipping it would move the checkpoint past it (and
            // delete it) with its lines never applied.
            guard let handle = FileHandle(forReadingAtPath: path(number)) else { throw Self.error("cannot open \(path(number))") }
            defer { try? handle.close() }
            let data: Data
            do {
                try handle.seek(toOffset: UInt64(position.offset))
                data = try handle.readToEnd() ?? Data()  // nil at the end of the file: nothing new
            } catch {
                throw StoreError(code: .init("journal"), message: "cannot read \(path(number)): \(error)")
            }
            let bytes = [UInt8](data)
            var start = 0
            while start < bytes.count, events.count < limit {
                guard let newline = bytes[start...].firstIndex(of: 0x0A) else { break }
                if let event = try? decoder.decode(CallEvent.self, from: Data(bytes[start..<newline])) {
                    events.append(event)
                } else {
                    corruptLines += 1
                }
                start = newline + 1
            }
            position.offset += start
            if events.count >= limit { break }
        }
        return (events, position)
    }

    func loadCheckpoint() -> JournalPosition {
        guard let data = FileManager.default.contents(atPath: directory + "/checkpoint"),
            let position = try? JSONDecoder().decode(JournalPosition.self, from: data)
        else { return JournalPosition(segment: 0, offset: 0) }
        return position
    }

    /// Saves the checkpoint atomically (write, fsync, rename) and deletes the segments wholly before it.
    func saveCheckpoint(_ position: JournalPosition) throws(StoreError) {
        let temporary = directory + "/checkpoint.tmp"
        let bytes = Array((try? JSONEncoder().encode(position)) ?? Data())
        let file = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o640)
        guard file >= 0 else { throw Self.error("cannot write \(temporary)") }
        let written = bytes.withUnsafeBytes { write(file, $0.baseAddress, bytes.count) }
        let synced = fsync(file)
        close(file)
        guard written == bytes.count, synced == 0, rename(temporary, directory + "/checkpoint") == 0 else { throw Self.error("cannot save the checkpoint") }
        for number in try segments() where number < position.segment && number < segment { unlink(path(number)) }
    }

    private func openSegment(_ number: Int) throws(StoreError) {
        descriptor = open(path(number), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o640)
        guard descriptor >= 0 else { throw Self.error("cannot open \(path(number))") }
        var info = stat()
        fstat(descriptor, &info)
        size = Int(info.st_size)
    }

    /// After a crash the last line may be half written: cut the segment back to its last newline.
    private func trimTornTail() throws(StoreError) {
        guard size > 0, let data = FileManager.default.contents(atPath: path(segment)) else { return }
        let keep = (data.lastIndex(of: 0x0A).map { $0 + 1 }) ?? 0
        guard keep < data.count else { return }
        guard ftruncate(descriptor, off_t(keep)) == 0, fsync(descriptor) == 0 else { throw Self.error("cannot trim \(path(segment))") }
        size = keep
        corruptLines += 1
    }

    private func syncDirectory() throws(StoreError) {
        let handle = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard handle >= 0 else { throw Self.error("cannot open \(directory)") }
        defer { close(handle) }
        guard fsync(handle) == 0 else { throw Self.error("cannot fsync \(directory)") }
    }

    private static func error(_ what: String) -> StoreError {
        StoreError(code: .init("journal"), message: "\(what): \(String(cString: strerror(errno)))")
    }
}

/// Where in the journal: a segment and a byte offset in it.
public struct JournalPosition: Codable, Sendable, Equatable, Comparable {
    public var segment: Int
    public var offset: Int

    public init(segment: Int, offset: Int) {
        self.segment = segment
        self.offset = offset
    }

    /// Before everything the journal holds.
    public static let start = JournalPosition(segment: 0, offset: 0)

    public static func < (lhs: JournalPosition, rhs: JournalPosition) -> Bool {
        (lhs.segment, lhs.offset) < (rhs.segment, rhs.offset)
    }
}

/// `mkdir -p` with mode 0750.
public enum DirectoryMaker {
    /// Creates `path` and its parents (mode 0750); `what` names it in the error ("data directory ").
    public static func ensure(_ path: String, describing what: String = "") throws(StoreError) {
        var prefix = path.hasPrefix("/") ? "/" : ""
        for component in path.split(separator: "/") {
            prefix += component + "/"
            if mkdir(prefix, 0o750) != 0 && errno != EEXIST {
                throw StoreError(code: .init("data_directory"), message: "cannot create \(what)\(prefix): \(String(cString: strerror(errno)))")
            }
        }
    }
}
