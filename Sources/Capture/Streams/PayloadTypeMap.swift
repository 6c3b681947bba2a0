/// Payload type → encoding and clock rate, for captures without SDP: the static types of RFC 3551 Table 4 and
/// the common dynamic choice of 101 for telephone-event, overridable (`--pt 96=opus`, `--pt 100=telephone-event/48000`).
public struct PayloadTypeMap: Sendable, Equatable {
    public struct Format: Sendable, Equatable {
        public var name: String
        public var clockRate: Int
        public init(name: String, clockRate: Int) {
            self.name = name
            self.clockRate = clockRate
        }
    }

    public private(set) var formats: [UInt8: Format]

    public static let standard = PayloadTypeMap(formats: [
        0: .init(name: "PCMU", clockRate: 8000), 3: .init(name: "GSM", clockRate: 8000), 4: .init(name: "G723", clockRate: 8000),
        8: .init(name: "PCMA", clockRate: 8000), 9: .init(name: "G722", clockRate: 8000), 13: .init(name: "CN", clockRate: 8000),
        18: .init(name: "G729", clockRate: 8000), 101: .init(name: "telephone-event", clockRate: 8000),
    ])

    /// Default clock rates of encodings commonly mapped to dynamic types.
    static let defaultRates: [String: Int] = [
        "telephone-event": 8000, "opus": 48000, "pcmu": 8000, "pcma": 8000, "g722": 8000, "l16": 8000, "cn": 8000, "speex": 8000,
    ]

    /// Applies `N=NAME[/RATE]`.
    public mutating func apply(_ assignment: String) throws(CaptureError) {
        let parts = assignment.split(separator: "=", maxSplits: 1)
        guard parts.count == 2, let type = UInt8(parts[0]), type < 128 else {
            throw CaptureError(code: .malformed, message: "payload type mapping \"\(assignment)\" must be N=NAME or N=NAME/RATE with N 0...127")
        }
        let encoding = parts[1].split(separator: "/")
        let name = String(encoding[0])
        let rate = encoding.count > 1 ? Int(encoding[1]) : Self.defaultRates[name.lowercased()]
        guard let rate, rate > 0 else {
            throw CaptureError(code: .malformed, message: "payload type mapping \"\(assignment)\": give the clock rate, e.g. \(type)=\(name)/8000")
        }
        formats[type] = Format(name: name, clockRate: rate)
    }

    public subscript(_ type: UInt8) -> Format? { formats[type] }
}
