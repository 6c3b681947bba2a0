#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// RFC 3389 comfort noise: the payload (a noise level in −dBov and optional reflection coefficients), the level
/// of a frame, and a generator of white noise at a level. Sent during silence so the far end hears the line is
/// alive; received CN is played as noise at its level.
public struct ComfortNoisePayload: Sendable, Equatable {
    /// RFC 3389 §3: 0...127, in −dBov (0 is the loudest; 127 is digital silence).
    public var level: UInt8
    /// RFC 3389 §3: quantized reflection coefficients (spectral shape); empty means white noise.
    public var reflectionCoefficients: [UInt8]

    public init(level: UInt8, reflectionCoefficients: [UInt8] = []) {
        self.level = min(level, 127)
        self.reflectionCoefficients = reflectionCoefficients
    }

    public init(parsing payload: some Collection<UInt8>) throws(CodecError) {
        guard let first = payload.first else {
            throw CodecError(code: .init("malformed"), message: "comfort noise payload is empty")
        }
        guard first <= 127 else {
            throw CodecError(code: .init("malformed"), message: "comfort noise level \(first) is above 127")
        }
        self.init(level: first, reflectionCoefficients: Array(payload.dropFirst()))
    }

    public var bytes: [UInt8] { [level] + reflectionCoefficients }
}

public enum ComfortNoise {
    /// The level of a frame in −dBov (RFC 3389 §3.1: relative to a full-scale square wave of 16-bit audio),
    /// rounded and clamped to 0...127.
    public static func level(of samples: some Collection<Int16>) -> UInt8 {
        guard !samples.isEmpty else { return 127 }
        let power = samples.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(samples.count)
        guard power > 0 else { return 127 }
        let dBov = 10 * log10(power / (32768.0 * 32768.0))
        return UInt8(max(0, min(127, (-dBov).rounded())))
    }

    /// White noise whose level is `level` −dBov (uniform samples: power = a²/3 for amplitude a).
    public static func generate(level: UInt8, count: Int, using generator: inout some RandomNumberGenerator) -> [Int16] {
        guard level < 127 else { return [Int16](repeating: 0, count: count) }
        let power = pow(10, -Double(level) / 10) * 32768.0 * 32768.0
        let amplitude = min(32767, (3 * power).squareRoot())
        return (0..<count).map { _ in Int16(Double.random(in: -amplitude...amplitude, using: &generator)) }
    }
}
