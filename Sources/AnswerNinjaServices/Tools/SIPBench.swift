import AnswerNinjaCore
import NIOCore
import SIPMessages

/// `answer-ninja bench sip`: the SIP parser's cost per INVITE, with splitting the same bytes into lines as the
/// baseline of the same run (the least any parser does), and writing a message back.
public struct SIPBench: Sendable {
    public struct Report: Codable, Sendable, CommandOutput {
        public var build: String
        public var messages: Int
        public var baselineNanoseconds: Double
        public var parseNanoseconds: Double
        public var writeNanoseconds: Double
        public var parseOverBaseline: Double

        public var humanReadable: String {
            String(format: "%@ build, %d messages: split into lines %.0f ns, parse %.0f ns (%.1f×), write %.0f ns", build, messages,
                   baselineNanoseconds, parseNanoseconds, parseOverBaseline, writeNanoseconds)
        }
    }

    public static let invite = SIPBenchmarkMessage.invite

    public var messages: Int

    public init(messages: Int = 20_000) {
        self.messages = max(100, messages)
    }

    public func run() throws -> Report {
        let buffer = ByteBuffer(string: Self.invite)
        let clock = ContinuousClock()
        func best(_ body: () throws -> Void) rethrows -> Double {
            try body()
            var fastest = Duration.seconds(3600)
            for _ in 0..<5 { fastest = min(fastest, try clock.measure(body)) }
            return Double(fastest.nanosecondsClamped) / Double(messages)
        }
        var lines = 0
        let baseline = best {
            for _ in 0..<messages { lines &+= String(decoding: buffer.readableBytesView, as: UTF8.self).split(separator: "\\r\\n").count }
        }
        var parsed = 0
        let parse = try best {
            for _ in 0..<messages {
                if case .request = try SIPMessage(parsing: buffer) { parsed &+= 1 }
            }
        }
        let message = try SIPMessage(parsing: buffer)
        var output = ByteBuffer()
        let write = best {
            for _ in 0..<messages {
                output.clear()
                output.writeSIPMessage(message)
            }
        }
        precondition(lines > 0 && parsed > 0 && output.readableBytes > 0)
        let build = MediaBench.buildKind
        return Report(build: build, messages: messages, baselineNanoseconds: baseline, parseNanoseconds: parse, writeNanoseconds: write, parseOverBaseline: parse / baseline)
    }
}
