import CHiredis
import CPostgres
import CSQLite

/// Versions of the linked database clients, for `answer-ninja selftest`.
public enum StoreLibraries {
    /// `sqlite3_libversion()`.
    public static var sqliteVersion: String { String(cString: sqlite3_libversion()) }

    /// libpq's `PQlibVersion()` as major.minor (150018 → "15.18").
    public static var postgresClientVersion: String {
        let version = PQlibVersion()
        return "\(version / 10000).\(version % 10000)"
    }

    /// hiredis's compile-time version.
    public static var hiredisVersion: String {
        "\(cshim_hiredis_major()).\(cshim_hiredis_minor()).\(cshim_hiredis_patch())"
    }
}
