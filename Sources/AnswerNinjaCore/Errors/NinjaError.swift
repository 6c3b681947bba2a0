/// A module's error domain: one per module, so that `NinjaError<Domain>` gives each module its own error type
/// (`SIPMessageError`, `StoreError`, ...) without each module repeating the same struct.
public protocol NinjaErrorDomain: Sendable {
    /// A short lowercase name, printed before the code: `sip-message`, `store`, ...
    static var name: String { get }
}

/// The error type pattern of CONVENTIONS.md §10: a struct with an extensible code and a human message,
/// made by factory functions that capture file and line. Modules declare
/// `public typealias XError = NinjaError<XErrorDomain>` and add factories in an extension.
public struct NinjaError<Domain: NinjaErrorDomain>: Error, Hashable, Sendable, CustomStringConvertible {
    /// An extensible code: modules add `static let` values in extensions. Compared by its string.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(_ rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }
    }

    public var code: Code
    /// What went wrong, for a person: never holds key material or passwords.
    public var message: String
    public var file: String
    public var line: Int

    public init(code: Code, message: String, file: String = #fileID, line: Int = #line) {
        self.code = code
        self.message = message
        self.file = file
        self.line = line
    }

    public var description: String { "\(Domain.name).\(code): \(message)" }

    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.code == rhs.code && lhs.message == rhs.message }
    public func hash(into hasher: inout Hasher) {
        hasher.combine(code)
        hasher.combine(message)
    }
}

public enum CoreErrorDomain: NinjaErrorDomain {
    public static let name = "core"
}

/// The error type of the shared module: configuration, protocol decoding, shared types.
public typealias CoreError = NinjaError<CoreErrorDomain>

extension NinjaError.Code where Domain == CoreErrorDomain {
    public static let invalidConfiguration = Self("invalid_configuration")
    public static let invalidValue = Self("invalid_value")
    public static let protocolViolation = Self("protocol_violation")
    public static let unsupportedVersion = Self("unsupported_version")
}

extension NinjaError where Domain == CoreErrorDomain {
    public static func invalidConfiguration(_ message: String, file: String = #fileID, line: Int = #line) -> Self {
        Self(code: .invalidConfiguration, message: message, file: file, line: line)
    }
    public static func invalidValue(_ message: String, file: String = #fileID, line: Int = #line) -> Self {
        Self(code: .invalidValue, message: message, file: file, line: line)
    }
    public static func protocolViolation(_ message: String, file: String = #fileID, line: Int = #line) -> Self {
        Self(code: .protocolViolation, message: message, file: file, line: line)
    }
    public static func unsupportedVersion(_ version: Int, supported: ClosedRange<Int>, file: String = #fileID, line: Int = #line) -> Self {
        Self(
            code: .unsupportedVersion,
            message: "protocol version \(version) is not supported (this build speaks \(supported.lowerBound)...\(supported.upperBound))",
            file: file,
            line: line
        )
    }
}

/// What every module's error offers a protocol boundary: a code to put on the wire and a message for a person.
/// Lets code that cannot name the module (a provider behind a protocol) still report `code` and `message`.
public protocol CodedError: Error {
    var codeName: String { get }
    var message: String { get }
}

extension NinjaError: CodedError {
    /// `domain.code`, e.g. `sdp.no_codec`.
    public var codeName: String { "\(Domain.name).\(code.rawValue)" }
}
