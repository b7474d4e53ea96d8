// What every connection of one listener shares: its policies and limits, and the worker's
// routing table and pools. Built once per worker from config; never changed per request.
import Config
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

    init(config: ListenerConfig, router: Router, pools: [String: UpstreamPool], rest: RESTTranscoding?) {
        cors = config.cors
        limits = config.limits
        self.router = router
        self.pools = pools
        self.rest = rest
    }
}
