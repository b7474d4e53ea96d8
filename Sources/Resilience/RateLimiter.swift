// The buckets of one route's rate limit, shared by every worker (a limit holds for the gateway,
// not per thread, like the circuit breakers): one atomic for a route-wide bucket; for keyed
// buckets a table under a lock, bounded, from which a bucket at rest (full again) is dropped.
import Synchronization

public final class RateLimiter: Sendable {
    public let policy: RateLimitPolicy
    /// At most this many keyed buckets at once; past it, the calls of new keys share one
    /// bucket (never more memory, never a free pass).
    public let maxKeys: Int
    private let routeArrival = Atomic<Int64>(Int64.min)
    private let keyed: Mutex<[String: Int64]>

    public init(policy: RateLimitPolicy, maxKeys: Int = 100_000) {
        self.policy = policy
        self.maxKeys = maxKeys
        keyed = Mutex([:])
    }

    /// Takes a token for a call at `now` (nanoseconds, monotonic); `key` is the call's value
    /// of the policy's key (ignored for a route-wide limit).
    public func acquire(key: String, now: Int64) -> RateLimitPolicy.Decision {
        guard policy.key != .route else { return acquireRouteWide(now: now) }
        return keyed.withLock { table in
            if table.count >= maxKeys, table[key] == nil {
                table = table.filter { $0.value > now }
            }
            let slot = table.count >= maxKeys && table[key] == nil ? Self.overflowKey : key
            let decision = policy.decide(arrival: table[slot] ?? Int64.min, now: now)
            if case .allowed(let next) = decision { table[slot] = next }
            return decision
        }
    }

    /// The keyed buckets held now (for tests and the admin view).
    public var keyCount: Int { keyed.withLock { $0.count } }

    /// The bucket the calls of keys beyond `maxKeys` share.
    static let overflowKey = "\u{0}overflow"

    private func acquireRouteWide(now: Int64) -> RateLimitPolicy.Decision {
        var arrival = routeArrival.load(ordering: .relaxed)
        while true {
            let decision = policy.decide(arrival: arrival, now: now)
            guard case .allowed(let next) = decision else { return decision }
            let (exchanged, current) = routeArrival.compareExchange(
                expected: arrival, desired: next, successOrdering: .relaxed, failureOrdering: .relaxed)
            if exchanged { return decision }
            arrival = current
        }
    }
}
