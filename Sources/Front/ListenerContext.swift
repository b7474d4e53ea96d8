// What every connection of one listener shares: its policies and limits, and the worker's
// routing table and pools. Built per worker from one generation of the config; a reload
// builds a new one, which connections pick up at their next request.
import Auth
import Config
import Logging
import Loop
import Observability
import Routing
import Transcode
import Upstream

final class ListenerContext {
    let cors: CORSPolicy?
    let limits: FrontLimits
    let router: Router
    let pools: [String: UpstreamPool]
    /// REST/JSON transcoding, when configured.
    let rest: RESTTranscoding?
    /// Why REST calls get 503 for now (descriptors still to come from server reflection).
    let restUnavailable: String?
    let accessLog: AccessLog?
    /// A request without `traceparent` starts a trace (W3C Trace Context).
    let createTraceparent: Bool
    /// TLS for accepted connections; nil: cleartext.
    let tls: TLSContext?
    /// Whether the listener asks for client certificates (mutual TLS).
    let verifiesClients: Bool
    /// The HTTP/2 front's settings; nil: HTTP/1.1 only (`http2: off`).
    let http2: HTTP2FrontSettings?
    /// The worker's counts; nil without an admin listener.
    let metrics: DownstreamMetrics?
    let limitReporter: LimitReporter
    /// A route counts calls by client address: each connection's peer is looked up.
    let needsClientAddress: Bool
    /// The JWT issuers routes may require, by `auth.jwt[].name`.
    let authProviders: [String: AuthProvider]
    /// The worker's verified tokens (shared by its listeners).
    let tokenCache: VerifiedTokenCache
    /// The worker's random bits for new traces (the context belongs to one worker thread).
    var traceIDs = TraceIDGenerator()
    /// The route of the last call and its pool: calls come in runs on one route, and this
    /// spares hashing the cluster's name for each.
    private var lastRoutePool: (route: Route, pool: UpstreamPool?)?

    init(
        config: ListenerConfig, router: Router, pools: [String: UpstreamPool], rest: RESTTranscoding?, restUnavailable: String? = nil,
        accessLog: AccessLog?, createTraceparent: Bool, tls: TLSContext?, metrics: DownstreamMetrics?,
        limitReporter: LimitReporter, authProviders: [String: AuthProvider] = [:], tokenCache: VerifiedTokenCache = VerifiedTokenCache()
    ) {
        cors = config.cors.map { policy in rest.map { policy.addingRESTMethods($0.catalog.routes.rules.map(\.verb)) } ?? policy }
        limits = config.limits
        self.router = router
        self.pools = pools
        self.rest = rest
        self.restUnavailable = restUnavailable
        self.accessLog = accessLog
        self.createTraceparent = createTraceparent
        self.tls = tls
        verifiesClients = config.tls?.clientCAFile != nil
        http2 = config.http2
        self.metrics = metrics
        self.limitReporter = limitReporter
        needsClientAddress = router.routes.contains { $0.policy.rateLimit?.key == .clientIP }
        self.authProviders = authProviders
        self.tokenCache = tokenCache
    }

    /// The pool of `route`'s cluster; nil when the config has no such cluster.
    func pool(for route: Route) -> UpstreamPool? {
        if let last = lastRoutePool, last.route === route { return last.pool }
        let pool = pools[route.cluster]
        lastRoutePool = (route, pool)
        return pool
    }

    /// Whether each request's details are gathered when it ends (for the log or the counts).
    var recordsRequests: Bool { accessLog != nil || metrics != nil }
}

/// One listener of a worker: its socket, its current context, its connection count.
final class ListenerSlot {
    let address: String
    var context: ListenerContext
    var listener: TCPListener?
    let connectionCounter: ConnectionCounter

    init(address: String, context: ListenerContext, connectionCounter: ConnectionCounter) {
        self.address = address
        self.context = context
        self.connectionCounter = connectionCounter
    }
}

/// Counts every limit hit and logs it at most once per second per limit, so that a flood
/// of refused connections cannot flood the log as well.
final class LimitReporter {
    private let logger: Logger
    private let metrics: DownstreamMetrics?
    private var lastLogged: [String: UInt64] = [:]

    init(logger: Logger, metrics: DownstreamMetrics?) {
        self.logger = logger
        self.metrics = metrics
    }

    /// `limit` is the config key that stopped something; `detail` says what.
    func hit(_ limit: String, _ detail: @autoclosure () -> String) {
        metrics?.recordLimitHit(limit)
        let now = EventLoop.monotonicNow
        if let last = lastLogged[limit], now - last < 1_000_000_000 { return }
        lastLogged[limit] = now
        logger.warning("limit reached", metadata: ["limit": "\(limit)", "detail": "\(detail())"])
    }
}

extension FrontLimits {
    /// Response output waits for a slow client past `buffer_limit_bytes`: the backend is held
    /// back; counted and logged as a limit hit.
    func reportBufferLimit(to reporter: LimitReporter) {
        reporter.hit("buffer_limit_bytes", "response output above \(bufferLimitBytes) bytes for a slow client; the backend is held back")
    }

    /// A connection closed by `idle_timeout`: counted and logged as a limit hit.
    func reportIdleTimeout(to reporter: LimitReporter) {
        reporter.hit("idle_timeout", "no byte received for \(idleTimeoutNanoseconds / 1_000_000) ms; closed")
    }
}
