import AnswerNinjaCore
import ArgumentParser
import SIPLocator
import SIPMessages
import SIPTransport

extension SIPCommand {
    /// `answer-ninja sip resolve URI`: where the gateway would send a request for URI (RFC 3263).
    struct Resolve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the targets RFC 3263 gives for a SIP URI (NAPTR, SRV, A/AAAA), in the order the gateway tries them.",
            discussion: "Exits 1 when the URI leads nowhere or a lookup fails."
        )

        @Argument(help: "A sip: or sips: URI, such as sip:trunk.example.net.") var uri: String
        @Option(help: "Ask this DNS server (IPv4 HOST:PORT) instead of /etc/resolv.conf's.") var dnsServer: String?
        @Option(help: "Transports the gateway may use, most preferred first.") var transports = "tls,tcp,udp"
        @OptionGroup var output: OutputOptions

        struct Target: Codable {
            var transport: String
            var address: String
            var port: Int
            var serverName: String?
        }

        struct Output: CommandOutput {
            var uri: String
            var targets: [Target]
            var humanReadable: String { targets.map { "\($0.transport) \($0.address) \($0.port)" }.joined(separator: "\n") }
        }

        func run() async throws {
            let parsed: SIPURI
            do {
                parsed = try SIPURI(parsing: uri[...])
            } catch {
                throw ExitCode(try output.fail(code: "bad_uri", message: "\(uri) is not a SIP URI: \(error.message)").rawValue)
            }
            let server = dnsServer.flatMap(NinjaConfiguration.HostPort.init(dnsServer:))
            if let dnsServer, server == nil {
                throw ExitCode(try output.fail(code: "bad_dns_server", message: "\(dnsServer) is not an IPv4 ADDRESS:PORT").rawValue)
            }
            let allowed = transports.split(separator: ",").compactMap { SIPTransportProtocol(rawValue: $0.trimmingCharacters(in: .whitespaces).lowercased()) }
            let resolver = SIPResolver(server: server.map { ($0.host, $0.port) }, threads: 1)
            defer { Task { await resolver.shutdown() } }
            do {
                let targets = try await resolver.locate(parsed, transports: allowed)
                try output.emit(Output(uri: uri, targets: targets.map { Target(transport: $0.transport.rawValue, address: $0.address, port: $0.port, serverName: $0.serverName) }))
            } catch let error as SIPLocatorError {
                throw ExitCode(try output.fail(code: error.code.rawValue, message: error.message).rawValue)
            }
        }
    }
}
