import struct Foundation.Data
import class Foundation.FileManager
import class Foundation.JSONDecoder
import enum NIOCore.SocketAddress

/// Reads `NinjaConfiguration` from, by precedence: environment variables `ANSWER_NINJA_*`, then a JSON file
/// (`ANSWER_NINJA_CONFIG_FILE` or `--config`), then the defaults. The file nests sections
/// (`{"http": {"port": 8080}}`) or uses dotted keys (`{"http.port": 8080}`).
///
/// Every problem is reported at once, each naming the variable or file key and what was expected; unknown keys
/// are errors (a typo must not silently fall back to a default), with a suggestion when one is close.
///
/// A secret (and a store URL, which holds a password) may come from a file instead: `ANSWER_NINJA_<KEY>_FILE` names
/// it (a mounted Kubernetes or Docker secret), and its contents without the final line break are the value. Setting
/// both the variable and its `_FILE` is a problem.
public struct ConfigurationLoader: Sendable {
    public static let environmentPrefix = "ANSWER_NINJA_"
    public static let fileVariable = "ANSWER_NINJA_CONFIG_FILE"

    /// Where a value came from, for `answer-ninja config show`.
    public enum Source: String, Sendable, Codable { case `default`, file, environment }

    public struct ResolvedValue: Sendable, Equatable {
        public var key: ConfigurationKey
        public var value: String?
        public var source: Source
    }

    /// The suffix of a variable that names a file holding a secret's value.
    public static let fileSuffix = "_FILE"

    let environment: [String: String]
    let fileContents: [UInt8]?
    let fileName: String?
    let readFile: @Sendable (String) -> [UInt8]?

    /// - Parameters:
    ///   - environment: the process environment (only `ANSWER_NINJA_*` entries are read).
    ///   - file: the bytes and name of the optional JSON file.
    ///   - readFile: reads a secret's file (`ANSWER_NINJA_<KEY>_FILE`); nil when it cannot be read.
    public init(
        environment: [String: String], file: (name: String, contents: [UInt8])? = nil,
        readFile: @escaping @Sendable (String) -> [UInt8]? = { path in FileManager.default.contents(atPath: path).map { Array($0) } }
    ) {
        self.environment = environment
        self.fileContents = file?.contents
        self.fileName = file?.name
        self.readFile = readFile
    }

    /// Every key with its resolved value and source; throws with all problems listed.
    public func resolve() throws(CoreError) -> [ResolvedValue] {
        let (resolved, problems) = resolveCollectingProblems()
        if !problems.isEmpty {
            throw .invalidConfiguration(problems.joined(separator: "; "))
        }
        return resolved
    }

    /// The resolved values and the problems found with names (unknown keys, unreadable file), without stopping.
    private func resolveCollectingProblems() -> ([ResolvedValue], [String]) {
        var problems: [String] = []
        let fileValues = parseFile(problems: &problems)
        let known = Dictionary(uniqueKeysWithValues: ConfigurationKey.all.map { ($0.environmentName, $0) })
        for name in environment.keys.sorted() where name.hasPrefix(Self.environmentPrefix) && name != Self.fileVariable {
            if known[name] == nil {
                if name.hasSuffix(Self.fileSuffix), let key = known[String(name.dropLast(Self.fileSuffix.count))], key.readsFromFile {
                    if environment[key.environmentName] != nil {
                        problems.append("set \(key.environmentName) or \(name), not both")
                    }
                    continue
                }
                problems.append("unknown variable \(name)" + Self.suggestion(for: name, among: Array(known.keys)))
            }
        }
        let fileKnown = Set(ConfigurationKey.all.map(\.key))
        for key in fileValues.keys.sorted() where !fileKnown.contains(key) {
            problems.append("unknown key \"\(key)\" in \(fileName ?? "the configuration file")" + Self.suggestion(for: key, among: Array(fileKnown)))
        }
        var resolved: [ResolvedValue] = []
        for key in ConfigurationKey.all {
            if let value = environment[key.environmentName] {
                resolved.append(ResolvedValue(key: key, value: value, source: .environment))
            } else if key.readsFromFile, let path = environment[key.environmentName + Self.fileSuffix] {
                guard let bytes = readFile(path) else {
                    problems.append("\(key.environmentName + Self.fileSuffix) names \(path), which cannot be read")
                    resolved.append(ResolvedValue(key: key, value: nil, source: .environment))
                    continue
                }
                var text = String(decoding: bytes, as: UTF8.self)
                while text.last?.isNewline == true { text.removeLast() }
                resolved.append(ResolvedValue(key: key, value: text, source: .environment))
            } else if let value = fileValues[key.key] {
                resolved.append(ResolvedValue(key: key, value: value, source: .file))
            } else {
                resolved.append(ResolvedValue(key: key, value: key.defaultValue, source: .default))
            }
        }
        return (resolved, problems)
    }

    /// The validated configuration; throws one error listing every problem found.
    public func load() throws(CoreError) -> NinjaConfiguration {
        let (resolved, nameProblems) = resolveCollectingProblems()
        var reader = ValueReader(values: resolved)
        reader.problems = nameProblems
        let configuration = NinjaConfiguration(
            dataDirectory: reader.path(.dataDirectory),
            http: .init(host: reader.host(.httpHost), port: reader.port(.httpPort)),
            sip: .init(
                host: reader.host(.sipHost),
                port: reader.port(.sipPort),
                tlsPort: reader.port(.sipTLSPort).nonZero,
                tlsCertificate: reader.optionalPath(.sipTLSCertificate),
                tlsPrivateKey: reader.optionalPath(.sipTLSPrivateKey),
                publicHost: reader.optionalHost(.sipPublicHost),
                trunk: reader.trunk(),
                calledNumberSource: reader.enumeration(.calledNumberSource),
                trustedSources: reader.addressList(.trustedSources),
                minSessionExpires: reader.wholeSeconds(.minSessionExpires, atLeast: 1),
                overloadShedding: reader.enumeration(.overloadShedding) == "on",
                maxCalls: reader.integer(.maxCalls, in: 1...1_000_000),
                deviceAccounts: reader.accounts(.deviceAccounts),
                deviceDigestAlgorithms: reader.list(.deviceDigestAlgorithms, allowed: ["sha256", "md5"]),
                deviceRingTimeout: reader.duration(.deviceRingTimeout),
                answerMode: reader.enumeration(.answerMode),
                maxBridgedDuration: reader.duration(.maxBridgedDuration),
                learnAfter: reader.duration(.learnAfter),
                ipv6Host: reader.optionalIPv6Address(.sipIPv6Host),
                dnsServer: reader.optionalHostPort(.dnsServer),
                trunkTLSCA: reader.optionalPath(.trunkTLSCA),
                stirTrustAnchors: reader.optionalPath(.stirTrustAnchors),
                stirCertificateHosts: reader.hostList(.stirCertificateHosts),
                stirFetchCA: reader.optionalPath(.stirFetchCA)
            ),
            media: .init(
                rtpPorts: reader.rtpSlice(of: reader.portRange(.rtpPortMin, .rtpPortMax)),
                codecs: reader.list(.mediaCodecs, allowed: ["pcmu", "pcma", "opus"]),
                srtpSuites: reader.list(.srtpSuites, allowed: ["aead_aes_128_gcm", "aead_aes_256_gcm", "aes_cm_128_hmac_sha1_80", "aes_cm_128_hmac_sha1_32"]).map { $0.uppercased() },
                rtpPortQuarantine: reader.duration(.rtpPortQuarantine),
                publicAddress: reader.optionalHost(.mediaPublicAddress),
                controlURLs: reader.urls(.mediaControlURL, schemes: ["ws", "wss"]),
                loopback: reader.enumeration(.mediaLoopback) == "on",
                controlCA: reader.optionalPath(.mediaControlCA),
                controlClientCertificate: reader.optionalPath(.mediaControlClientCertificate),
                controlClientPrivateKey: reader.optionalPath(.mediaControlClientPrivateKey),
                tlsPort: reader.port(.mediaTLSPort).nonZero,
                tlsCertificate: reader.optionalPath(.mediaTLSCertificate),
                tlsPrivateKey: reader.optionalPath(.mediaTLSPrivateKey),
                tlsClientCA: reader.optionalPath(.mediaTLSClientCA),
                conversationURL: reader.url(.conversationURL, schemes: ["ws", "wss"]) ?? "",
                conversationCA: reader.optionalPath(.conversationCA),
                conversationClientCertificate: reader.optionalPath(.conversationClientCertificate),
                conversationClientPrivateKey: reader.optionalPath(.conversationClientPrivateKey),
                controlResumeGrace: reader.duration(.controlResumeGrace),
                threads: reader.integer(.mediaThreads, in: 0...256),
                realtimePriority: reader.integer(.mediaRealtimePriority, in: 0...99)
            ),
            conversation: .init(
                intentThreshold: reader.fraction(.intentThreshold),
                maxTurns: reader.integer(.maxTurns, in: 1...1000),
                maxDuration: reader.duration(.maxCallDuration),
                persistenceLimit: reader.fraction(.persistenceLimit),
                frustrationLimit: reader.fraction(.frustrationLimit),
                effectivenessFloor: reader.fraction(.effectivenessFloor),
                effectivenessAfter: reader.integer(.effectivenessAfter, in: 0...1000),
                recordingSilence: reader.duration(.recordingSilence),
                resumeWindow: reader.duration(.conversationResumeWindow),
                llmURL: reader.url(.llmURL, schemes: ["http", "https"]),
                llmModel: reader.string(.llmModel),
                llmAPIKey: reader.secret(.llmAPIKey),
                llmBudget: reader.duration(.llmBudget),
                tlsPort: reader.port(.conversationTLSPort).nonZero,
                tlsCertificate: reader.optionalPath(.conversationTLSCertificate),
                tlsPrivateKey: reader.optionalPath(.conversationTLSPrivateKey),
                tlsClientCA: reader.optionalPath(.conversationTLSClientCA)
            ),
            speech: .init(
                sttProvider: reader.enumeration(.sttProvider),
                ttsProvider: reader.enumeration(.ttsProvider),
                providerURL: reader.url(.speechProviderURL, schemes: ["http", "https"]),
                synthesisURL: reader.url(.speechSynthesisURL, schemes: ["http", "https"]),
                providerKey: reader.secret(.speechProviderKey),
                sttModel: reader.string(.sttModel),
                ttsModel: reader.string(.ttsModel),
                ttsVoice: reader.string(.ttsVoice),
                providerTimeout: reader.duration(.speechProviderTimeout),
                sttDecoders: reader.integer(.sttDecoders, in: 1...256),
                sttStreaming: reader.enumeration(.sttMode) == "streaming",
                endpointOnWords: reader.enumeration(.endpointing) == "words"
            ),
            store: .init(
                backend: NinjaConfiguration.StoreBackend(rawValue: reader.enumeration(.storeBackend)) ?? .sqlite,
                postgresURL: reader.url(.postgresURL, schemes: ["postgres", "postgresql"]),
                redisURL: reader.url(.redisURL, schemes: ["redis"]),
                poolSize: reader.integer(.storePoolSize, in: 1...64),
                instance: reader.optionalString(.storeInstance),
                profileKey: reader.secret(.profileKey),
                profileKeyVersion: reader.integer(.profileKeyVersion, in: 1...1_000_000),
                profileKeyPrevious: reader.secret(.profileKeyPrevious)
            ),
            api: .init(
                jwtSecret: reader.secret(.jwtSecret),
                bcryptCost: reader.integer(.bcryptCost, in: 4...16),
                defaultRegion: reader.string(.defaultRegion).uppercased(),
                loginLimit: reader.integer(.loginLimit, in: 1...1000),
                webhookAllowPrivate: reader.enumeration(.webhookAllowPrivate) == "on",
                webhookCA: reader.optionalPath(.webhookCA)
            ),
            log: .init(
                level: reader.enumeration(.logLevel),
                format: NinjaConfiguration.LogFormat(rawValue: reader.enumeration(.logFormat)) ?? .json
            ),
            shutdownGrace: reader.duration(.shutdownGrace),
            demoAlias: reader.alias(.demoAlias)
        )
        if configuration.conversation.tlsPort != nil && (configuration.conversation.tlsCertificate == nil || configuration.conversation.tlsPrivateKey == nil) {
            reader.problems.append("\(ConfigurationKey.conversationTLSPort.environmentName) needs \(ConfigurationKey.conversationTLSCertificate.environmentName) and \(ConfigurationKey.conversationTLSPrivateKey.environmentName) (PEM files)")
        }
        if configuration.media.tlsPort != nil && (configuration.media.tlsCertificate == nil || configuration.media.tlsPrivateKey == nil) {
            reader.problems.append("\(ConfigurationKey.mediaTLSPort.environmentName) needs \(ConfigurationKey.mediaTLSCertificate.environmentName) and \(ConfigurationKey.mediaTLSPrivateKey.environmentName) (PEM files)")
        }
        if (configuration.media.controlClientCertificate == nil) != (configuration.media.controlClientPrivateKey == nil) {
            reader.problems.append("set \(ConfigurationKey.mediaControlClientCertificate.environmentName) and \(ConfigurationKey.mediaControlClientPrivateKey.environmentName) together")
        }
        if (configuration.media.conversationClientCertificate == nil) != (configuration.media.conversationClientPrivateKey == nil) {
            reader.problems.append("set \(ConfigurationKey.conversationClientCertificate.environmentName) and \(ConfigurationKey.conversationClientPrivateKey.environmentName) together")
        }
        if configuration.sip.tlsPort != nil && (configuration.sip.tlsCertificate == nil || configuration.sip.tlsPrivateKey == nil) {
            reader.problems.append("\(ConfigurationKey.sipTLSPort.environmentName) needs \(ConfigurationKey.sipTLSCertificate.environmentName) and \(ConfigurationKey.sipTLSPrivateKey.environmentName) (PEM files)")
        }
        if (configuration.speech.sttProvider != "embedded" || configuration.speech.ttsProvider != "embedded") && configuration.speech.providerURL == nil {
            reader.problems.append("\(ConfigurationKey.speechProviderURL.environmentName) is required when a speech provider is not embedded")
        }
        if configuration.store.backend == .postgres && configuration.store.postgresURL == nil {
            reader.problems.append("\(ConfigurationKey.postgresURL.environmentName) is required when store.backend is postgres")
        }
        if configuration.store.profileKeyPrevious != nil && (configuration.store.profileKey == nil || configuration.store.profileKeyVersion < 2) {
            reader.problems.append("\(ConfigurationKey.profileKeyPrevious.environmentName) is for a key rotation: it needs the new key in \(ConfigurationKey.profileKey.environmentName) and \(ConfigurationKey.profileKeyVersion.environmentName) of 2 or more")
        }
        for (key, value) in [(ConfigurationKey.profileKey, configuration.store.profileKey), (.profileKeyPrevious, configuration.store.profileKeyPrevious), (.jwtSecret, configuration.api.jwtSecret)] {
            if let value, value.count < 64 || !value.allSatisfy(\.isHexDigit) {
                reader.problems.append("\(key.environmentName) must be at least 32 bytes written as hex (64 or more hex digits)")
            }
        }
        if !reader.problems.isEmpty {
            throw .invalidConfiguration(reader.problems.joined(separator: "; "))
        }
        return configuration
    }

    private func parseFile(problems: inout [String]) -> [String: String] {
        guard let fileContents else { return [:] }
        let name = fileName ?? "configuration file"
        guard let root = try? JSONDecoder().decode(JSONValue.self, from: Data(fileContents)) else {
            problems.append("\(name) is not valid JSON")
            return [:]
        }
        guard case .object(let object) = root else {
            problems.append("\(name) must hold a JSON object at the top level")
            return [:]
        }
        var flat: [String: String] = [:]
        Self.flatten(object, prefix: "", into: &flat, problems: &problems, fileName: name)
        return flat
    }

    private static func flatten(_ object: [String: JSONValue], prefix: String, into flat: inout [String: String], problems: inout [String], fileName: String) {
        for (name, value) in object {
            let key = prefix.isEmpty ? name : prefix + "." + name
            switch value {
            case .object(let nested):
                flatten(nested, prefix: key, into: &flat, problems: &problems, fileName: fileName)
            case .string(let string):
                flat[key] = string
            case .number(let number):
                flat[key] = number == number.rounded() && abs(number) < 1e15 ? String(Int64(number)) : String(number)
            case .bool(let bool):
                flat[key] = bool ? "true" : "false"
            case .null:
                continue
            case .array:
                problems.append("\"\(key)\" in \(fileName) must be a string, number or boolean")
            }
        }
    }

    /// `url` with the password of its user info replaced by `***` (`postgres://bob:***@db/x`): passwords are never
    /// echoed into messages or `config` output.
    public static func redactingPassword(_ url: String) -> String {
        guard let scheme = url.range(of: "://"), let at = url.lastIndex(of: "@"), scheme.upperBound < at,
            let colon = url[scheme.upperBound..<at].firstIndex(of: ":")
        else { return url }
        return String(url[..<colon]) + ":***" + String(url[at...])
    }

    /// " (did you mean X?)" when a known name is within edit distance 3 of `name`.
    static func suggestion(for name: String, among candidates: [String]) -> String {
        let scored = candidates.map { ($0, editDistance(name, $0)) }.min { $0.1 < $1.1 || ($0.1 == $1.1 && $0.0 < $1.0) }
        guard let (best, distance) = scored, distance <= 3 else { return "" }
        return " (did you mean \(best)?)"
    }

    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a.utf8), b = Array(b.utf8)
        var previous = Array(0...b.count)
        for i in 1...max(a.count, 1) where !a.isEmpty {
            var current = [i] + [Int](repeating: 0, count: b.count)
            for j in stride(from: 1, through: b.count, by: 1) {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return a.isEmpty ? b.count : previous[b.count]
    }
}

/// Converts resolved strings to typed values, collecting problems instead of stopping at the first.
private struct ValueReader {
    let values: [String: ConfigurationLoader.ResolvedValue]
    var problems: [String] = []

    init(values: [ConfigurationLoader.ResolvedValue]) {
        self.values = Dictionary(uniqueKeysWithValues: values.map { ($0.key.key, $0) })
    }

    private func raw(_ key: ConfigurationKey) -> (String?, String) {
        let resolved = values[key.key]
        let origin: String
        switch resolved?.source {
        case .environment: origin = key.environmentName
        case .file: origin = "\"\(key.key)\" in the configuration file"
        default: origin = "the default of \(key.key)"
        }
        return (resolved?.value, origin)
    }

    mutating func path(_ key: ConfigurationKey) -> String {
        let (value, origin) = raw(key)
        guard let value, !value.isEmpty else {
            problems.append("\(origin) must be a directory path, got an empty value")
            return ""
        }
        return value
    }

    /// A path that may be unset.
    mutating func optionalPath(_ key: ConfigurationKey) -> String? {
        guard let value = raw(key).0, !value.isEmpty else { return nil }
        return value
    }

    mutating func host(_ key: ConfigurationKey) -> String {
        optionalHost(key) ?? {
            problems.append("\(raw(key).1) must be a host name or address")
            return ""
        }()
    }

    mutating func optionalHost(_ key: ConfigurationKey) -> String? {
        let (value, origin) = raw(key)
        guard let value, !value.isEmpty else { return nil }
        let allowed = value.allSatisfy { $0.isLetter || $0.isNumber || ".-:[]_".contains($0) }
        guard allowed, value.unicodeScalars.allSatisfy(\.isASCII) else {
            problems.append("\(origin) must be a host name or address, got \"\(value)\"")
            return nil
        }
        return value
    }

    mutating func port(_ key: ConfigurationKey) -> Int {
        let (value, origin) = raw(key)
        guard let value, let port = Int(value), (0...65535).contains(port) else {
            problems.append("\(origin) must be a port number 0...65535, got \"\(value ?? "")\"")
            return 0
        }
        return port
    }

    mutating func portRange(_ low: ConfigurationKey, _ high: ConfigurationKey) -> ClosedRange<Int> {
        let min = port(low), max = port(high)
        guard min > 0, min <= max else {
            problems.append("\(low.environmentName)...\(high.environmentName) must be a non-empty range of ports above 0, got \(min)...\(max)")
            return 1...1
        }
        guard max - min + 1 >= 2 else {
            problems.append("the RTP port range \(min)...\(max) must hold at least one even/odd pair")
            return min...max
        }
        return min...max
    }

    /// The slot's slice of `range` (`media.rtp_port_slot`, `media.rtp_port_slot_size`), or the whole range without
    /// a slot. A slice that does not fit in the range is a problem, not a smaller slice.
    mutating func rtpSlice(of range: ClosedRange<Int>) -> ClosedRange<Int> {
        let slot = integer(.rtpPortSlot, in: -1...65535)
        let size = integer(.rtpPortSlotSize, in: 2...65534)
        guard slot >= 0 else { return range }
        guard size % 2 == 0 else {
            problems.append("\(ConfigurationKey.rtpPortSlotSize.environmentName) must be even (RTP and RTCP pairs), got \(size)")
            return range
        }
        let low = range.lowerBound + slot * size
        let high = low + size - 1
        guard high <= range.upperBound else {
            problems.append("RTP slot \(slot) of \(size) ports is \(low)...\(high), beyond the range \(range.lowerBound)...\(range.upperBound): raise \(ConfigurationKey.rtpPortMax.environmentName) or lower the slot size")
            return range
        }
        return low...high
    }

    /// A comma-separated list of URLs, each as `url` checks it; empty when unset.
    mutating func urls(_ key: ConfigurationKey, schemes: [String]) -> [String] {
        let (value, origin) = raw(key)
        guard let value, !value.isEmpty else { return [] }
        return value.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }.compactMap { url($0, origin: origin, schemes: schemes) }
    }

    mutating func url(_ key: ConfigurationKey, schemes: [String]) -> String? {
        let (value, origin) = raw(key)
        guard let value, !value.isEmpty else { return nil }
        return url(value, origin: origin, schemes: schemes)
    }

    private mutating func url(_ value: String, origin: String, schemes: [String]) -> String? {
        guard let colon = value.firstIndex(of: ":"), schemes.contains(value[..<colon].lowercased()),
            value[colon...].hasPrefix("://"), value.count > value.distance(from: value.startIndex, to: colon) + 3
        else {
            problems.append("\(origin) must be a \(schemes.map { $0 + "://" }.joined(separator: " or ")) URL, got \"\(ConfigurationLoader.redactingPassword(value))\"")
            return nil
        }
        return value
    }

    /// The trunk registration: all of registrar, user name and password, or none of them.
    mutating func trunk() -> NinjaConfiguration.Trunk? {
        let (registrar, registrarOrigin) = raw(.trunkRegistrar)
        let (username, _) = raw(.trunkUsername)
        let (password, _) = raw(.trunkPassword)
        let expires = duration(.trunkExpires)
        let keepalive = duration(.trunkKeepalive)
        let registering = enumeration(.trunkRegister) == "on"
        let (proxy, proxyOrigin) = raw(.outboundProxy)
        let given = [registrar, username, password].map { ($0 ?? "").isEmpty == false }
        guard given.contains(true) else {
            if let proxy, !proxy.isEmpty {
                problems.append("\(proxyOrigin) needs the trunk it leads to: set \(ConfigurationKey.trunkRegistrar.environmentName), \(ConfigurationKey.trunkUsername.environmentName) and \(ConfigurationKey.trunkPassword.environmentName)")
            }
            return nil
        }
        guard given.allSatisfy({ $0 }), let registrar, let username, let password else {
            problems.append("\(ConfigurationKey.trunkRegistrar.environmentName), \(ConfigurationKey.trunkUsername.environmentName) and \(ConfigurationKey.trunkPassword.environmentName) go together: set all three or none")
            return nil
        }
        guard registrar.lowercased().hasPrefix("sip:") else {
            problems.append("\(registrarOrigin) must be a sip: URI, got \"\(registrar)\"")
            return nil
        }
        guard expires >= .seconds(60) else {
            problems.append("\(ConfigurationKey.trunkExpires.environmentName) must be at least 60s")
            return nil
        }
        var trunk = NinjaConfiguration.Trunk(registrar: registrar, username: username, password: password, expires: expires, keepalive: keepalive > .zero ? keepalive : nil)
        trunk.register = registering
        if let proxy, !proxy.isEmpty {
            guard proxy.lowercased().hasPrefix("sip:") else {
                problems.append("\(proxyOrigin) must be a sip: URI, got \"\(proxy)\"")
                return nil
            }
            trunk.outboundProxy = proxy
        }
        return trunk
    }

    /// `user:password` pairs separated by commas; a malformed pair is named by its user only (never its password).
    mutating func accounts(_ key: ConfigurationKey) -> [String: String] {
        var accounts: [String: String] = [:]
        for (index, pair) in (raw(key).0 ?? "").split(separator: ",").enumerated() {
            let parts = pair.split(separator: ":", maxSplits: 1)
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty, parts[0].allSatisfy({ $0.isLetter || $0.isNumber || "._-+".contains($0) }) else {
                problems.append("\(key.environmentName) entry \(index + 1) must be user:password (letters, digits, . _ - + in the user)")
                continue
            }
            accounts[parts[0].lowercased()] = String(parts[1])
        }
        return accounts
    }

    /// A non-empty comma-separated list of values from `allowed`, in the order given.
    mutating func list(_ key: ConfigurationKey, allowed: [String]) -> [String] {
        let (value, origin) = raw(key)
        let items = (value ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }.filter { !$0.isEmpty }
        guard !items.isEmpty, items.allSatisfy(allowed.contains), Set(items).count == items.count else {
            problems.append("\(origin) must list some of \(allowed.joined(separator: ", ")), each once, separated by commas; got \"\(value ?? "")\"")
            return allowed
        }
        return items
    }

    /// A whole number within `range`.
    mutating func integer(_ key: ConfigurationKey, in range: ClosedRange<Int>) -> Int {
        let (value, origin) = raw(key)
        guard let value, let number = Int(value), range.contains(number) else {
            problems.append("\(origin) must be a whole number from \(range.lowerBound) to \(range.upperBound), got \"\(value ?? "")\"")
            return range.lowerBound
        }
        return number
    }

    /// A non-empty string (the default when unset).
    mutating func string(_ key: ConfigurationKey) -> String {
        let (value, origin) = raw(key)
        guard let value, !value.isEmpty else {
            problems.append("\(origin) must not be empty")
            return key.defaultValue ?? ""
        }
        return value
    }

    /// A secret, or nil when unset or empty.
    mutating func secret(_ key: ConfigurationKey) -> String? {
        let (value, _) = raw(key)
        return value.flatMap { $0.isEmpty ? nil : $0 }
    }

    /// A decimal number from 0 to 1.
    mutating func fraction(_ key: ConfigurationKey) -> Double {
        let (value, origin) = raw(key)
        guard let value, let number = Double(value), number.isFinite, (0...1).contains(number) else {
            problems.append("\(origin) must be a number from 0 to 1, got \"\(value ?? "")\"")
            return 0
        }
        return number
    }

    /// A concrete IPv6 address (not the wildcard `::`), or nil when unset.
    mutating func optionalIPv6Address(_ key: ConfigurationKey) -> String? {
        let (value, origin) = raw(key)
        guard let value, !value.isEmpty else { return nil }
        let bare = value.hasPrefix("[") && value.hasSuffix("]") ? String(value.dropFirst().dropLast()) : value
        guard case .v6 = try? SocketAddress(ipAddress: bare, port: 0), bare != "::" else {
            problems.append("\(origin) must be an IPv6 address of this host (not ::), got \"\(value)\"")
            return nil
        }
        return bare
    }

    /// An IPv4 `ADDRESS:PORT` (port 53 when left out), or nil when unset.
    mutating func optionalHostPort(_ key: ConfigurationKey) -> NinjaConfiguration.HostPort? {
        let (value, origin) = raw(key)
        guard let value, !value.isEmpty else { return nil }
        guard let server = NinjaConfiguration.HostPort(dnsServer: value) else {
            problems.append("\(origin) must be an IPv4 ADDRESS:PORT, got \"\(value)\"")
            return nil
        }
        return server
    }

    /// A comma-separated list of host names or addresses, lower-cased (empty when unset).
    mutating func hostList(_ key: ConfigurationKey) -> [String] {
        let (value, origin) = raw(key)
        let items = (value ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }.filter { !$0.isEmpty }
        for item in items where !(item.allSatisfy { $0.isLetter || $0.isNumber || $0 == "." || $0 == "-" || $0 == ":" }) {
            problems.append("\(origin) must list host names or addresses separated by commas, got \"\(item)\"")
        }
        return items
    }

    /// A comma-separated list of IP addresses (empty when unset).
    mutating func addressList(_ key: ConfigurationKey) -> [String] {
        let (value, origin) = raw(key)
        let items = (value ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        for item in items {
            do {
                _ = try IPAddressSet(parsing: [item])
            } catch {
                problems.append("\(origin) must list IP addresses or CIDR prefixes (10.0.0.0/8) separated by commas: \(error.message)")
            }
        }
        return items
    }

    /// A duration in whole seconds, at least `minimum`.
    mutating func wholeSeconds(_ key: ConfigurationKey, atLeast minimum: Int) -> Int {
        let value = duration(key)
        let seconds = Int(value.components.seconds)
        if seconds < minimum || value != .seconds(seconds) {
            problems.append("\(key.environmentName) must be whole seconds, at least \(minimum)s")
        }
        return seconds
    }

    mutating func duration(_ key: ConfigurationKey) -> Duration {
        let (value, origin) = raw(key)
        guard let value, let duration = Self.parseDuration(value) else {
            problems.append("\(origin) must be a duration such as 500ms, 10s or 2m, got \"\(value ?? "")\"")
            return .zero
        }
        return duration
    }

    mutating func enumeration(_ key: ConfigurationKey) -> String {
        let (value, origin) = raw(key)
        guard let value, key.allowed.contains(value.lowercased()) else {
            problems.append("\(origin) must be one of \(key.allowed.joined(separator: ", ")), got \"\(value ?? "")\"")
            return key.defaultValue ?? ""
        }
        return value.lowercased()
    }

    /// A string that may be empty or unset ("" then).
    mutating func optionalString(_ key: ConfigurationKey) -> String {
        raw(key).0 ?? ""
    }

    mutating func alias(_ key: ConfigurationKey) -> NumberAlias? {
        let (value, origin) = raw(key)
        guard let value, !value.isEmpty else { return nil }
        do {
            return try NumberAlias(value)
        } catch {
            problems.append("\(origin): \(error.message)")
            return nil
        }
    }

    /// `250ms`, `10s`, `2m`, `1h`, or a bare number of seconds.
    static func parseDuration(_ text: String) -> Duration? {
        let units: [(String, Int64)] = [("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000)]
        for (suffix, milliseconds) in units where text.hasSuffix(suffix) {
            guard let count = Int64(text.dropLast(suffix.count)), count >= 0 else { return nil }
            return .milliseconds(count * milliseconds)
        }
        guard let seconds = Int64(text), seconds >= 0 else { return nil }
        return .seconds(seconds)
    }
}

extension Int {
    fileprivate var nonZero: Int? { self == 0 ? nil : self }
}
