import Foundation

/// A tshark capture on the loopback interface with a capture filter (e.g. `udp port 5060`), written to a pcapng
/// file in its own directory; `stop()` ends it and `fields` reads it back through tshark's dissectors.
public struct TsharkCapture: StoppablePeer {
    public let process: PeerProcess
    public let file: URL
    public let filter: String

    public static func start(filter: String, interface: String = "lo") async throws -> TsharkCapture {
        let executable = try PeerEnvironment.require("tshark", package: "tshark")
        let directory = try PeerEnvironment.makeDirectory(for: "tshark")
        let file = directory.appendingPathComponent("capture.pcapng")
        let process = try PeerProcess(
            name: "tshark", executable: executable,
            arguments: ["-i", interface, "-f", filter, "-w", file.path, "-q", "-a", "duration:600"], directory: directory
        )
        do {
            // tshark says "Capturing on 'Loopback: lo'" once the capture is live.
            try await process.waitUntilReady(timeout: .seconds(30)) { process.log().contains("Capturing on") }
        } catch {
            await process.stop()
            throw error
        }
        return TsharkCapture(process: process, file: file, filter: filter)
    }

    /// The payload of warm-up datagrams (7 bytes, so a UDP length of 15: tell them apart with `udp.length`).
    public static let warmUpPayload = Array("warm-up".utf8)

    /// "Capturing on" is printed before the kernel filter delivers packets: send warm-up datagrams to `port` until
    /// one is in the file (bounded: 10 s), so that nothing the test sends next is missed.
    public func warmUp(port: Int) async throws {
        let initial = fileSize()
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            try UDPProbe.send(port: port, payload: Self.warmUpPayload, count: 1)
            try await Task.sleep(for: .milliseconds(100))
            if fileSize() > initial { return }
        }
        throw PeerError("tshark captured none of the warm-up datagrams to port \(port) within 10 s; log:\n\(process.logTail())")
    }

    private func fileSize() -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: file.path))?[.size] as? Int) ?? 0
    }

    /// Stops the capture (SIGINT lets tshark finish the file).
    public func stop() async {
        await process.stop(signal: SIGINT)
    }

    /// One line per captured packet with the requested fields (tab-separated), after an optional display filter.
    /// `preferences`: `-o` settings such as `rtp.heuristic_rtp:TRUE`.
    public func fields(_ names: [String], displayFilter: String? = nil, preferences: [String] = []) async throws -> [String] {
        let executable = try PeerEnvironment.require("tshark", package: "tshark")
        var arguments = ["-r", file.path, "-T", "fields"] + preferences.flatMap { ["-o", $0] }
        for name in names { arguments += ["-e", name] }
        if let displayFilter { arguments += ["-Y", displayFilter] }
        let result = try await PeerEnvironment.run(executable, arguments)
        guard result.status == 0 else { throw PeerError("tshark -r failed: \(result.output)") }
        return result.output.split(separator: "\n").map(String.init).filter { !$0.hasPrefix("Running as user") }
    }
}
