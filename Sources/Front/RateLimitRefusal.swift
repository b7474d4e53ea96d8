// The answer to a call beyond its route's rate limit: RESOURCE_EXHAUSTED (HTTP 429 for REST and
// Connect unary calls, google/rpc/code.proto) with `retry-after` (RFC 9110 §10.2.3) in whole
// seconds, rounded up, so that a client that waits that long finds a token.
import FerryCore
import Resilience

struct RateLimitRefusal {
    let status: GRPCStatus
    /// `retry-after`, as a header (REST, Connect) or metadata (gRPC-Web, native gRPC).
    let metadata: HeaderFields

    init(policy: RateLimitPolicy, route: String, retryAfterNanoseconds: Int64) {
        let seconds = max(1, (retryAfterNanoseconds + 999_999_999) / 1_000_000_000)
        let rate =
            policy.requestsPerSecond == policy.requestsPerSecond.rounded()
            ? "\(Int(policy.requestsPerSecond))" : "\(policy.requestsPerSecond)"
        let per = policy.key == .route ? "" : " per \(policy.key)"
        status = GRPCStatus(
            .resourceExhausted,
            "rate limit of route '\(route)' exceeded: \(rate) requests per second\(per), burst \(policy.burst); retry after \(seconds)s")
        var metadata = HeaderFields()
        metadata.append(name: "retry-after", value: String(seconds))
        self.metadata = metadata
    }

    /// The address part of a peer's `address:port` (`[v6]:port` for IPv6).
    static func clientIP(ofPeer peer: String) -> String {
        if peer.hasPrefix("["), let close = peer.firstIndex(of: "]") {
            return String(peer[peer.index(after: peer.startIndex)..<close])
        }
        return String(peer.prefix { $0 != ":" })
    }
}
