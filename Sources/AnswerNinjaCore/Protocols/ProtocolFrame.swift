import struct Foundation.Data
import class Foundation.JSONDecoder
import class Foundation.JSONEncoder

/// A message of one of our internal protocols: an enum whose cases carry payload structs. Its wire form is one
/// flat JSON object: the envelope fields `v`, `seq`, `ack` and `type`, then the payload's own fields.
public protocol ProtocolMessage: Sendable, Equatable {
    /// The protocol's name, as in docs/protocols/ (`media-control`, `conversation`, `live-events`).
    static var protocolName: String { get }
    /// The version this build sends.
    static var currentVersion: Int { get }
    /// The versions this build accepts.
    static var supportedVersions: ClosedRange<Int> { get }
    /// The `type` field of this message.
    var type: String { get }
    /// Writes the payload's fields into the same keyed container as the envelope.
    func encodePayload(to encoder: any Encoder) throws
    /// Reads the payload of a message of `type`; throws `CoreError.protocolViolation` for an unknown type.
    static func decodePayload(type: String, from decoder: any Decoder) throws -> Self
}

/// The envelope of every frame of the internal WebSocket protocols (JSON text frames).
///
/// - `v`: protocol version. A receiver refuses versions outside its supported range with an `error` frame.
/// - `seq`: per-direction sequence number, 1 for the first frame on a channel, +1 per frame. Receivers drop
///   duplicates (after a resume) and ask to resume on a gap (`InboundSequencer`).
/// - `ack`: optional, the highest `seq` received in order from the peer; lets the sender forget those frames.
public struct ProtocolFrame<Message: ProtocolMessage>: Sendable, Equatable, Codable {
    public var version: Int
    public var seq: UInt64
    public var ack: UInt64?
    public var message: Message

    public init(seq: UInt64, ack: UInt64? = nil, message: Message, version: Int = Message.currentVersion) {
        self.version = version
        self.seq = seq
        self.ack = ack
        self.message = message
    }

    enum EnvelopeKeys: String, CodingKey { case v, seq, ack, type }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: EnvelopeKeys.self)
        let version = try container.decode(Int.self, forKey: .v)
        guard Message.supportedVersions.contains(version) else {
            throw CoreError.unsupportedVersion(version, supported: Message.supportedVersions)
        }
        self.version = version
        self.seq = try container.decode(UInt64.self, forKey: .seq)
        self.ack = try container.decodeIfPresent(UInt64.self, forKey: .ack)
        let type = try container.decode(String.self, forKey: .type)
        self.message = try Message.decodePayload(type: type, from: decoder)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: EnvelopeKeys.self)
        try container.encode(version, forKey: .v)
        try container.encode(seq, forKey: .seq)
        try container.encodeIfPresent(ack, forKey: .ack)
        try container.encode(message.type, forKey: .type)
        try message.encodePayload(to: encoder)
    }
}

/// Encodes and decodes frames as the JSON text the WebSockets carry: snake_case keys, sorted for stable output.
public enum ProtocolCodec {
    public static func encode<Message>(_ frame: ProtocolFrame<Message>) throws -> String {
        let data = try makeEncoder().encode(frame)
        return String(decoding: data, as: UTF8.self)
    }

    /// Decodes one frame; every failure is a `CoreError` whose message says what was wrong with the text.
    public static func decode<Message>(_ type: Message.Type, from text: String) throws(CoreError) -> ProtocolFrame<Message> {
        do {
            return try makeDecoder().decode(ProtocolFrame<Message>.self, from: Data(text.utf8))
        } catch let error as CoreError {
            throw error
        } catch let DecodingError.keyNotFound(key, context) {
            throw .protocolViolation("\(Message.protocolName): missing field \"\(Self.path(context.codingPath + [key]))\"")
        } catch let DecodingError.typeMismatch(_, context) {
            throw .protocolViolation("\(Message.protocolName): wrong type for \"\(Self.path(context.codingPath))\": \(context.debugDescription)")
        } catch let DecodingError.valueNotFound(_, context) {
            throw .protocolViolation("\(Message.protocolName): null for \"\(Self.path(context.codingPath))\"")
        } catch let DecodingError.dataCorrupted(context) {
            let path = Self.path(context.codingPath)
            throw .protocolViolation("\(Message.protocolName): \(path.isEmpty ? "not valid JSON" : "bad value for \"\(path)\"")" + Self.underlying(context))
        } catch {
            throw .protocolViolation("\(Message.protocolName): \(error)")
        }
    }

    /// Payload structs use camelCase properties; the wire uses snake_case (`call_id`). Free-form dictionaries are
    /// kept out of the protocols for that reason: their keys would be converted too.
    public static func makeEncoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        return encoder
    }

    public static func makeDecoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return decoder
    }

    /// The dotted path of a field as it is spelled on the wire.
    static func path(_ keys: [any CodingKey]) -> String {
        keys.map { key in key.intValue.map(String.init) ?? snakeCase(key.stringValue) }.joined(separator: ".")
    }

    static func snakeCase(_ name: String) -> String {
        var result = ""
        for character in name {
            if character.isUppercase {
                result += "_" + character.lowercased()
            } else {
                result.append(character)
            }
        }
        return result
    }

    private static func underlying(_ context: DecodingError.Context) -> String {
        if let error = context.underlyingError as? CoreError { return ": " + error.message }
        return ""
    }
}

/// Helpers for the `decodePayload` switch of each message enum.
extension Decoder {
    /// Decodes the payload struct of a message from the frame's container.
    public func payload<Payload: Decodable>(_ type: Payload.Type) throws -> Payload {
        try Payload(from: self)
    }
}

extension ProtocolMessage {
    public static func unknownType(_ type: String) -> CoreError {
        .protocolViolation("\(protocolName): unknown message type \"\(type)\"")
    }
}
