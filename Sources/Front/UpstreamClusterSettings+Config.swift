// A cluster of the config as an upstream pool needs it: the workers' pools and the pool that asks
// a cluster for its descriptors (rest.reflection) read the config the same way.
import Config
import Loop
import Upstream

extension UpstreamClusterSettings {
    /// `tlsContext`: the cluster's, loaded for this generation (GatewayResources.clusterTLS).
    init(_ cluster: ClusterConfig, tlsContext: TLSContext?) {
        // IP literals (and localhost) are endpoints as they are; other names are resolved.
        var endpoints: [SocketAddress] = []
        var names: [DNSEndpointName] = []
        for endpoint in cluster.endpoints {
            if let address = try? SocketAddress(parsing: endpoint) {
                endpoints.append(address)
            } else if let colon = endpoint.lastIndex(of: ":"), let port = Int(endpoint[endpoint.index(after: colon)...]) {
                names.append(DNSEndpointName(host: String(endpoint[..<colon]), port: port))
            }
        }
        self.init(
            name: cluster.name, endpoints: endpoints, dnsNames: names,
            dnsRefreshNanoseconds: cluster.dnsRefreshNanoseconds, dnsResolver: cluster.dnsResolver,
            authority: cluster.authority,
            breaker: cluster.breaker, connectTimeoutNanoseconds: cluster.connectTimeoutNanoseconds,
            keepaliveIntervalNanoseconds: cluster.keepaliveIntervalNanoseconds,
            outlierDetection: cluster.outlierDetection, healthCheck: cluster.healthCheck,
            retryThrottling: cluster.retryThrottling)
        maxConcurrentStreams = cluster.maxConcurrentStreams
        keepaliveTimeoutNanoseconds = cluster.keepaliveTimeoutNanoseconds
        tls = tlsContext.map {
            UpstreamTLS(context: $0, serverName: cluster.tls?.serverName, verifyHostname: cluster.tls?.verifyHostname ?? true)
        }
    }
}
