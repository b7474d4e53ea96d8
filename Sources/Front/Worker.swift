// One worker thread's world: its event loop, its listeners (sharing ports with the other
// workers through SO_REUSEPORT), its upstream pools and its downstream connections. Other
// threads reach it only through its mailbox: snapshots of its counts, a new config, drain.
import Auth
import Config
import Glibc
import Logging
import Loop
import Observability
import Resilience
import Routing
import Synchronization
import Transcode
import Upstream

/// One generation of the config, ready for the workers.
struct WorkerPlan: Sendable {
    let config: FerryConfig
    let rest: RESTTranscoding?
    let resources: GatewayResources

    /// Why REST calls get 503: the descriptors are to come from server reflection and have not
    /// yet; nil when REST is served (or not configured).
    var restUnavailable: String? {
        guard rest == nil, case .reflection(let source)? = config.rest?.descriptors else { return nil }
        return "the REST API's descriptors have not arrived yet from the server reflection of cluster '\(source.cluster)'"
    }
}

/// A worker's counts and pools, as a scrape or /clusters sees them.
struct WorkerSnapshot: Sendable {
    var downstream: DownstreamMetricsSnapshot?
    var clusters: [ClusterSnapshot]
}

enum WorkerMessage: Sendable {
    case snapshot(Replies<WorkerSnapshot>)
    /// Apply the plan; reply with what could not be applied (an address that cannot be bound).
    case reload(WorkerPlan, Replies<[String]>)
    /// The drain's grace period: still accepting, but every response closes its connection.
    case drainGrace
    case drain
}

/// Replies from the workers to one request, waited for with a deadline.
final class Replies<Value: Sendable>: Sendable {
    private let values = Mutex<[Value]>([])
    private let arrived = ThreadSignal()

    func reply(_ value: Value) {
        values.withLock { $0.append(value) }
        arrived.signal()
    }

    /// The replies that came within `timeoutNanoseconds` (up to `count`).
    func wait(count: Int, timeoutNanoseconds: UInt64) -> [Value] {
        let deadline = ThreadSignal.realtimeNow + timeoutNanoseconds
        for _ in 0..<count where !arrived.wait(untilRealtimeNanoseconds: deadline) { break }
        return values.withLock { $0 }
    }
}

final class Worker {
    let loop: EventLoop
    /// What its connections borrow while busy (records, input buffers, bytes being written).
    let scratch = ConnectionScratch()
    private let logger: Logger
    /// nil without an admin listener: nothing is counted.
    private let metrics: DownstreamMetrics?
    private let limitReporter: LimitReporter
    private var slots: [String: ListenerSlot] = [:]
    private var pools: [String: UpstreamPool] = [:]
    private var clusterConfigs: [String: ClusterConfig] = [:]
    /// Replay buffers of streamed requests, over every pool of the worker (`retry_buffer_bytes`).
    private let retryBuffer = RetryBufferBudget(limitBytes: 0)
    /// Pools a reload replaced, kept until their last call has ended.
    private var retiredPools: [UpstreamPool] = []
    private var connections: [ObjectIdentifier: any DownstreamConnection] = [:]
    private var draining = false
    private var inDrainGrace = false
    private(set) var mailbox: LoopMailbox<WorkerMessage>!

    init(plan: WorkerPlan, logger: Logger) throws {
        loop = try EventLoop()
        self.logger = logger
        metrics = plan.config.admin == nil ? nil : DownstreamMetrics()
        limitReporter = LimitReporter(logger: logger, metrics: metrics)
        let failures = apply(plan)
        if let failure = failures.first { throw GatewayResourceError(description: failure) }
        mailbox = LoopMailbox(loop: loop) { [unowned self] message in receive(message) }
    }

    func run() {
        loop.run()
    }

    private func receive(_ message: WorkerMessage) {
        switch message {
        case .snapshot(let replies):
            retiredPools.removeAll { $0.isIdle }
            replies.reply(
                WorkerSnapshot(
                    downstream: metrics?.snapshot,
                    clusters: pools.values.map(\.snapshot).sorted { $0.name < $1.name }))
        case .reload(let plan, let replies):
            replies.reply(draining ? [] : apply(plan))
        case .drainGrace:
            inDrainGrace = true
            for connection in connections.values { connection.closeAfterNextResponse() }
        case .drain:
            drain()
        }
    }

    // MARK: Configuration

    /// Makes `plan` the worker's config: pools of unchanged clusters stay (with their warm
    /// connections), others are replaced and drained; listeners of unchanged addresses keep
    /// their sockets; every listener gets a new context, which open connections take up at
    /// their next request. Returns what could not be applied.
    private func apply(_ plan: WorkerPlan) -> [String] {
        let config = plan.config
        retryBuffer.limitBytes = config.retryBufferBytes
        var newPools: [String: UpstreamPool] = [:]
        for cluster in config.clusters {
            let settings = UpstreamClusterSettings(cluster, tlsContext: plan.resources.clusterTLS[cluster.name])
            if let pool = pools[cluster.name], clusterConfigs[cluster.name] == cluster,
                pool.breaker === plan.resources.clusterLimits[cluster.name]?.breaker
            {
                pool.replaceTLS(settings.tls)
                newPools[cluster.name] = pool
            } else {
                let limits = plan.resources.clusterLimits[cluster.name]
                newPools[cluster.name] = UpstreamPool(
                    settings: settings, loop: loop, logger: logger, breaker: limits?.breaker, throttle: limits?.throttle,
                    retryBuffer: retryBuffer)
            }
        }
        for (name, pool) in pools where newPools[name] !== pool {
            pool.shutdown()
            retiredPools.append(pool)
        }
        retiredPools.removeAll { $0.isIdle }
        pools = newPools
        clusterConfigs = Dictionary(uniqueKeysWithValues: config.clusters.map { ($0.name, $0) })

        var failures: [String] = []
        let router = Router(routes: config.routes)
        // A new generation's keys may differ: tokens are verified anew.
        let tokenCache = VerifiedTokenCache()
        var newSlots: [String: ListenerSlot] = [:]
        for listenerConfig in config.listeners {
            let context = ListenerContext(
                config: listenerConfig, router: router, pools: pools, rest: plan.rest, restUnavailable: plan.restUnavailable,
                accessLog: plan.resources.accessLog, createTraceparent: config.createTraceparent,
                tls: plan.resources.listenerTLS[listenerConfig.address], metrics: metrics, limitReporter: limitReporter,
                authProviders: plan.resources.authProviders, tokenCache: tokenCache)
            if let slot = slots[listenerConfig.address] {
                slot.context = context
                newSlots[listenerConfig.address] = slot
                continue
            }
            guard let counter = plan.resources.connectionCounters[listenerConfig.address] else { continue }
            let slot = ListenerSlot(address: listenerConfig.address, context: context, connectionCounter: counter)
            do {
                let address = try SocketAddress(parsing: listenerConfig.address)
                slot.listener = try TCPListener(loop: loop, address: address) { [unowned self, unowned slot] fd in
                    accept(fd, slot: slot)
                }
                newSlots[listenerConfig.address] = slot
            } catch {
                failures.append("\(error)")
            }
        }
        for (address, slot) in slots where newSlots[address] == nil {
            slot.listener?.close()
            slot.listener = nil
        }
        slots = newSlots
        return failures
    }

    // MARK: Connections

    private func accept(_ fd: Int32, slot: ListenerSlot) {
        let context = slot.context
        guard slot.connectionCounter.acquire(limit: context.limits.maxConnections) else {
            Glibc.close(fd)
            limitReporter.hit(
                "max_connections", "listener \(slot.address) has \(context.limits.maxConnections) connections open; a new one was closed")
            return
        }
        do {
            // The peer's address is looked up only for the access log and client-address rate limits.
            let peer = context.accessLog == nil && !context.needsClientAddress ? "" : SocketAddress.peerDescription(of: fd)
            let socket = try BufferedConnection(loop: loop, acceptedSocket: fd, tls: context.tls)
            // With HTTP/2 on, the first bytes decide the protocol (HTTP2Preface).
            let connection: any DownstreamConnection =
                context.http2 == nil
                ? HTTP1ServerConnection(connection: socket, slot: slot, worker: self, peer: peer)
                : ProtocolDetector(connection: socket, slot: slot, worker: self, peer: peer)
            connections[ObjectIdentifier(connection)] = connection
            metrics?.connectionsActive += 1
            metrics?.connectionsTotal += 1
            if draining { connection.drain() } else if inDrainGrace { connection.closeAfterNextResponse() }
        } catch {
            slot.connectionCounter.release()
            logger.error("cannot accept connection: \(error)")
        }
    }

    /// A connection's first bytes named its protocol: the connection for it takes over the
    /// socket and those bytes.
    func protocolDetected(_ detector: ProtocolDetector, http2: Bool, firstBytes: [UInt8]) {
        connections.removeValue(forKey: ObjectIdentifier(detector))
        let socket = detector.connection
        let connection: any DownstreamConnection & BufferedConnectionDelegate
        if http2, let h2 = HTTP2ServerConnection(connection: socket, slot: detector.slot, worker: self, peer: detector.peer) {
            connection = h2
        } else {
            connection = HTTP1ServerConnection(connection: socket, slot: detector.slot, worker: self, peer: detector.peer)
        }
        connections[ObjectIdentifier(connection)] = connection
        // A drain closes detectors at once; a drain's grace period reached this one as the flag.
        if detector.closeAfterFirstResponse { connection.closeAfterNextResponse() }
        firstBytes.withUnsafeBytes { connection.connection(socket, received: $0) }
    }

    func connectionClosed(_ connection: any DownstreamConnection, slot: ListenerSlot) {
        connections.removeValue(forKey: ObjectIdentifier(connection))
        slot.connectionCounter.release()
        metrics?.connectionsActive -= 1
        if draining { finishDrainIfDone() }
    }

    /// Stop accepting; idle connections close now, busy ones after their exchange.
    private func drain() {
        guard !draining else { return }
        draining = true
        for slot in slots.values {
            slot.listener?.close()
            slot.listener = nil
        }
        for connection in Array(connections.values) { connection.drain() }
        finishDrainIfDone()
    }

    private func finishDrainIfDone() {
        guard connections.isEmpty else { return }
        for pool in pools.values { pool.shutdown() }
        for pool in retiredPools { pool.shutdown() }
        mailbox.remove()
        loop.stop()
    }
}
