// What every connection of one listener shares: its policies and limits, and the worker's
// routing table and pools. Built once per worker from config; never changed per request.
import Config
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
    let accessLog: AccessLog?
    /// A request without `traceparent` starts a trace (W3C Trace Context).
    let createTraceparent: Bool
    /// The worker's random bits for new traces (the context belongs to one worker thread).
    var traceIDs = TraceIDGenerator()

    init(config: ListenerConfig, router: Router, pools: [String: UpstreamPool], rest: RESTTranscoding?,
         accessLog: AccessLog?, createTraceparent: Bool) {
        cors = config.cors
        limits = config.limits
        self.router = router
        self.pools = pools
        self.rest = rest
        self.accessLog = accessLog
        self.createTraceparent = createTraceparent
    }
}
