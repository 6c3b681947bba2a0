import AnswerNinjaCore
import Testing

@Suite struct ConfigurationTests {
    @Test func defaultsAreValidAndMatchTheDesign() throws {
        let configuration = try ConfigurationLoader(environment: [:]).load()
        #expect(configuration.http.port == 8080)
        #expect(configuration.sip.port == 5060)
        #expect(configuration.sip.tlsPort == nil)
        #expect(configuration.dataDirectory == "./data")
        #expect(configuration.store.backend == .sqlite)
        #expect(configuration.store.redisURL == nil)
        #expect(configuration.demoAlias?.rawValue == "demo")
        #expect(configuration.media.rtpPorts == 20000...29999)
        #expect(configuration.media.controlResumeGrace == .seconds(10))
        #expect(configuration == NinjaConfiguration.defaults)
    }

    @Test func environmentOverridesFileOverridesDefaults() throws {
        let file = Array(#"{"http": {"port": 9090, "host": "127.0.0.1"}, "log.level": "debug", "demo": {"alias": null}}"#.utf8)
        let loader = ConfigurationLoader(environment: ["ANSWER_NINJA_HTTP_PORT": "7070", "PATH": "/bin"], file: ("ninja.json", file))
        let configuration = try loader.load()
        #expect(configuration.http.port == 7070)
        #expect(configuration.http.host == "127.0.0.1")
        #expect(configuration.log.level == "debug")
        let sources = Dictionary(uniqueKeysWithValues: try loader.resolve().map { ($0.key.key, $0.source) })
        #expect(sources["http.port"] == .environment)
        #expect(sources["http.host"] == .file)
        #expect(sources["sip.port"] == .default)
    }

    @Test func unknownKeysAreErrorsWithASuggestion() {
        let error = #expect(throws: CoreError.self) {
            try ConfigurationLoader(environment: ["ANSWER_NINJA_HTTP_PROT": "1"]).load()
        }
        #expect(error?.message.contains("unknown variable ANSWER_NINJA_HTTP_PROT (did you mean ANSWER_NINJA_HTTP_PORT?)") == true)
        let fileError = #expect(throws: CoreError.self) {
            try ConfigurationLoader(environment: [:], file: ("c.json", Array(#"{"htp": {"port": 1}}"#.utf8))).load()
        }
        #expect(fileError?.message.contains("unknown key \"htp.port\" in c.json (did you mean http.port?)") == true)
    }

    @Test func everyProblemIsReportedAtOnce() {
        let error = #expect(throws: CoreError.self) {
            try ConfigurationLoader(environment: [
                "ANSWER_NINJA_HTTP_PORT": "80000",
                "ANSWER_NINJA_LOG_LEVEL": "loud",
                "ANSWER_NINJA_SHUTDOWN_GRACE": "soon",
                "ANSWER_NINJA_STORE_BACKEND": "postgres",
            ]).load()
        }
        let message = error?.message ?? ""
        #expect(message.contains("ANSWER_NINJA_HTTP_PORT must be a port number 0...65535, got \"80000\""))
        #expect(message.contains("ANSWER_NINJA_LOG_LEVEL must be one of trace, debug"))
        #expect(message.contains("ANSWER_NINJA_SHUTDOWN_GRACE must be a duration"))
        #expect(message.contains("ANSWER_NINJA_STORE_POSTGRES_URL is required when store.backend is postgres"))
    }

    /// The IPv6 listener's address and the DNS server of RFC 3263 lookups.
    @Test func ipv6HostAndDNSServerAreChecked() throws {
        let good = try ConfigurationLoader(environment: ["ANSWER_NINJA_SIP_IPV6_HOST": "[::1]", "ANSWER_NINJA_SIP_DNS_SERVER": "127.0.0.1:5353"]).load()
        #expect(good.sip.ipv6Host == "::1")
        #expect(good.sip.dnsServer == .init(host: "127.0.0.1", port: 5353))
        #expect(try ConfigurationLoader(environment: ["ANSWER_NINJA_SIP_DNS_SERVER": "10.0.0.2"]).load().sip.dnsServer?.port == 53)
        for (key, value) in [
            ("ANSWER_NINJA_SIP_IPV6_HOST", "::"), ("ANSWER_NINJA_SIP_IPV6_HOST", "127.0.0.1"), ("ANSWER_NINJA_SIP_DNS_SERVER", "dns.example:53"),
            ("ANSWER_NINJA_SIP_DNS_SERVER", "127.0.0.1:0"), ("ANSWER_NINJA_SIP_DNS_SERVER", "::1"),
        ] {
            let error = #expect(throws: CoreError.self) { try ConfigurationLoader(environment: [key: value]).load() }
            #expect(error?.message.contains(key) == true, "\(key)=\(value): \(error?.message ?? "")")
        }
    }

    @Test func anOutboundProxyLeadsToATrunk() throws {
        let trunk = ["ANSWER_NINJA_SIP_TRUNK_REGISTRAR": "sip:trunk.example.com", "ANSWER_NINJA_SIP_TRUNK_USERNAME": "acct", "ANSWER_NINJA_SIP_TRUNK_PASSWORD": "pw"]
        let direct = try ConfigurationLoader(environment: trunk).load().sip.trunk
        #expect(direct?.register == true && direct?.outboundProxy == nil)
        let behindEdge = try ConfigurationLoader(environment: trunk.merging([
            "ANSWER_NINJA_SIP_OUTBOUND_PROXY": "sip:kamailio.answer-ninja.svc.cluster.local:5060", "ANSWER_NINJA_SIP_TRUNK_REGISTER": "off",
        ]) { $1 }).load().sip.trunk
        #expect(behindEdge?.register == false && behindEdge?.outboundProxy == "sip:kamailio.answer-ninja.svc.cluster.local:5060")
        #expect(behindEdge?.description.contains("pw") == false)
        let alone = #expect(throws: CoreError.self) { try ConfigurationLoader(environment: ["ANSWER_NINJA_SIP_OUTBOUND_PROXY": "sip:edge"]).load() }
        #expect(alone?.message.contains("ANSWER_NINJA_SIP_TRUNK_REGISTRAR") == true, "\(alone?.message ?? "")")
        let notSIP = #expect(throws: CoreError.self) { try ConfigurationLoader(environment: trunk.merging(["ANSWER_NINJA_SIP_OUTBOUND_PROXY": "edge:5060"]) { $1 }).load() }
        #expect(notSIP?.message.contains("ANSWER_NINJA_SIP_OUTBOUND_PROXY") == true, "\(notSIP?.message ?? "")")
    }

    @Test func urlsAreCheckedAndPasswordsNeverEchoed() {
        let error = #expect(throws: CoreError.self) {
            try ConfigurationLoader(environment: ["ANSWER_NINJA_STORE_POSTGRES_URL": "mysql://bob:secret@db/x"]).load()
        }
        #expect(error?.message.contains("secret") == false)
        #expect(error?.message.contains("postgres:// or postgresql://") == true)
        #expect(throws: Never.self) {
            try ConfigurationLoader(environment: ["ANSWER_NINJA_CACHE_REDIS_URL": "redis://127.0.0.1:6379/0"]).load()
        }
    }

    @Test func badFilesSayWhatIsWrong() {
        let notJSON = #expect(throws: CoreError.self) { try ConfigurationLoader(environment: [:], file: ("x.json", Array("{".utf8))).load() }
        #expect(notJSON?.message == "x.json is not valid JSON")
        let array = #expect(throws: CoreError.self) { try ConfigurationLoader(environment: [:], file: ("x.json", Array("[1]".utf8))).load() }
        #expect(array?.message == "x.json must hold a JSON object at the top level")
    }

    @Test(arguments: [("250ms", Duration.milliseconds(250)), ("10s", .seconds(10)), ("2m", .seconds(120)), ("1h", .seconds(3600)), ("7", .seconds(7))])
    func durationsParse(text: String, expected: Duration) throws {
        let configuration = try ConfigurationLoader(environment: ["ANSWER_NINJA_SHUTDOWN_GRACE": text]).load()
        #expect(configuration.shutdownGrace == expected)
    }

    @Test func rtpRangeMustBeUsable() {
        #expect(throws: CoreError.self) {
            try ConfigurationLoader(environment: ["ANSWER_NINJA_MEDIA_RTP_PORT_MIN": "30000", "ANSWER_NINJA_MEDIA_RTP_PORT_MAX": "20000"]).load()
        }
    }

    /// A StatefulSet's pods on one node share the host's ports: each takes the slice of its pod index.
    @Test func rtpSlotTakesItsSliceOfTheRange() throws {
        let second = try ConfigurationLoader(environment: ["ANSWER_NINJA_MEDIA_RTP_PORT_SLOT": "2", "ANSWER_NINJA_MEDIA_RTP_PORT_SLOT_SIZE": "2000"]).load()
        #expect(second.media.rtpPorts == 24000...25999)
        let last = try ConfigurationLoader(environment: ["ANSWER_NINJA_MEDIA_RTP_PORT_SLOT": "9"]).load()
        #expect(last.media.rtpPorts == 29000...29999)
        let beyond = #expect(throws: CoreError.self) {
            try ConfigurationLoader(environment: ["ANSWER_NINJA_MEDIA_RTP_PORT_SLOT": "10"]).load()
        }
        #expect(beyond?.message.contains("RTP slot 10 of 1000 ports is 30000...30999, beyond the range 20000...29999") == true)
        let odd = #expect(throws: CoreError.self) {
            try ConfigurationLoader(environment: ["ANSWER_NINJA_MEDIA_RTP_PORT_SLOT": "0", "ANSWER_NINJA_MEDIA_RTP_PORT_SLOT_SIZE": "999"]).load()
        }
        #expect(odd?.message.contains("ANSWER_NINJA_MEDIA_RTP_PORT_SLOT_SIZE must be even") == true)
    }

    /// Secrets from mounted files (`_FILE`): the contents without the final line break; a store URL too; a file that
    /// cannot be read, both forms at once, or `_FILE` on a setting that is no secret, are problems.
    @Test func secretsMayComeFromFiles() throws {
        let files = ["/run/secrets/jwt": Array("00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\r\n".utf8),
                     "/run/secrets/pg": Array("postgres://ninja:s3cret@db:5432/ninja\n".utf8)]
        let loader = ConfigurationLoader(
            environment: ["ANSWER_NINJA_API_JWT_SECRET_FILE": "/run/secrets/jwt", "ANSWER_NINJA_STORE_BACKEND": "postgres",
                          "ANSWER_NINJA_STORE_POSTGRES_URL_FILE": "/run/secrets/pg"],
            readFile: { files[$0] }
        )
        let configuration = try loader.load()
        #expect(configuration.api.jwtSecret == "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff")
        #expect(configuration.store.postgresURL == "postgres://ninja:s3cret@db:5432/ninja")
        let problems = #expect(throws: CoreError.self) {
            try ConfigurationLoader(
                environment: ["ANSWER_NINJA_API_JWT_SECRET_FILE": "/run/secrets/missing",
                              "ANSWER_NINJA_SIP_TRUNK_PASSWORD": "x", "ANSWER_NINJA_SIP_TRUNK_PASSWORD_FILE": "/run/secrets/pg",
                              "ANSWER_NINJA_HTTP_PORT_FILE": "/run/secrets/pg"],
                readFile: { files[$0] }
            ).load()
        }
        let message = problems?.message ?? ""
        #expect(message.contains("ANSWER_NINJA_API_JWT_SECRET_FILE names /run/secrets/missing, which cannot be read"))
        #expect(message.contains("set ANSWER_NINJA_SIP_TRUNK_PASSWORD or ANSWER_NINJA_SIP_TRUNK_PASSWORD_FILE, not both"))
        #expect(message.contains("unknown variable ANSWER_NINJA_HTTP_PORT_FILE"))
    }

    /// The conversation role's TLS listener needs its certificate and key; the media side's CA is read as a path.
    @Test func theConversationTLSListenerNeedsItsCertificateAndKey() throws {
        let configuration = try ConfigurationLoader(environment: [
            "ANSWER_NINJA_CONVERSATION_TLS_PORT": "8443", "ANSWER_NINJA_CONVERSATION_TLS_CERTIFICATE": "/run/tls/tls.crt",
            "ANSWER_NINJA_CONVERSATION_TLS_PRIVATE_KEY": "/run/tls/tls.key", "ANSWER_NINJA_CONVERSATION_TLS_CA": "/run/tls/ca.crt",
            "ANSWER_NINJA_CONVERSATION_URL": "wss://conversation.example:8443/internal/conversation",
        ]).load()
        #expect(configuration.conversation.tlsPort == 8443 && configuration.conversation.tlsPrivateKey == "/run/tls/tls.key")
        #expect(configuration.media.conversationCA == "/run/tls/ca.crt")
        #expect(try ConfigurationLoader(environment: [:]).load().conversation.tlsPort == nil, "off unless asked for")
        let problems = #expect(throws: CoreError.self) {
            try ConfigurationLoader(environment: ["ANSWER_NINJA_CONVERSATION_TLS_PORT": "8443"]).load()
        }
        #expect(problems?.message.contains("ANSWER_NINJA_CONVERSATION_TLS_PORT needs ANSWER_NINJA_CONVERSATION_TLS_CERTIFICATE and ANSWER_NINJA_CONVERSATION_TLS_PRIVATE_KEY") == true)
        // A client certificate comes with its key.
        let half = #expect(throws: CoreError.self) {
            try ConfigurationLoader(environment: ["ANSWER_NINJA_CONVERSATION_TLS_CLIENT_CERTIFICATE": "/run/tls/client.crt"]).load()
        }
        #expect(half?.message.contains("set ANSWER_NINJA_CONVERSATION_TLS_CLIENT_CERTIFICATE and ANSWER_NINJA_CONVERSATION_TLS_CLIENT_PRIVATE_KEY together") == true)
    }

    /// The media roles a gateway reaches: a list of ws:// or wss:// URLs, each checked; the media role's TLS listener
    /// needs its certificate and key, and a gateway's client certificate its key.
    @Test func theMediaControlURLsAndTheirTLS() throws {
        let configuration = try ConfigurationLoader(environment: [
            "ANSWER_NINJA_MEDIA_CONTROL_URL": "wss://media-0.media:8444/internal/media-control, wss://media-1.media:8444/internal/media-control",
            "ANSWER_NINJA_MEDIA_TLS_PORT": "8444", "ANSWER_NINJA_MEDIA_TLS_CERTIFICATE": "/run/tls/tls.crt", "ANSWER_NINJA_MEDIA_TLS_PRIVATE_KEY": "/run/tls/tls.key",
        ]).load()
        #expect(configuration.media.controlURLs == ["wss://media-0.media:8444/internal/media-control", "wss://media-1.media:8444/internal/media-control"])
        #expect(configuration.media.tlsPort == 8444)
        #expect(try ConfigurationLoader(environment: [:]).load().media.controlURLs.isEmpty, "the gateway runs its media itself unless told")
        let problems = #expect(throws: CoreError.self) {
            try ConfigurationLoader(environment: [
                "ANSWER_NINJA_MEDIA_CONTROL_URL": "ws://media:8080/internal/media-control,http://media:8080/", "ANSWER_NINJA_MEDIA_TLS_PORT": "8444",
                "ANSWER_NINJA_MEDIA_CONTROL_TLS_CLIENT_CERTIFICATE": "/run/tls/client.crt",
            ]).load()
        }
        let message = problems?.message ?? ""
        #expect(message.contains(#"must be a ws:// or wss:// URL, got "http://media:8080/""#), "\(message)")
        #expect(message.contains("ANSWER_NINJA_MEDIA_TLS_PORT needs ANSWER_NINJA_MEDIA_TLS_CERTIFICATE and ANSWER_NINJA_MEDIA_TLS_PRIVATE_KEY"), "\(message)")
        #expect(message.contains("set ANSWER_NINJA_MEDIA_CONTROL_TLS_CLIENT_CERTIFICATE and ANSWER_NINJA_MEDIA_CONTROL_TLS_CLIENT_PRIVATE_KEY together"), "\(message)")
    }

    @Test func everyKeyHasAnEnvironmentNameAndIsUnique() {
        let names = ConfigurationKey.all.map(\.environmentName)
        #expect(Set(names).count == names.count)
        #expect(ConfigurationKey.httpPort.environmentName == "ANSWER_NINJA_HTTP_PORT")
        #expect(ConfigurationKey.rtpPortMin.environmentName == "ANSWER_NINJA_MEDIA_RTP_PORT_MIN")
    }
}
