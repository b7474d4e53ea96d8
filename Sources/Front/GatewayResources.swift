// What every worker shares for one generation of the config, built on the main thread before
// the workers see it (so a reload that cannot load a certificate fails before anything
// changes): the clusters' breakers and throttles, TLS contexts, the access log, and the
// listeners' connection counts.
import Config
import Loop
import Observability
import Resilience
import Synchronization

/// What a cluster's pools on every worker share: its circuit breaker and retry throttle.
struct ClusterLimits: Sendable {
    let breaker: CircuitBreaker
    let throttle: RetryThrottle?
    let throttleSettings: RetryThrottleSettings?

    init(breaker: CircuitBreaker, throttleSettings: RetryThrottleSettings?) {
        self.breaker = breaker
        self.throttleSettings = throttleSettings
        throttle = throttleSettings.map(RetryThrottle.init)
    }
}

/// Open connections of one listener over all workers (its `max_connections`).
final class ConnectionCounter: Sendable {
    private let count = Atomic<Int>(0)

    /// Counts a new connection; false (and not counted) when `limit` are open already.
    func acquire(limit: Int) -> Bool {
        if count.wrappingAdd(1, ordering: .relaxed).newValue <= limit { return true }
        count.wrappingSubtract(1, ordering: .relaxed)
        return false
    }

    func release() {
        count.wrappingSubtract(1, ordering: .relaxed)
    }
}

struct GatewayResourceError: Error, CustomStringConvertible {
    var description: String
}

final class GatewayResources: Sendable {
    let clusterLimits: [String: ClusterLimits]
    /// By listener address.
    let listenerTLS: [String: TLSContext]
    /// By cluster name.
    let clusterTLS: [String: TLSContext]
    let accessLog: AccessLog?
    /// By listener address; kept across reloads, so that connections opened before count.
    let connectionCounters: [String: ConnectionCounter]
    /// `auth.jwt` by name, keys read (or being fetched).
    let authProviders: [String: AuthProvider]

    /// Builds what `config` needs; what an unchanged cluster or listener had in `previous`
    /// (its breaker counts, its connection count) carries over. TLS files and the access log
    /// are opened again, so that a reload picks up renewed certificates and rotated logs.
    init(config: FerryConfig, previous: GatewayResources?) throws(GatewayResourceError) {
        var limits: [String: ClusterLimits] = [:]
        for cluster in config.clusters {
            limits[cluster.name] =
                previous?.clusterLimits[cluster.name].flatMap { old in
                    old.breaker.thresholds == cluster.breaker && old.throttleSettings == cluster.retryThrottling ? old : nil
                }
                ?? ClusterLimits(
                    breaker: CircuitBreaker(thresholds: cluster.breaker),
                    throttleSettings: cluster.retryThrottling)
        }
        var counters: [String: ConnectionCounter] = [:]
        for listener in config.listeners {
            counters[listener.address] = previous?.connectionCounters[listener.address] ?? ConnectionCounter()
        }
        (listenerTLS, clusterTLS) = try GatewayResources.tlsContexts(config)
        do {
            accessLog = try config.accessLogPath.map { path throws(AccessLogError) in try AccessLog(path: path) }
        } catch {
            throw GatewayResourceError(description: "access_log: \(error)")
        }
        clusterLimits = limits
        connectionCounters = counters
        var providers: [String: AuthProvider] = [:]
        for (index, provider) in config.jwtProviders.enumerated() {
            providers[provider.name] = try AuthProvider(
                provider, index: index, clusters: config.clusters, previous: previous?.authProviders[provider.name])
        }
        authProviders = providers
    }

    /// Every TLS context the config names (listeners by address, clusters by name), loaded from
    /// its files; the first that fails is the error, with its config key path.
    static func tlsContexts(
        _ config: FerryConfig
    ) throws(GatewayResourceError)
        -> (listeners: [String: TLSContext], clusters: [String: TLSContext])
    {
        var listeners: [String: TLSContext] = [:]
        for (index, listener) in config.listeners.enumerated() {
            guard let tls = listener.tls else { continue }
            do {
                listeners[listener.address] = try TLSContext.server(
                    certificateFile: tls.certificateFile, privateKeyFile: tls.privateKeyFile, clientCAFile: tls.clientCAFile,
                    requireClientCertificate: tls.requireClientCertificate,
                    // h2 first: a client offering both gets HTTP/2 (RFC 7301 §3.2: the server's preference).
                    alpn: listener.http2 == nil ? ["http/1.1"] : ["h2", "http/1.1"])
            } catch {
                throw GatewayResourceError(description: "listeners[\(index)].tls: \(error)")
            }
        }
        var clusters: [String: TLSContext] = [:]
        for (index, cluster) in config.clusters.enumerated() {
            guard let tls = cluster.tls else { continue }
            do {
                clusters[cluster.name] = try TLSContext.client(
                    caFile: tls.caFile, certificateFile: tls.certificateFile,
                    privateKeyFile: tls.privateKeyFile, alpn: "h2")
            } catch {
                throw GatewayResourceError(description: "clusters[\(index)].tls: \(error)")
            }
        }
        return (listeners, clusters)
    }
}
