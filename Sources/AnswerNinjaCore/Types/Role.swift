/// The roles of the one binary (DESIGN.md "Roles"); `serve` runs all of them in one process.
public enum Role: String, CaseIterable, Codable, Sendable, Comparable {
    case gateway
    case media
    case conversation
    /// The HTTP APIs of the platform services and the dashboard.
    case api

    public static func < (lhs: Role, rhs: Role) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}
