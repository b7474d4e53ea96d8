// Envoy-style circuit breaking per cluster (Envoy's "Circuit breaking" architecture overview):
// limits on open connections, queued calls, calls in flight and retries in flight. A call that
// would pass a limit fails at once with UNAVAILABLE naming it, and reaches no backend.

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

public struct CircuitBreaker: Sendable, Equatable {
    public let thresholds: CircuitBreakerThresholds
    public private(set) var connections = 0
    public private(set) var pendingRequests = 0
    public private(set) var requests = 0
    public private(set) var retries = 0
    /// Times each limit turned a call away, for metrics.
    public private(set) var trips: [BreakerResource: Int] = [:]

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

    public func inUse(_ resource: BreakerResource) -> Int {
        switch resource {
        case .connection: connections
        case .pendingRequest: pendingRequests
        case .request: requests
        case .retry: retries
        }
    }

    /// Takes one `resource`, or says which limit refuses it (and counts the trip).
    public mutating func acquire(_ resource: BreakerResource) -> String? {
        guard inUse(resource) < limit(of: resource) else {
            trips[resource, default: 0] += 1
            return "circuit breaker open: \(resource.limitName) \(limit(of: resource)) reached"
        }
        adjust(resource, by: 1)
        return nil
    }

    public mutating func release(_ resource: BreakerResource) {
        precondition(inUse(resource) > 0, "released a \(resource) the breaker did not hand out")
        adjust(resource, by: -1)
    }

    private mutating func adjust(_ resource: BreakerResource, by delta: Int) {
        switch resource {
        case .connection: connections += delta
        case .pendingRequest: pendingRequests += delta
        case .request: requests += delta
        case .retry: retries += delta
        }
    }
}
