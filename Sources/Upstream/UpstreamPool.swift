// The connections of one worker to one cluster, per endpoint. Each call goes to the next
// endpoint round-robin among those that may get calls (outlier ejection), onto a connection
// with a free stream (up to the peer's SETTINGS_MAX_CONCURRENT_STREAMS), else onto a new
// connection to that endpoint (up to `max_connections` in all), else it waits in the
// endpoint's queue (up to `max_pending_requests` in all). The pool also runs the resilience
// policies that need a clock and a loop: deadlines, retries with backoff (gRFC A6), the retry
// throttle, the circuit breaker's limits and transparent retries of unprocessed attempts.
import FerryCore
import Logging
import Loop
import Resilience

/// An endpoint given by name: resolved with DNS, every address an endpoint.
public struct DNSEndpointName: Sendable, Equatable {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }
}

/// TLS towards a cluster: the context (CAs, client certificate, ALPN h2) and the names.
public struct UpstreamTLS: Sendable {
    public var context: TLSContext
    /// SNI and the name verified; nil: the endpoint's DNS name, or its address.
    public var serverName: String?
    public var verifyHostname: Bool

    public init(context: TLSContext, serverName: String?, verifyHostname: Bool) {
        self.context = context
        self.serverName = serverName
        self.verifyHostname = verifyHostname
    }
}

/// A cluster as the pool needs it.
public struct UpstreamClusterSettings: Sendable {
    public var name: String
    /// Endpoints given as IP addresses.
    public var endpoints: [SocketAddress]
    /// Endpoints given by name, resolved every `dnsRefreshNanoseconds` (or sooner when the
    /// answer's TTL is shorter, or when a connection to one fails).
    public var dnsNames: [DNSEndpointName]
    public var dnsRefreshNanoseconds: UInt64
    /// `IP:port` of the DNS server; nil: /etc/resolv.conf's.
    public var dnsResolver: String?
    /// `:authority` sent upstream; the endpoint's address when nil.
    public var authority: String?
    public var breaker: CircuitBreakerThresholds
    public var connectTimeoutNanoseconds: UInt64
    /// HTTP/2 PING interval while streams are open and the backend is silent
    /// (KeepalivePingSchedule); nil: no PINGs.
    public var keepaliveIntervalNanoseconds: UInt64?
    /// A PING not acknowledged within this closes the connection.
    public var keepaliveTimeoutNanoseconds: UInt64 = 5_000_000_000
    public var outlierDetection: OutlierDetectionSettings
    /// Active grpc.health.v1 checks; nil: none.
    public var healthCheck: HealthCheckSettings?
    /// gRFC A6 retry throttling; nil: retries are not throttled.
    public var retryThrottling: RetryThrottleSettings?
    /// Streams opened on one connection at most (the backend's SETTINGS may lower it).
    public var maxConcurrentStreams = 1024
    /// TLS to the endpoints; nil: cleartext HTTP/2 (h2c).
    public var tls: UpstreamTLS?

    public init(
        name: String, endpoints: [SocketAddress], dnsNames: [DNSEndpointName] = [],
        dnsRefreshNanoseconds: UInt64 = 5_000_000_000, dnsResolver: String? = nil, authority: String? = nil,
        breaker: CircuitBreakerThresholds = CircuitBreakerThresholds(),
        connectTimeoutNanoseconds: UInt64 = 2_000_000_000, keepaliveIntervalNanoseconds: UInt64? = 10_000_000_000,
        outlierDetection: OutlierDetectionSettings = OutlierDetectionSettings(),
        healthCheck: HealthCheckSettings? = nil, retryThrottling: RetryThrottleSettings? = nil
    ) {
        self.name = name
        self.endpoints = endpoints
        self.dnsNames = dnsNames
        self.dnsRefreshNanoseconds = dnsRefreshNanoseconds
        self.dnsResolver = dnsResolver
        self.authority = authority
        self.breaker = breaker
        self.connectTimeoutNanoseconds = connectTimeoutNanoseconds
        self.keepaliveIntervalNanoseconds = keepaliveIntervalNanoseconds
        self.outlierDetection = outlierDetection
        self.healthCheck = healthCheck
        self.retryThrottling = retryThrottling
    }
}

public final class UpstreamPool {
    public private(set) var settings: UpstreamClusterSettings
    let loop: EventLoop
    private let logger: Logger
    private var connections: [SocketAddress: [HTTP2ClientConnection]] = [:]
    /// The connection the last call went to: the next call to its endpoint takes it while it
    /// has room, without hashing the endpoint (a dictionary look-up and a copy of its list,
    /// about 300 instructions a call). Cleared when it closes.
    private var lastConnection: HTTP2ClientConnection?
    /// Calls waiting for a stream on their chosen endpoint, in arrival order.
    private var pending: [SocketAddress: [UpstreamCall]] = [:]
    private var picker: EndpointPicker<SocketAddress>
    private var outliers: OutlierDetector<SocketAddress>
    private var healthChecker: HealthChecker?
    /// Endpoints that refused a connection wait before the next try (gRPC's connection
    /// backoff, connection-backoff.md: 1 s, ×1.6, up to 120 s, ±20 % jitter); while every
    /// endpoint waits, a call probes the one whose wait ends first (`endpointToProbe`).
    private var connectBackoff: [SocketAddress: ConnectBackoff] = [:]
    /// Shared with the cluster's pools on the other workers.
    public let breaker: CircuitBreaker
    /// Shared with the cluster's pools on the other workers, like the breaker.
    public let throttle: RetryThrottle?
    /// The worker's total for replay buffers of streamed requests, shared by its pools.
    let retryBuffer: RetryBufferBudget
    private var random = SystemRandomNumberGenerator()
    // DNS: the addresses of each name (kept when a refresh fails), and calls that arrived
    // before the first answer.
    private var resolver: DNSResolver?
    private var resolvedAddresses: [[SocketAddress]]
    /// `name:port` of each resolved address: its connections' `:authority`, as gRPC clients
    /// send the target's name rather than the address it resolved to.
    private var names: [SocketAddress: String] = [:]
    private var resolving = false
    private var resolvedOnce = false
    private var dnsTimer: LoopTimer?
    private var awaitingEndpoints: [UpstreamCall] = []
    // For metrics: endpoint-set changes and failed resolutions, retries, refused connects.
    private var dnsUpdates: UInt64 = 0
    private var dnsFailures: UInt64 = 0
    private var retries: UInt64 = 0
    private var throttledRetries: UInt64 = 0
    private var connectFailures: [SocketAddress: UInt64] = [:]
    /// The PING interval of new connections: the cluster's, doubled each time a backend
    /// answers GOAWAY(too_many_pings) (gRFC A8).
    private(set) var keepaliveIntervalNanoseconds: UInt64?
    /// Streams a connection still being set up is expected to take (HTTP/2's initial
    /// unlimited SETTINGS_MAX_CONCURRENT_STREAMS, capped as servers commonly do).
    private var assumedStreamsPerNewConnection: Int { min(100, settings.maxConcurrentStreams) }

    /// `breaker` and `throttle`: the cluster's, shared by its pools on every worker; by default
    /// the pool makes its own.
    public init(
        settings: UpstreamClusterSettings, loop: EventLoop, logger: Logger, breaker: CircuitBreaker? = nil,
        throttle: RetryThrottle? = nil, retryBuffer: RetryBufferBudget = RetryBufferBudget(limitBytes: 16 << 20)
    ) {
        self.retryBuffer = retryBuffer
        self.settings = settings
        self.loop = loop
        self.logger = logger
        keepaliveIntervalNanoseconds = settings.keepaliveIntervalNanoseconds
        picker = EndpointPicker(endpoints: settings.endpoints)
        outliers = OutlierDetector(settings: settings.outlierDetection)
        outliers.setEndpoints(settings.endpoints)
        self.breaker = breaker ?? CircuitBreaker(thresholds: settings.breaker)
        self.throttle = throttle ?? settings.retryThrottling.map(RetryThrottle.init)
        resolvedAddresses = settings.dnsNames.map { _ in [] }
        healthChecker = settings.healthCheck.map { HealthChecker(pool: self, loop: loop, settings: $0) }
        if !settings.dnsNames.isEmpty {
            do {
                resolver = try DNSResolver(loop: loop, nameserver: settings.dnsResolver)
            } catch {
                logger.error("no DNS resolver", metadata: ["cluster": "\(settings.name)", "reason": "\(error)"])
            }
            dnsTimer = LoopTimer(loop: loop) { [unowned self] in resolve() }
            resolve()
        }
    }

    // MARK: DNS

    /// Resolves every name (one round at a time); the endpoint set changes when the round ends.
    private func resolve() {
        guard let resolver, !resolving else { return }
        resolving = true
        var remaining = settings.dnsNames.count
        var ttlSeconds = UInt32.max
        for (index, name) in settings.dnsNames.enumerated() {
            resolver.resolve(name.host) { [unowned self] result in
                switch result {
                case .success(let answer):
                    ttlSeconds = min(ttlSeconds, answer.ttlSeconds)
                    resolvedAddresses[index] = answer.addresses.compactMap { address in
                        try? SocketAddress(parsing: address.contains(":") ? "[\(address)]:\(name.port)" : "\(address):\(name.port)")
                    }
                    for address in resolvedAddresses[index] { names[address] = "\(name.host):\(name.port)" }
                case .failure(let error):
                    dnsFailures += 1
                    logger.warning(
                        "DNS resolution failed; keeping the last addresses",
                        metadata: [
                            "cluster": "\(settings.name)", "name": "\(name.host)", "reason": "\(error)",
                            "failures": "\(dnsFailures)",
                        ])
                }
                remaining -= 1
                if remaining == 0 { resolutionRoundEnded(ttlSeconds: ttlSeconds) }
            }
        }
    }

    private func resolutionRoundEnded(ttlSeconds: UInt32) {
        resolving = false
        resolvedOnce = true
        var all = settings.endpoints
        for address in resolvedAddresses.joined() where !all.contains(address) { all.append(address) }
        if all != picker.endpoints { setEndpoints(all) }
        // A shorter TTL than the refresh interval wins (at least 100 ms between rounds).
        let ttl = UInt64(ttlSeconds) * 1_000_000_000
        dnsTimer?.schedule(afterNanoseconds: max(100_000_000, min(settings.dnsRefreshNanoseconds, ttl)))
        let waiting = awaitingEndpoints
        awaitingEndpoints.removeAll()
        for call in waiting {
            breaker.release(.pendingRequest)
            if !call.isFinished { dispatch(call) }
        }
    }

    /// A new endpoint set: new endpoints join; gone ones drain (no new calls, their
    /// connections close once their calls end, calls waiting for them go elsewhere).
    private func setEndpoints(_ endpoints: [SocketAddress]) {
        let gone = Set(picker.endpoints).subtracting(endpoints)
        dnsUpdates += 1
        logger.info(
            "cluster endpoints changed",
            metadata: [
                "cluster": "\(settings.name)",
                "endpoints": "\(endpoints.map(\.description).joined(separator: ","))",
            ])
        picker.setEndpoints(endpoints)
        outliers.setEndpoints(endpoints)
        names = names.filter { endpoints.contains($0.key) }
        healthChecker?.setEndpoints(endpoints)
        for endpoint in gone {
            connectBackoff[endpoint] = nil
            for connection in connections[endpoint] ?? [] { connection.shutdown() }
            for call in takePending(on: endpoint) {
                call.requeued()
                dispatch(call)
            }
        }
    }

    private var pendingCount: Int { breaker.inUse(.pendingRequest) }

    /// Starts `call`: its deadline runs from now, and its first attempt goes out or waits. A
    /// call over the breaker's `max_requests` fails at once with UNAVAILABLE naming the limit.
    public func start(_ call: UpstreamCall) {
        if let trip = breaker.acquire(.request) {
            return call.overloaded(overload(trip), attempt: false)
        }
        call.begin(in: self, loop: loop)
        dispatch(call)
    }

    /// New TLS settings (certificates read again on reload) for connections opened from now on.
    public func replaceTLS(_ tls: UpstreamTLS?) {
        settings.tls = tls
    }

    /// Closes idle connections and lets busy ones finish (drain, or a reload that replaced the
    /// cluster); health checks and DNS refreshes stop.
    public func shutdown() {
        healthChecker?.stop()
        dnsTimer?.cancel()
        dnsTimer = nil
        for connection in connections.values.joined() { connection.shutdown() }
    }

    // MARK: Attempts

    /// Sends the call's next attempt to an endpoint: onto a free stream, or into the
    /// endpoint's queue behind a connection being opened.
    func dispatch(_ call: UpstreamCall) {
        // The clock is read only when an ejection or a connect backoff may be running, which
        // most calls find neither of (a clock read costs about 20 ns).
        let now = outliers.ejections > 0 || !connectBackoff.isEmpty ? EventLoop.monotonicNow : 0
        // When no endpoint passes its health checks, they all get calls (Envoy's "panic" routing):
        // failing a call for certain is worse than trying.
        let ignoringHealth = healthChecker.map { checker in !picker.endpoints.contains(where: checker.isHealthy) } ?? true
        // The common case (nothing ejected, backing off or unhealthy) looks nothing up.
        let anyEjected = outliers.mayHaveEjections(now: now)
        func available(_ endpoint: SocketAddress, ignoringBackoff: Bool = false) -> Bool {
            (!anyEjected || outliers.isAvailable(endpoint, now: now))
                && (ignoringBackoff || connectBackoff.isEmpty || connectBackoff[endpoint]?.allowsConnect(now: now) != false)
                && (ignoringHealth || healthChecker?.isHealthy(endpoint) != false)
        }
        if picker.endpoints.isEmpty, resolver != nil, !resolvedOnce {
            // The first DNS answer has not come yet: the call waits for it.
            if let trip = breaker.acquire(.pendingRequest) {
                return call.overloaded(overload(trip), attempt: false)
            }
            call.queued()
            awaitingEndpoints.append(call)
            return
        }
        guard
            let endpoint = picker.pick(excluding: call.triedEndpoints, isAvailable: { available($0) })
                ?? (call.triedEndpoints.isEmpty ? endpointToProbe(now: now, isAvailable: { available($0, ignoringBackoff: true) }) : nil)
        else {
            // Fails at once, not retried: every endpoint waits out a backoff, and this call
            // already had its attempt (or its probe).
            let reason =
                picker.endpoints.isEmpty
                ? (settings.dnsNames.isEmpty
                    ? "has no endpoint"
                    : "has no endpoint: \(settings.dnsNames.map(\.host).joined(separator: ", ")) resolved to no address")
                : "has no reachable endpoint (every one failed to connect and waits out its backoff)"
            call.fail(GRPCStatus(.unavailable, "cluster '\(settings.name)' \(reason)"))
            return
        }
        call.dispatching(to: endpoint)
        if let connection = lastConnection, connection.endpoint == endpoint, connection.hasCapacity {
            connection.start(call)
            return
        }
        if let connection = connections[endpoint]?.first(where: { $0.hasCapacity }) {
            lastConnection = connection
            connection.start(call)
            return
        }
        if let trip = breaker.acquire(.pendingRequest) {
            return call.overloaded(overload(trip), attempt: true)
        }
        call.queued()
        pending[endpoint, default: []].append(call)
        openConnectionIfNeeded(to: endpoint)
    }

    /// A new call finds every endpoint waiting out a connect backoff: the one whose backoff
    /// ends soonest gets a connect attempt now, and the call waits for it (within its deadline
    /// and `connect_timeout`). Without this, a backend back after an outage would get no call
    /// until its backoff ran out, up to two minutes later. A connection already being opened
    /// to it takes the call instead of a second one; a failed probe fails the call as fast as
    /// the connect fails (one probe per call).
    private func endpointToProbe(now: UInt64, isAvailable: (SocketAddress) -> Bool) -> SocketAddress? {
        picker.endpoints
            .filter { isAvailable($0) && connectBackoff[$0]?.allowsConnect(now: now) == false }
            .min { connectBackoff[$0]!.untilNanoseconds < connectBackoff[$1]!.untilNanoseconds }
    }

    /// A call refused by one of the cluster's limits (circuit breaker, pending queue): the
    /// answer says the cluster is overloaded, not down (`x-ferry-overloaded`, Envoy's
    /// `x-envoy-overloaded`).
    private func overload(_ trip: String) -> GRPCStatus {
        GRPCStatus(.unavailable, "cluster '\(settings.name)': \(trip)")
    }

    private func openConnectionIfNeeded(to endpoint: SocketAddress) {
        let open = connections[endpoint] ?? []
        let connecting = open.filter { $0.state == .connecting }.count
        let waiting = pending[endpoint]?.count ?? 0
        guard waiting > connecting * assumedStreamsPerNewConnection else { return }
        if let trip = breaker.acquire(.connection) {
            // No new connection: the calls wait for a stream on the ones there are, or fail.
            if open.isEmpty {
                for call in takePending(on: endpoint) { call.overloaded(overload(trip), attempt: true) }
            }
            return
        }
        do {
            connections[endpoint, default: []].append(try HTTP2ClientConnection(pool: self, loop: loop, endpoint: endpoint))
        } catch {
            breaker.release(.connection)
            connectFailed(endpoint, message: "upstream connect to \(endpoint) (cluster \(settings.name)) failed: \(error)")
        }
    }

    private func dispatchPending(on endpoint: SocketAddress) {
        guard breaker.inUse(.pendingRequest) > 0 else { return }
        while let call = pending[endpoint]?.first, let connection = connections[endpoint]?.first(where: { $0.hasCapacity }) {
            pending[endpoint]?.removeFirst()
            breaker.release(.pendingRequest)
            if !call.isFinished { connection.start(call) }
        }
        if pending[endpoint]?.isEmpty == false { openConnectionIfNeeded(to: endpoint) }
    }

    /// Takes the waiting calls off `endpoint`'s queue.
    private func takePending(on endpoint: SocketAddress) -> [UpstreamCall] {
        let calls = pending.removeValue(forKey: endpoint) ?? []
        for _ in calls { breaker.release(.pendingRequest) }
        return calls.filter { !$0.isFinished }
    }

    /// No connection to `endpoint` could be made: its waiting calls never left, so they try
    /// another endpoint (transparently, as A6 allows for calls that never reached a server);
    /// the endpoint counts a failure towards ejection.
    private func connectFailed(_ endpoint: SocketAddress, message: String) {
        let now = EventLoop.monotonicNow
        outliers.recordFailure(endpoint, now: now)
        connectFailures[endpoint, default: 0] += 1
        let delay = connectBackoff[endpoint, default: ConnectBackoff()].connectFailed(now: now, using: &random)
        // The name may point elsewhere now.
        resolve()
        logger.info(
            "upstream endpoint unreachable",
            metadata: [
                "cluster": "\(settings.name)", "endpoint": "\(endpoint)",
                "retry_in_ms": "\(UInt64(delay) / 1_000_000)",
            ])
        for call in takePending(on: endpoint) {
            call.requeued()
            call.attemptReceived(.failed(GRPCStatus(.unavailable, message)), neverProcessed: true)
        }
    }

    /// The attempt ended with `code`: the endpoint's and the throttle's bookkeeping.
    func attemptEnded(_ call: UpstreamCall, code: GRPCStatusCode) {
        if let endpoint = call.stream?.connection.endpoint {
            if code == .unavailable {
                if outliers.recordFailure(endpoint, now: EventLoop.monotonicNow) {
                    logger.warning("upstream endpoint ejected", metadata: ["cluster": "\(settings.name)", "endpoint": "\(endpoint)"])
                }
            } else {
                outliers.recordSuccess(endpoint)
            }
        }
        if call.lifecycle.retry?.policy.retryableStatusCodes.contains(code) == true {
            throttle?.recordFailure()
        } else if code == .ok {
            throttle?.recordSuccess()
        }
        if call.releaseRetryToken() { breaker.release(.retry) }
    }

    /// An A6 retry the call's attempts allow: it starts after `delay` if the breaker's
    /// `max_retries` has a token for it. False: none, and the call ends with its attempt.
    func scheduleRetry(_ call: UpstreamCall, afterNanoseconds delay: UInt64) -> Bool {
        guard breaker.acquire(.retry) == nil else { return false }
        retries += 1
        call.backOff(afterNanoseconds: delay, loop: loop)
        return true
    }

    /// Why a failed attempt was not retried, for the log and the throttle's count.
    func notRetried(_ call: UpstreamCall, _ decision: RetryState.Decision) {
        if decision == .throttled { throttledRetries += 1 }
        logger.debug("not retried", metadata: ["cluster": "\(settings.name)", "path": "\(call.request.path)", "reason": "\(decision)"])
    }

    /// Whether an attempt the backend never processed has somewhere to go again (A6
    /// "transparent retry"): a stream refused by a connected backend (REFUSED_STREAM, above a
    /// GOAWAY's last stream) may go anywhere, the same endpoint on a new connection included; a
    /// call that found no connection tries each endpoint once, then fails with what the last one
    /// said.
    func mayRetryTransparently(_ call: UpstreamCall, connected: Bool) -> Bool {
        connected || call.triedEndpoints.count < picker.endpoints.count
    }

    /// The call ended: what it held goes back.
    func callFinished(_ call: UpstreamCall) {
        call.releaseReplayBudget()
        if call.releaseRetryToken() { breaker.release(.retry) }
        if call.pool != nil {
            call.detachFromPool()
            breaker.release(.request)
        }
    }

    // MARK: Reporting

    /// This worker's view of the cluster, for /metrics and /clusters.
    public var snapshot: ClusterSnapshot {
        let now = EventLoop.monotonicNow
        var known = picker.endpoints
        for endpoint in connections.keys where !known.contains(endpoint) { known.append(endpoint) }
        let endpoints = known.map { endpoint in
            let open = connections[endpoint] ?? []
            return EndpointSnapshot(
                address: endpoint.description, healthy: healthChecker?.isHealthy(endpoint),
                ejected: !outliers.isAvailable(endpoint, now: now),
                backingOff: connectBackoff[endpoint]?.allowsConnect(now: now) == false,
                connections: open.count, streams: open.reduce(0) { $0 + $1.activeStreams },
                connectFailures: connectFailures[endpoint] ?? 0)
        }
        var trips: [String: Int] = [:]
        for resource in BreakerResource.allCases { trips[resource.limitName] = breaker.trips(resource) }
        return ClusterSnapshot(
            name: settings.name, endpoints: endpoints, retries: retries, throttledRetries: throttledRetries,
            ejections: UInt64(outliers.ejections), dnsUpdates: dnsUpdates, dnsFailures: dnsFailures,
            breakerTrips: trips)
    }

    /// No call, connection or queued work left (a pool retired by a reload may go).
    public var isIdle: Bool {
        connections.values.allSatisfy(\.isEmpty) && pending.values.allSatisfy(\.isEmpty) && awaitingEndpoints.isEmpty
    }

    // MARK: Health checks

    /// The `:authority` of connections to `endpoint`: the configured one, else the name it was
    /// resolved from, else the address.
    func authority(for endpoint: SocketAddress) -> String {
        settings.authority ?? names[endpoint] ?? endpoint.description
    }

    /// What a TLS connection to `endpoint` sends as SNI and verifies: the configured server
    /// name, else the DNS name the endpoint was resolved from, else its IP address (verified
    /// against the certificate's IP addresses, and not sent: SNI carries names only).
    func tlsSetup(for endpoint: SocketAddress) -> TLSClientSetup? {
        guard let tls = settings.tls else { return nil }
        let name = tls.serverName ?? names[endpoint].map { String($0[..<($0.lastIndex(of: ":") ?? $0.endIndex)]) }
        return TLSClientSetup(
            context: tls.context, serverName: name,
            verifiedName: tls.verifyHostname ? name ?? endpoint.host : nil)
    }

    /// The endpoints calls may go to (for the health checker).
    var endpoints: [SocketAddress] { picker.endpoints }

    /// Sends a health check to `endpoint` itself: no retries, no breaker `max_requests`.
    func startHealthCheck(_ call: UpstreamCall, on endpoint: SocketAddress) {
        if let connection = connections[endpoint]?.first(where: { $0.hasCapacity }) {
            connection.start(call)
            return
        }
        guard breaker.acquire(.pendingRequest) == nil else {
            return call.fail(GRPCStatus(.unavailable, "no room to queue the health check"))
        }
        call.queued()
        pending[endpoint, default: []].append(call)
        openConnectionIfNeeded(to: endpoint)
    }

    /// A backend answered GOAWAY(ENHANCE_YOUR_CALM, "too_many_pings"): new connections PING
    /// half as often (gRFC A8).
    func tooManyPings(from endpoint: SocketAddress) {
        guard let interval = keepaliveIntervalNanoseconds else { return }
        keepaliveIntervalNanoseconds = interval * 2
        logger.warning(
            "upstream sent GOAWAY(too_many_pings); keepalive interval doubled for new connections",
            metadata: [
                "cluster": "\(settings.name)", "endpoint": "\(endpoint)",
                "keepalive_interval": "\(GRPCTimeout(nanoseconds: Int64(interval * 2)))",
            ])
    }

    func healthChanged(_ endpoint: SocketAddress, healthy: Bool, reason: String) {
        logger.warning(
            healthy ? "upstream endpoint healthy" : "upstream endpoint unhealthy",
            metadata: ["cluster": "\(settings.name)", "endpoint": "\(endpoint)", "reason": "\(reason)"])
    }

    // MARK: Connection events

    /// A connection came up: the endpoint's connect backoff ends, whoever opened it (a call, a
    /// probe, or a health check, which connects whatever the backoff: so a passing check has
    /// always ended it).
    func connectionReady(_ connection: HTTP2ClientConnection) {
        connectBackoff[connection.endpoint] = nil
        logger.debug("upstream connected", metadata: ["cluster": "\(settings.name)", "endpoint": "\(connection.endpoint)"])
        dispatchPending(on: connection.endpoint)
    }

    func capacityChanged(_ connection: HTTP2ClientConnection) {
        dispatchPending(on: connection.endpoint)
    }

    func connectionClosed(_ connection: HTTP2ClientConnection, wasConnecting: Bool, message: String) {
        let endpoint = connection.endpoint
        connections[endpoint]?.removeAll { $0 === connection }
        if lastConnection === connection { lastConnection = nil }
        breaker.release(.connection)
        logger.info("upstream connection closed", metadata: ["cluster": "\(settings.name)", "reason": "\(message)"])
        let others = connections[endpoint]?.contains { $0.state == .connecting || $0.state == .ready } ?? false
        if wasConnecting && !others {
            connectFailed(endpoint, message: message)
        } else {
            dispatchPending(on: endpoint)
        }
    }
}
