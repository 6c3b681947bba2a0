import Foundation
#if canImport(Glibc)
import Glibc
#endif
import NIOConcurrencyHelpers
import NIOSSL

/// A TLS listener's certificate and key, read again when their files change: cert-manager renews a certificate at
/// two thirds of its life and the kubelet updates the mounted files, while the process runs on. At the first
/// handshake after `interval` the files' modification times are compared; changed files are loaded and used from
/// then on. A pair that does not load (a file caught half-written) keeps the previous one, and is tried again at the
/// next check.
final class ReloadingCertificate: Sendable {
    struct Pair: Sendable {
        var chain: [NIOSSLCertificateSource]
        var key: NIOSSLPrivateKeySource
        var stamp: [String]
    }

    private struct State {
        var pair: Pair
        var checked: ContinuousClock.Instant
    }

    let certificate: String
    let key: String
    let interval: Duration
    private let state: NIOLockedValueBox<State>

    init(certificate: String, key: String, interval: Duration = .seconds(30)) throws {
        self.certificate = certificate
        self.key = key
        self.interval = interval
        state = NIOLockedValueBox(State(pair: try Self.load(certificate: certificate, key: key), checked: .now))
    }

    /// A server configuration that asks for the current pair at every handshake; with `clientCA`, a client must
    /// present a certificate that CA signed (NIOSSL reads the file for each new context).
    func serverConfiguration(clientCA: String? = nil) -> TLSConfiguration {
        let pair = current()
        var configuration = TLSConfiguration.makeServerConfiguration(certificateChain: pair.chain, privateKey: pair.key)
        if let clientCA {
            // The chain only: a client is who its CA says, not a host name (full verification would match the
            // certificate against the client's address, which a gateway's certificate does not name).
            configuration.certificateVerification = .noHostnameVerification
            configuration.trustRoots = .file(clientCA)
        }
        configuration.sslContextCallback = { [self] _, promise in
            var override = NIOSSLContextConfigurationOverride()
            let pair = self.current()
            override.certificateChain = pair.chain
            override.privateKey = pair.key
            promise.succeed(override)
        }
        return configuration
    }

    /// The pair to use now: reloaded first when `interval` has passed and the files changed.
    func current(now: ContinuousClock.Instant = .now) -> Pair {
        state.withLockedValue { state in
            guard now - state.checked >= interval else { return state.pair }
            state.checked = now
            let stamp = Self.stamp(certificate, key)
            guard stamp != state.pair.stamp, let fresh = try? Self.load(certificate: certificate, key: key) else { return state.pair }
            state.pair = fresh
            return fresh
        }
    }

    static func load(certificate: String, key: String) throws -> Pair {
        let stamp = stamp(certificate, key)
        let chain = try NIOSSLCertificate.fromPEMFile(certificate).map { NIOSSLCertificateSource.certificate($0) }
        guard !chain.isEmpty else { throw NIOSSLError.failedToLoadCertificate }
        return Pair(chain: chain, key: .privateKey(try NIOSSLPrivateKey(file: key, format: .pem)), stamp: stamp)
    }

    /// What tells a file changed: the inode and modification time of what the path leads to (`stat` follows
    /// symlinks: a Kubernetes Secret volume swaps the `..data` link to a new directory, and the file's own link stays).
    static func stamp(_ paths: String...) -> [String] {
        paths.map { path in
            var info = stat()
            guard stat(path, &info) == 0 else { return "missing" }
            return "\(info.st_ino):\(info.st_mtim.tv_sec).\(info.st_mtim.tv_nsec):\(info.st_size)"
        }
    }
}
