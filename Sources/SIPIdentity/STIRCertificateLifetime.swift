/// How long a certificate chain fetched from an x5u may be reused (RFC 9111 §5.2.2, RFC 8224 §6.2.1 on caching
/// credentials): `no-store` and `no-cache` not at all, `max-age` up to a day, an hour when the server does not say.
public struct STIRCertificateLifetime: Sendable, Equatable {
    public static let unsaid: Duration = .seconds(3600)
    public static let maximum: Duration = .seconds(86_400)

    public var duration: Duration

    /// From the response's Cache-Control field values.
    public init(cacheControl: [String]) {
        var lifetime = Self.unsaid
        for directive in cacheControl.flatMap({ $0.split(separator: ",") }) {
            let pair = directive.split(separator: "=", maxSplits: 1).map { $0.trimmingWhitespace.lowercased() }
            switch pair.first {
            case "no-store", "no-cache":
                duration = .zero
                return
            case "max-age":
                guard pair.count == 2, let seconds = Int(pair[1].trimmingCharacters(in: "\"")), seconds >= 0 else { continue }
                lifetime = min(.seconds(seconds), Self.maximum)
            default: continue
            }
        }
        duration = lifetime
    }
}
