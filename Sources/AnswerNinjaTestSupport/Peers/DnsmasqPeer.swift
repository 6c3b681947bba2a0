import Foundation

/// dnsmasq as an authoritative DNS server for a test zone on a free loopback port: records given as dnsmasq
/// options (`--naptr-record`, `--srv-host`, `--host-record`), nothing forwarded, every query logged.
public struct DnsmasqPeer: StoppablePeer {
    public let process: PeerProcess
    public let port: Int

    /// `127.0.0.1:PORT`, as `sip.dns_server` takes it.
    public var server: String { "127.0.0.1:\(port)" }

    /// `domain` is answered locally (NXDOMAIN for names without records); `records` are dnsmasq options.
    public static func start(domain: String = "test", records: [String]) async throws -> DnsmasqPeer {
        let executable = try PeerEnvironment.require("dnsmasq", package: "dnsmasq-base")
        let port = try PeerEnvironment.freePort()
        let directory = try PeerEnvironment.makeDirectory(for: "dnsmasq")
        let process = try PeerProcess(
            name: "dnsmasq", executable: executable,
            arguments: [
                "--keep-in-foreground", "--port=\(port)", "--listen-address=127.0.0.1", "--bind-interfaces", "--no-resolv", "--no-hosts",
                "--conf-file=/dev/null", "--pid-file=\(directory.appendingPathComponent("dnsmasq.pid").path)", "--user=root", "--group=root",
                "--local=/\(domain)/", "--log-queries", "--log-facility=-",
            ] + records,
            directory: directory
        )
        do {
            try await process.waitUntilReady(timeout: .seconds(10)) { process.log().contains("started, version") }
        } catch {
            await process.stop()
            throw error
        }
        return DnsmasqPeer(process: process, port: port)
    }
}
