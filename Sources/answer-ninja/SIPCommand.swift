import AnswerNinjaCore
import ArgumentParser
import Foundation
import NIOCore
import SIPMessages

/// `answer-ninja sip`: tools for SIP messages.
struct SIPCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sip",
        abstract: "Read SIP messages as the gateway does; sign and verify STIR/SHAKEN Identity headers.",
        subcommands: [Parse.self, Identity.self, Resolve.self]
    )

    /// `answer-ninja sip parse [FILE|-] [--json]`: the gateway's verdict on one message (docs/cli.md, docs/sip.md).
    struct Parse: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Parse one SIP message (a file or standard input) and print what a server answers it with.",
            discussion: """
                Exits 1 when a UAS must reject the request (400, 505, 513) or a UA must discard the response; 0 otherwise, \
                including requests the application answers 405, 415, 416 or 420. The message is read as one UDP datagram.
                """
        )

        @Argument(help: "A file holding one SIP message, or - for standard input.")
        var file = "-"

        @OptionGroup var output: OutputOptions

        struct Header: Codable {
            var name: String
            var value: String
        }

        struct Part: Codable {
            var contentType: String?
            var bytes: Int
        }

        struct Answer: Codable {
            var code: Int
            var reason: String
        }

        struct Failure: Codable {
            var code: String
            var message: String
        }

        struct Output: CommandOutput {
            var valid: Bool
            var kind: String?
            var method: String?
            var requestUri: String?
            var statusCode: Int?
            var reasonPhrase: String?
            var headers: [Header]
            var bodyBytes: Int
            var parts: [Part]?
            /// What a server sends back: always there for a request (nil only for an ACK, which is never answered);
            /// nil for a response, which is never answered either (a malformed one is discarded).
            var response: Answer?
            var error: Failure?

            var humanReadable: String {
                var lines: [String] = []
                if let error { lines.append("invalid (\(error.code)): \(error.message)") }
                if let method, let requestUri { lines.append("request \(method) \(requestUri)") }
                if let statusCode { lines.append("response \(statusCode) \(reasonPhrase ?? "")") }
                lines += headers.map { "  \($0.name): \($0.value)" }
                lines.append("body: \(bodyBytes) bytes" + (parts.map { " in \($0.count) parts" } ?? ""))
                lines.append(response.map { "answer: \($0.code) \($0.reason)" } ?? "answer: none")
                return lines.joined(separator: "\n")
            }
        }

        func run() async throws {
            let data: Data?
            if file == "-" {
                data = FileHandle.standardInput.readDataToEndOfFile()
            } else {
                data = FileManager.default.contents(atPath: file)
            }
            guard let data else { throw ExitCode(try output.fail(code: "unreadable", message: "cannot read \(file)").rawValue) }
            let buffer = ByteBuffer(bytes: data)
            let result = Self.verdict(on: buffer)
            try output.emit(result)
            if !result.valid { throw ExitCode(1) }
        }

        /// The gateway's verdict on one datagram.
        static func verdict(on buffer: ByteBuffer) -> Output {
            let message: SIPMessage
            do {
                message = try SIPMessage(parsing: buffer)
            } catch {
                let isResponse = buffer.getString(at: buffer.readerIndex, length: min(4, buffer.readableBytes))?.uppercased() == "SIP/"
                return Output(
                    valid: false, kind: isResponse ? "response" : "request", headers: [], bodyBytes: 0,
                    response: isResponse ? nil : Answer(code: error.statusCode, reason: error.reasonPhrase),
                    error: Failure(code: error.code.rawValue, message: error.message)
                )
            }
            let headers = message.headers.map { Header(name: $0.name, value: $0.value) }
            let parts = message.headers.first("Content-Type").flatMap(SIPMultipartBody.boundary(ofContentType:)).flatMap { boundary in
                (try? SIPMultipartBody(parsing: message.body, boundary: boundary)).map { $0.parts.map { Part(contentType: $0.contentType, bytes: $0.body.readableBytes) } }
            }
            switch message {
            case .request(let request):
                let verdict = SIPUASPolicy.gateway.verdict(for: request)
                return Output(
                    valid: true, kind: "request", method: request.method, requestUri: request.uri.description, headers: headers,
                    bodyBytes: request.body.readableBytes, parts: parts, response: verdict.map { Answer(code: $0.statusCode, reason: $0.reasonPhrase) }
                )
            case .response(let response):
                return Output(
                    valid: true, kind: "response", statusCode: response.statusCode, reasonPhrase: response.reasonPhrase, headers: headers,
                    bodyBytes: response.body.readableBytes, parts: parts
                )
            }
        }
    }
}
