import Foundation
import NIOPosix

/// Recordings and transcripts on the filesystem, one folder per user under `data_dir/recordings/users/<user id>/`
/// (`<call>.wav` and `<call>.txt`). File work runs on a thread of its own (it blocks), never on an event loop or
/// Swift's cooperative pool.
public final class RecordingFiles: Sendable {
    public let root: String
    private let thread: NIOThreadPool

    public init(root: String) {
        self.root = root
        thread = NIOThreadPool(numberOfThreads: 1)
        thread.start()
    }

    func folder(of userId: String) -> String { root + "/users/" + userId }

    /// Moves a finished recording into its user's folder; returns the new path (the old one if it cannot move).
    func adopt(_ path: String, userId: String) async -> String {
        let folder = folder(of: userId)
        let target = folder + "/" + (path as NSString).lastPathComponent
        return (try? await thread.runIfActive {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o750])
            try FileManager.default.moveItem(atPath: path, toPath: target)
            return target
        }) ?? path
    }

    /// Writes a transcript as `<name>.txt` in the user's folder (atomically: a reader never sees half of it); returns
    /// its path.
    func writeTranscript(_ text: String, name: String, userId: String) async throws -> String {
        let folder = folder(of: userId)
        let target = folder + "/" + name + ".txt"
        try await thread.runIfActive {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o750])
            try Data(text.utf8).write(to: URL(fileURLWithPath: target), options: .atomic)
        }
        return target
    }

    /// The size of the file, or nil when it is missing.
    func size(_ path: String) async -> Int? {
        try? await thread.runIfActive { (try FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.intValue }
    }

    /// Bytes `range` of the file.
    func read(_ path: String, range: ClosedRange<Int>? = nil) async throws -> [UInt8] {
        try await thread.runIfActive {
            guard let handle = FileHandle(forReadingAtPath: path) else { throw CocoaError(.fileNoSuchFile) }
            defer { try? handle.close() }
            if let range {
                try handle.seek(toOffset: UInt64(range.lowerBound))
                return [UInt8](try handle.read(upToCount: range.count) ?? Data())
            }
            return [UInt8](try handle.readToEnd() ?? Data())
        }
    }

    /// Removes files; missing ones are fine. Only paths under `root` are touched.
    func remove(_ paths: [String]) async {
        let root = URL(fileURLWithPath: self.root).standardizedFileURL.path + "/"
        _ = try? await thread.runIfActive {
            for path in paths where URL(fileURLWithPath: path).standardizedFileURL.path.hasPrefix(root) { try? FileManager.default.removeItem(atPath: path) }
        }
    }

    /// Removes a user's folder.
    func removeAll(of userId: String) async {
        let folder = folder(of: userId)
        _ = try? await thread.runIfActive { try? FileManager.default.removeItem(atPath: folder) }
    }

    public func close() async {
        try? await thread.shutdownGracefully()
    }
}
