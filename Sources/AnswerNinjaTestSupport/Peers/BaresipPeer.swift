import Foundation

/// baresip, a real softphone, on a free loopback SIP port, with audio from a file (or a sine) and no sound card,
/// a TCP control port (`ctrl_tcp`, netstring JSON commands) for tests to dial and hang up, and a hard time limit
/// (`-t`) so that it can never outlive a test run. Its `sndfile` filter writes what it sends and what it receives
/// (decoded) to WAV files in its directory; `net_interface 127.0.0.1` keeps its SDP on loopback.
public struct BaresipPeer: StoppablePeer {
    public let process: PeerProcess
    public let sipPort: Int
    public let controlPort: Int
    public let user: String

    public var uri: String { "sip:\(user)@127.0.0.1:\(sipPort)" }

    public static let modulesDirectory = "/usr/lib/baresip/modules"

    /// A registrar the softphone registers with (digest), as a user's device registers with the gateway.
    public struct Registrar: Sendable {
        public var hostPort: String
        public var password: String
        public init(hostPort: String, password: String) {
            self.hostPort = hostPort
            self.password = password
        }
    }

    /// `mediaEncryption`: an account `mediaenc` value (`srtp-mand` for SDES SRTP only), nil for plain RTP.
    /// `caFile`: the CA that signs the servers it reaches over TLS. `codec`: `opus` to offer Opus alone
    /// (`opus/48000/2`), nil for baresip's G.711. `registrar`: register there as `user` (and answer what it sends).
    public static func start(
        user: String = "softphone", audioFile: String? = nil, mediaEncryption: String? = nil, caFile: String? = nil, codec: String? = nil,
        lifetimeSeconds: Int = 600, registrar: Registrar? = nil
    ) async throws -> BaresipPeer {
        // baresip also binds SIP over TLS on the SIP port + 1, which another test may hold by then: new ports, up to
        // three times, when it says "Address already in use".
        for attempt in 1...3 {
            do {
                return try await startOnce(
                    user: user, audioFile: audioFile, mediaEncryption: mediaEncryption, caFile: caFile, codec: codec, lifetimeSeconds: lifetimeSeconds,
                    registrar: registrar
                )
            } catch let error as PeerError where attempt < 3 && error.description.contains("Address already in use") {
                continue
            }
        }
        throw PeerError("baresip found no free ports in three tries")
    }

    private static func startOnce(
        user: String, audioFile: String?, mediaEncryption: String?, caFile: String?, codec: String?, lifetimeSeconds: Int, registrar: Registrar?
    ) async throws -> BaresipPeer {
        let executable = try PeerEnvironment.require("baresip", package: "baresip")
        let sipPort = try PeerEnvironment.freePort()
        // baresip also listens for SIP over TLS on sipPort + 1: keep the control port off it.
        var controlPort = try PeerEnvironment.freePort()
        while controlPort == sipPort + 1 { controlPort = try PeerEnvironment.freePort() }
        let directory = try PeerEnvironment.makeDirectory(for: "baresip")
        // Without a file, a 440 Hz tone from a file of our own: baresip 1.0's ausine source never lets a mono
        // 8 kHz call get to its 200.
        var source = audioFile.map { "aufile,\($0)" } ?? ""
        if audioFile == nil {
            let tone = directory.appendingPathComponent("tone.wav")
            try AudioCorrelation.writeWAV((0..<80_000).map { Int16(6000 * sin(2 * Double.pi * 440 * Double($0) / 8000)) }, to: tone)
            source = "aufile,\(tone.path)"
        }
        let config = """
            poll_method epoll
            sip_listen 127.0.0.1:\(sipPort)
            sip_trans_def udp
            audio_player aufile,\(directory.path)/received.wav
            audio_source \(source)
            audio_alert aufile,/dev/null
            ausrc_srate 8000
            auplay_srate 8000
            ausrc_channels 1
            auplay_channels 1
            opus_stereo no
            opus_sprop_stereo no
            rtp_ports 40000-40999
            module_path \(modulesDirectory)
            module g711.so
            module opus.so
            module aufile.so
            module ausine.so
            module_app account.so
            module_app contact.so
            module_app menu.so
            module_app ctrl_tcp.so
            ctrl_tcp_listen 127.0.0.1:\(controlPort)
            net_interface 127.0.0.1
            module sndfile.so
            module srtp.so
            snd_path \(directory.path)
            """ + (caFile.map { "\nsip_cafile \($0)\n" } ?? "\n")
        try config.write(to: directory.appendingPathComponent("config"), atomically: true, encoding: .utf8)
        let encryption = mediaEncryption.map { ";mediaenc=\($0)" } ?? ""
        // Mono Opus registers as opus/48000/1 in baresip (the SDP still says opus/48000/2, RFC 7587).
        let codecs = codec == "opus" ? ";audio_codecs=opus/48000/1" : ";audio_codecs=PCMU/8000,PCMA/8000"
        let account = registrar.map { "<sip:\(user)@\($0.hostPort)>;auth_pass=\($0.password);regint=120" } ?? "<sip:\(user)@127.0.0.1>;regint=0"
        try "\(account);answermode=auto\(encryption)\(codecs)\n".write(to: directory.appendingPathComponent("accounts"), atomically: true, encoding: .utf8)
        try "".write(to: directory.appendingPathComponent("contacts"), atomically: true, encoding: .utf8)
        let process = try PeerProcess(
            name: "baresip", executable: executable, arguments: ["-f", directory.path, "-t", String(lifetimeSeconds)], directory: directory
        )
        do {
            try await process.waitUntilReady(timeout: .seconds(30)) {
                try await UDPProbe.request(port: sipPort, payload: UDPProbe.options(to: sipPort, user: user))?.hasPrefix("SIP/2.0 200") == true
            }
            // A control port taken between our pick and baresip's bind does not stop baresip: it runs on without
            // ctrl_tcp (CI once saw `dial` refused). Start again on new ports then, as for the SIP ports.
            if process.log().contains("ctrl_tcp: failed to listen") {
                throw PeerError("baresip's control port \(controlPort): Address already in use")
            }
        } catch {
            await process.stop()
            throw error
        }
        return BaresipPeer(process: process, sipPort: sipPort, controlPort: controlPort, user: user)
    }

    /// Sends one ctrl_tcp command (a netstring of JSON) and returns what came back within a moment.
    @discardableResult
    public func command(_ name: String, _ parameters: String = "") async throws -> String {
        let json = #"{"command":"\#(name)","params":"\#(parameters)","token":"test"}"#
        return try await TCPProbe.exchange(port: controlPort, payload: "\(json.utf8.count):\(json),", timeout: .seconds(2))
    }

    public func dial(_ uri: String) async throws { try await command("dial", uri) }
    public func hangUp() async throws { try await command("hangup") }

    /// Waits until baresip has ended `count` calls ("Call with … terminated"): its dump files are complete only
    /// then (the far end's hang-up may still be on its way to baresip when ours has returned).
    public func waitUntilCallsEnded(_ count: Int = 1, timeout: Duration = .seconds(15)) async throws {
        try await process.waitUntilReady(timeout: timeout) { process.log().components(separatedBy: " terminated (duration").count - 1 >= count }
    }

    /// The decoded audio baresip received in its last call (sndfile's `dump-*-dec.wav`); see `waitUntilCallsEnded`.
    public func receivedAudio() throws -> URL? {
        try FileManager.default.contentsOfDirectory(at: process.directory, includingPropertiesForKeys: nil)
            .filter { $0.lastPathComponent.hasPrefix("dump-") && $0.lastPathComponent.hasSuffix("-dec.wav") }
            .sorted { $0.lastPathComponent < $1.lastPathComponent }.last
    }
}
