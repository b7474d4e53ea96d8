// A configured JWT issuer made ready, shared by every worker: its keys — read from a file once per
// config generation, or fetched from `jwks_uri` by the KeySetRefresher and swapped in whole — and
// what a verified token changes in the call (forwarded claims, the Authorization header dropped
// or kept).
import Auth
import Config
import Loop
import Synchronization

final class AuthProvider: Sendable {
    let name: String
    let config: JWTProviderConfig
    let forwardClaims: [(claim: String, header: String)]
    let forwardToken: Bool
    /// Where the keys come from when they are fetched; nil: a file or a secret.
    let remote: RemoteKeySource?
    /// nil until a fetched set has arrived.
    private let current: Mutex<JWTProvider?>
    /// How a worker asks the refresher for the set again (set by the refresher).
    private let refetch = Mutex<(@Sendable () -> Void)?>(nil)
    /// When a worker last asked (CLOCK_MONOTONIC): workers ask at most once a second; the
    /// refresher's own rule (RefreshSchedule) limits the fetches.
    private let lastRefetchRequest = Atomic<UInt64>(0)

    /// HS256 secrets shorter than this are refused (RFC 7518 §3.2: at least the hash's size).
    static let minimumSecretBytes = 32

    /// Reads the key file or secret; a fetched set starts with the keys `previous` had, when it
    /// fetched the same URL (a reload keeps serving while the new generation fetches).
    init(_ config: JWTProviderConfig, index: Int, clusters: [ClusterConfig], previous: AuthProvider?) throws(GatewayResourceError) {
        let path = "auth.jwt[\(index)]"
        name = config.name
        self.config = config
        forwardClaims = config.forwardClaims
        forwardToken = config.forwardToken
        if let remoteConfig = config.remoteKeySet {
            remote = try RemoteKeySource(remoteConfig, clusters: clusters, path: path)
            let kept = previous?.config.remoteKeySet == remoteConfig ? previous?.keys : nil
            current = Mutex(kept.map { Self.verifier(config, keys: $0) })
            return
        }
        remote = nil
        current = Mutex(Self.verifier(config, keys: try Self.localKeys(config, path: path)))
    }

    /// The issuer's keys and settings; nil while a fetched set has not arrived.
    var verifier: JWTProvider? { current.withLock { $0 } }

    private var keys: [JSONWebKey]? { current.withLock { $0?.keys } }

    /// A fetched set replaces the keys (the refresher's thread).
    func install(_ keys: [JSONWebKey]) {
        current.withLock { $0 = Self.verifier(config, keys: keys) }
    }

    func onKeyMissing(_ request: @escaping @Sendable () -> Void) {
        refetch.withLock { $0 = request }
    }

    /// A token named a key the set lacks (any worker): the refresher may fetch early.
    func keyMissing() {
        guard remote != nil else { return }
        let now = EventLoop.monotonicNow
        let last = lastRefetchRequest.load(ordering: .relaxed)
        guard now >= last + 1_000_000_000,
            lastRefetchRequest.compareExchange(expected: last, desired: now, ordering: .relaxed).exchanged
        else { return }
        refetch.withLock { $0 }?()
    }

    private static func verifier(_ config: JWTProviderConfig, keys: [JSONWebKey]) -> JWTProvider {
        JWTProvider(
            name: config.name, issuer: config.issuer, audiences: config.audiences,
            clockSkewSeconds: Double(config.clockSkewNanoseconds) / 1e9, keys: keys)
    }

    private static func localKeys(_ config: JWTProviderConfig, path: String) throws(GatewayResourceError) -> [JSONWebKey] {
        if let file = config.jwksFile {
            guard let bytes = FileReader.contents(of: file) else {
                throw GatewayResourceError(description: "\(path).jwks_file: cannot read '\(file)': \(FileReader.lastError)")
            }
            do {
                return try keySet(bytes, source: "'\(file)'")
            } catch {
                throw GatewayResourceError(description: "\(path).jwks_file: \(error.description)")
            }
        }
        let file = config.secretFile ?? ""
        guard let secret = FileReader.contents(of: file) else {
            throw GatewayResourceError(description: "\(path).secret_file: cannot read '\(file)': \(FileReader.lastError)")
        }
        guard secret.count >= Self.minimumSecretBytes else {
            throw GatewayResourceError(description: "\(path).secret_file: an HS256 secret needs \(Self.minimumSecretBytes) bytes or more")
        }
        return [JSONWebKey(secret: secret)]
    }

    /// The usable keys of a JWK set from `source`; an error when it has none.
    static func keySet(_ bytes: [UInt8], source: String) throws(GatewayResourceError) -> [JSONWebKey] {
        let set: (keys: [JSONWebKey], refused: [String])
        do { set = try JSONWebKey.set(parsing: bytes) } catch {
            throw GatewayResourceError(description: "\(error)")
        }
        guard !set.keys.isEmpty else {
            let refused = set.refused.isEmpty ? "" : " (\(set.refused.joined(separator: "; ")))"
            throw GatewayResourceError(description: "\(source) has no key Ferry verifies with\(refused)")
        }
        return set.keys
    }
}

/// `jwks_uri` made ready: the cluster's endpoints to fetch from, in turn, and the TLS to use.
struct RemoteKeySource: Sendable {
    let config: RemoteKeySetConfig
    let endpoints: [(host: String, port: Int)]
    let tls: TLSClientSetup?

    init(_ config: RemoteKeySetConfig, clusters: [ClusterConfig], path: String) throws(GatewayResourceError) {
        self.config = config
        guard let cluster = clusters.first(where: { $0.name == config.cluster }) else {
            throw GatewayResourceError(description: "\(path).jwks_cluster: no cluster named '\(config.cluster)'")
        }
        endpoints = cluster.endpoints.compactMap { endpoint in
            guard let colon = endpoint.lastIndex(of: ":"), let port = Int(endpoint[endpoint.index(after: colon)...]) else { return nil }
            let host = endpoint[..<colon]
            return (String(host.hasPrefix("[") ? host.dropFirst().dropLast() : host), port)
        }
        guard config.usesTLS else {
            tls = nil
            return
        }
        let context: TLSContext
        do {
            context = try TLSContext.client(
                caFile: cluster.tls?.caFile, certificateFile: cluster.tls?.certificateFile,
                privateKeyFile: cluster.tls?.privateKeyFile, alpn: "http/1.1")
        } catch {
            throw GatewayResourceError(description: "\(path).jwks_uri: TLS of cluster '\(cluster.name)': \(error)")
        }
        let serverName = cluster.tls?.serverName ?? config.host
        tls = TLSClientSetup(
            context: context, serverName: serverName, verifiedName: cluster.tls?.verifyHostname ?? true ? serverName : nil)
    }
}
