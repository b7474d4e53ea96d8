// Local rate limits (issue 17; Envoy's local_ratelimit): a token bucket per route, or per route
// and key, refilled at `requests_per_second` and holding at most `burst` tokens. Kept as GCRA
// (the generic cell rate algorithm, ITU-T I.371), which is the same bucket stored as one number
// per key, the "theoretical arrival time" of the next call: a bucket at rest needs no entry, and
// one compare-and-swap decides a call. Time is a parameter (nanoseconds on a monotonic clock).

/// What a call is counted by.
public enum RateLimitKey: Sendable, Equatable, CustomStringConvertible {
    /// One bucket for the whole route.
    case route
    /// One per client address.
    case clientIP
    /// One per value of a request header (calls without it share one bucket).
    case header(String)
    /// One per value of a verified token's claim (with the route's JWT authentication).
    case claim(String)

    public var description: String {
        switch self {
        case .route: "route"
        case .clientIP: "client_ip"
        case .header(let name): "header:\(name)"
        case .claim(let name): "claim:\(name)"
        }
    }
}

public struct RateLimitPolicy: Sendable, Equatable {
    public var requestsPerSecond: Double
    public var burst: Int
    public var key: RateLimitKey

    public init(requestsPerSecond: Double, burst: Int, key: RateLimitKey = .route) {
        self.requestsPerSecond = requestsPerSecond
        self.burst = max(1, burst)
        self.key = key
    }

    /// Time between two tokens.
    var emissionInterval: Int64 { Int64((1e9 / requestsPerSecond).rounded(.up)) }
    /// How far ahead of now the next arrival may be booked: `burst` calls at once pass.
    var tolerance: Int64 { emissionInterval * Int64(burst - 1) }

    public enum Decision: Equatable, Sendable {
        /// Passes; the key's arrival time becomes `nextArrival`.
        case allowed(nextArrival: Int64)
        /// Refused: a token comes after `retryAfterNanoseconds`.
        case limited(retryAfterNanoseconds: Int64)
    }

    /// The decision for a call at `now` on a key whose theoretical arrival time is `arrival`
    /// (at or before `now` for a full bucket).
    public func decide(arrival: Int64, now: Int64) -> Decision {
        let booked = max(arrival, now)
        let ahead = booked - now
        guard ahead <= tolerance else { return .limited(retryAfterNanoseconds: ahead - tolerance) }
        return .allowed(nextArrival: booked + emissionInterval)
    }
}
