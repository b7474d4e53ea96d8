// Envoy-style circuit breaking per cluster (Envoy's "Circuit breaking" architecture overview):
// limits on open connections, queued calls, calls in flight and retries in flight. A call that
// would pass a limit fails at once with UNAVAILABLE naming it, and reaches no backend. One
// breaker serves a cluster's pools on every worker, so the counters are atomics: a limit
// holds for the cluster, as in Envoy, not per worker thread.
import Synchronization

public struct CircuitBreakerThresholds: Sendable, Equatable {
    public var maxConnections: Int
    public var maxPendingRequests: Int
    public var maxRequests: Int
    public var maxRetries: Int

    /// Envoy's defaults.
    public init(maxConnections: Int = 1024, maxPendingRequests: Int = 1024, maxRequests: Int = 1024, maxRetries: Int = 3) {
        self.maxConnections = maxConnections
        self.maxPendingRequests = maxPendingRequests
        self.maxRequests = maxRequests
        self.maxRetries = maxRetries
    }
}

/// The resources a breaker counts.
public enum BreakerResource: Sendable, CaseIterable {
    case connection, pendingRequest, request, retry

    /// The config key of its limit, for messages.
    public var limitName: String {
        switch self {
        case .connection: "max_connections"
        case .pendingRequest: "max_pending_requests"
        case .request: "max_requests"
        case .retry: "max_retries"
        }
    }
}

public final class CircuitBreaker: Sendable {
    public let thresholds: CircuitBreakerThresholds
    private let connections = Atomic<Int>(0)
    private let pendingRequests = Atomic<Int>(0)
    private let requests = Atomic<Int>(0)
    private let retries = Atomic<Int>(0)
    private let connectionTrips = Atomic<Int>(0)
    private let pendingRequestTrips = Atomic<Int>(0)
    private let requestTrips = Atomic<Int>(0)
    private let retryTrips = Atomic<Int>(0)

    public init(thresholds: CircuitBreakerThresholds) {
        self.thresholds = thresholds
    }

    private func limit(of resource: BreakerResource) -> Int {
        switch resource {
        case .connection: thresholds.maxConnections
        case .pendingRequest: thresholds.maxPendingRequests
        case .request: thresholds.maxRequests
        case .retry: thresholds.maxRetries
        }
    }

    private func withCounter<Result>(
        _ resource: BreakerResource, trips: Bool = false,
        _ body: (borrowing Atomic<Int>) -> Result
    ) -> Result {
        switch (resource, trips) {
        case (.connection, false): body(connections)
        case (.pendingRequest, false): body(pendingRequests)
        case (.request, false): body(requests)
        case (.retry, false): body(retries)
        case (.connection, true): body(connectionTrips)
        case (.pendingRequest, true): body(pendingRequestTrips)
        case (.request, true): body(requestTrips)
        case (.retry, true): body(retryTrips)
        }
    }

    public func inUse(_ resource: BreakerResource) -> Int {
        withCounter(resource) { $0.load(ordering: .relaxed) }
    }

    /// Times `resource`'s limit turned a call away, for metrics.
    public func trips(_ resource: BreakerResource) -> Int {
        withCounter(resource, trips: true) { $0.load(ordering: .relaxed) }
    }

    /// Takes one `resource`, or says which limit refuses it (and counts the trip).
    public func acquire(_ resource: BreakerResource) -> String? {
        let limit = limit(of: resource)
        let acquired = withCounter(resource) { counter in
            var current = counter.load(ordering: .relaxed)
            while current < limit {
                let (exchanged, original) = counter.compareExchange(expected: current, desired: current + 1, ordering: .relaxed)
                if exchanged { return true }
                current = original
            }
            return false
        }
        guard !acquired else { return nil }
        withCounter(resource, trips: true) { _ = $0.add(1, ordering: .relaxed) }
        return "circuit breaker open: \(resource.limitName) \(limit) reached"
    }

    public func release(_ resource: BreakerResource) {
        let previous = withCounter(resource) { $0.subtract(1, ordering: .relaxed).oldValue }
        precondition(previous > 0, "released a \(resource) the breaker did not hand out")
    }
}
