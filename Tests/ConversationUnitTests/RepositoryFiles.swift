import Foundation

/// Files of this repository (the corpus, the conversation scripts), found from this source file's path.
enum RepositoryFiles {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func read(_ relativePath: String) throws -> String {
        try String(contentsOf: root.appendingPathComponent(relativePath), encoding: .utf8)
    }

    static func data(_ relativePath: String) -> Data {
        FileManager.default.contents(atPath: root.appendingPathComponent(relativePath).path) ?? Data()
    }

    static func list(_ relativeDirectory: String, suffix: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent(relativeDirectory).path)
            .filter { $0.hasSuffix(suffix) }
            .sorted()
            .map { relativeDirectory + "/" + $0 }
    }
}
