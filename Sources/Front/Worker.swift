// One worker thread's world: its event loop, its listeners (sharing ports with the other
// workers through SO_REUSEPORT), its upstream pools and its downstream connections.
import Config
import Logging
import Loop
import Observability
import Resilience
import Routing
import Transcode
import Upstream

final class Worker {
    let loop: EventLoop
    private let logger: Logger
    private var listeners: [TCPListener] = []
    private var pools: [UpstreamPool] = []
    private var connections: [ObjectIdentifier: HTTP1ServerConnection] = [:]
    private var draining = false
    private(set) var drainWaker: LoopWaker!

    init(config: FerryConfig, rest: RESTTranscoding?, limits: [String: ClusterLimits], accessLog: AccessLog?,
         logger: Logger) throws {
        loop = try EventLoop()
        self.logger = logger
        var poolsByName: [String: UpstreamPool] = [:]
        for cluster in config.clusters {
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
            let pool = UpstreamPool(settings: UpstreamClusterSettings(
                name: cluster.name, endpoints: endpoints, dnsNames: names,
                dnsRefreshNanoseconds: cluster.dnsRefreshNanoseconds, dnsResolver: cluster.dnsResolver,
                authority: cluster.authority,
                breaker: cluster.breaker, connectTimeoutNanoseconds: cluster.connectTimeoutNanoseconds,
                keepaliveIntervalNanoseconds: cluster.keepaliveIntervalNanoseconds,
                outlierDetection: cluster.outlierDetection, healthCheck: cluster.healthCheck,
                retryThrottling: cluster.retryThrottling), loop: loop, logger: logger,
                breaker: limits[cluster.name]?.breaker, throttle: limits[cluster.name]?.throttle)
            poolsByName[cluster.name] = pool
            pools.append(pool)
        }
        let router = Router(routes: config.routes)
        for listenerConfig in config.listeners {
            let context = ListenerContext(config: listenerConfig, router: router, pools: poolsByName, rest: rest,
                                          accessLog: accessLog, createTraceparent: config.createTraceparent)
            let address = try SocketAddress(parsing: listenerConfig.address)
            listeners.append(try TCPListener(loop: loop, address: address) { [unowned self] fd in
                accept(fd, context: context)
            })
        }
        drainWaker = LoopWaker(loop: loop) { [unowned self] in drain() }
    }

    func run() {
        loop.run()
    }

    private func accept(_ fd: Int32, context: ListenerContext) {
        do {
            // The peer's address is looked up only for the access log.
            let peer = context.accessLog == nil ? "" : SocketAddress.peerDescription(of: fd)
            let connection = HTTP1ServerConnection(
                connection: try BufferedConnection(loop: loop, acceptedSocket: fd), context: context, worker: self, peer: peer)
            connections[ObjectIdentifier(connection)] = connection
        } catch {
            logger.error("cannot accept connection: \(error)")
        }
    }

    func connectionClosed(_ connection: HTTP1ServerConnection) {
        connections.removeValue(forKey: ObjectIdentifier(connection))
        if draining { finishDrainIfDone() }
    }

    /// Stop accepting; idle connections close now, busy ones after their exchange.
    private func drain() {
        guard !draining else { return }
        draining = true
        for listener in listeners { listener.close() }
        listeners.removeAll()
        for connection in Array(connections.values) { connection.drain() }
        finishDrainIfDone()
    }

    private func finishDrainIfDone() {
        guard connections.isEmpty else { return }
        for pool in pools { pool.shutdown() }
        drainWaker.remove()
        loop.stop()
    }
}

/// What a cluster's pools on every worker share: its circuit breaker and retry throttle.
struct ClusterLimits: Sendable {
    let breaker: CircuitBreaker
    let throttle: RetryThrottle?
}
