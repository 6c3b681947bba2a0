/// Comparison of secrets (digest responses, CSRF tokens) in time that does not depend on where they first differ.
public enum ConstantTime {
    /// Whether `a` and `b` are the same bytes; only their lengths leak.
    public static func equal(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count else { return false }
        return zip(x, y).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
    }
}
