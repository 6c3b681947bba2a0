import Foundation

/// Kamailio on a free loopback port (UDP and TCP) with a configuration the test gives; by default one that
/// answers OPTIONS itself. Later issues pass their edge configurations (dispatcher to gateways, registrar).
public struct KamailioPeer: StoppablePeer {
    public let process: PeerProcess
    public let port: Int

    public static let modulesDirectory = "/usr/lib/x86_64-linux-gnu/kamailio/modules/"

    /// How every test configuration starts: logs on stderr, one worker of each kind, no aliases of its own, UDP and
    /// TCP on `port` of loopback (UDP alone with `tcp` false), and the module path.
    public static func preamble(port: Int, tcp: Bool = true) -> String {
        """
        #!KAMAILIO
        debug=2
        log_stderror=yes
        children=1
        tcp_children=1
        auto_aliases=no
        listen=udp:127.0.0.1:\(port)
        \(tcp ? "listen=tcp:127.0.0.1:\(port)" : "")
        mpath="\(modulesDirectory)"
        """
    }

    /// A minimal configuration: stateless replies; OPTIONS get 200, everything else 404.
    public static func optionsResponderConfiguration(port: Int) -> String {
        """
        \(preamble(port: port))
        loadmodule "sl.so"
        loadmodule "pv.so"
        request_route {
            if (method == "OPTIONS") {
                sl_send_reply("200", "Answer Ninja test edge");
                exit;
            }
            sl_send_reply("404", "Not here");
        }
        """
    }

    /// A trunk as a carrier's edge behaves: a registrar in memory that challenges every REGISTER with digest
    /// (`pv_www_authenticate`, one password for all users), and a proxy that record-routes calls to whoever
    /// registered the called user, relaying in-dialog requests by their Route. A call from a registered user (the
    /// gateway calling out) is challenged with 407 and must answer with that password, and so is its BYE. It asserts every caller's identity as
    /// a verified +15550100 (P-Asserted-Identity with a STIR/SHAKEN `verstat`), as a carrier's verification service
    /// would, and answers OPTIONS itself.
    /// `tls`: also SIP over TLS on `tlsPort` with this certificate and key (the `tls` module, Debian's
    /// kamailio-tls-modules; it asks for no client certificate).
    public static func trunkConfiguration(password: String, tls: (port: Int, certificate: String, key: String, directory: URL)? = nil) -> (Int) -> String {
        { port in
            var transportLines = ""
            if let tls {
                let tlsConfig = tls.directory.appendingPathComponent("tls.cfg")
                try? """
                    [server:default]
                    method = TLSv1.2+
                    verify_certificate = no
                    require_certificate = no
                    private_key = \(tls.key)
                    certificate = \(tls.certificate)

                    [client:default]
                    method = TLSv1.2+
                    verify_certificate = no
                    require_certificate = no
                    """.write(to: tlsConfig, atomically: true, encoding: .utf8)
                transportLines = """
                    enable_tls=yes
                    listen=tls:127.0.0.1:\(tls.port)
                    alias="127.0.0.1:\(tls.port)"
                    loadmodule "\(modulesDirectory)tls.so"
                    modparam("tls", "config", "\(tlsConfig.path)")
                    """
            }
            return """
            \(preamble(port: port))
            alias="127.0.0.1:\(port)"
            \(transportLines)
            loadmodule "tm.so"
            loadmodule "sl.so"
            loadmodule "rr.so"
            loadmodule "pv.so"
            loadmodule "maxfwd.so"
            loadmodule "siputils.so"
            loadmodule "textops.so"
            loadmodule "usrloc.so"
            loadmodule "registrar.so"
            loadmodule "auth.so"
            modparam("usrloc", "db_mode", 0)
            modparam("rr", "append_fromtag", 1)
            request_route {
                if (!mf_process_maxfwd_header("10")) {
                    sl_send_reply("483", "Too Many Hops");
                    exit;
                }
                if (is_method("OPTIONS") && !has_totag()) {
                    sl_send_reply("200", "Answer Ninja test trunk");
                    exit;
                }
                if (has_totag()) {
                    # A registered customer's BYE (the gateway ending a call) proves who it is too, as some carriers ask.
                    if (is_method("BYE") && registered("location", "$fu")) {
                        if (!pv_proxy_authenticate("$fd", "\(password)", "0")) {
                            proxy_challenge("$fd", "0");
                            exit;
                        }
                        consume_credentials();
                    }
                    if (loose_route()) {
                        t_relay();
                        exit;
                    }
                    if (is_method("ACK") && t_check_trans()) {
                        t_relay();
                    }
                    exit;
                }
                if (is_method("CANCEL")) {
                    if (t_check_trans()) {
                        t_relay();
                    }
                    exit;
                }
                if (is_method("REGISTER")) {
                    if (!pv_www_authenticate("$td", "\(password)", "0")) {
                        www_challenge("$td", "0");
                        exit;
                    }
                    save("location");
                    exit;
                }
                # A registered customer calling out (the gateway's own calls) proves who it is, as a carrier asks.
                if (is_method("INVITE") && registered("location", "$fu")) {
                    if (!pv_proxy_authenticate("$fd", "\(password)", "0")) {
                        proxy_challenge("$fd", "0");
                        exit;
                    }
                    consume_credentials();
                }
                if (!lookup("location")) {
                    sl_send_reply("404", "Not registered");
                    exit;
                }
                remove_hf("P-Asserted-Identity");
                append_hf("P-Asserted-Identity: <sip:+15550100;verstat=TN-Validation-Passed@127.0.0.1;user=phone>\\r\\n");
                record_route();
                t_relay();
            }
            """
        }
    }

    public static func start(configuration: ((Int) -> String)? = nil) async throws -> KamailioPeer {
        let executable = try PeerEnvironment.require("kamailio", package: "kamailio")
        let port = try PeerEnvironment.freePort()
        let directory = try PeerEnvironment.makeDirectory(for: "kamailio")
        let file = directory.appendingPathComponent("kamailio.cfg")
        try (configuration ?? optionsResponderConfiguration)(port).write(to: file, atomically: true, encoding: .utf8)
        let process = try PeerProcess(
            name: "kamailio", executable: executable,
            arguments: ["-f", file.path, "-DD", "-E", "-m", "64", "-M", "8", "-w", directory.path, "-P", directory.appendingPathComponent("kamailio.pid").path],
            directory: directory
        )
        do {
            try await process.waitUntilReady(timeout: .seconds(30)) {
                try await UDPProbe.request(port: port, payload: UDPProbe.options(to: port))?.hasPrefix("SIP/2.0 200") == true
            }
        } catch {
            await process.stop()
            throw error
        }
        return KamailioPeer(process: process, port: port)
    }
}
