// What a pool reports for /metrics and /clusters: a copy taken on its worker's thread, merged
// with the other workers' copies of the same cluster by the admin listener.

public struct EndpointSnapshot: Sendable, Equatable {
    public var address: String
    /// nil without health checks.
    public var healthy: Bool?
    public var ejected: Bool
    /// Refused connections: waits before the next try.
    public var backingOff: Bool
    public var connections: Int
    public var streams: Int
    public var connectFailures: UInt64

    /// Another worker's view of the same endpoint: counts add up; it is healthy only if every
    /// worker finds it so, and ejected or backing off if any worker has it so.
    public mutating func add(_ other: EndpointSnapshot) {
        if let theirs = other.healthy { healthy = (healthy ?? true) && theirs }
        ejected = ejected || other.ejected
        backingOff = backingOff || other.backingOff
        connections += other.connections
        streams += other.streams
        connectFailures += other.connectFailures
    }
}

public struct ClusterSnapshot: Sendable, Equatable {
    public var name: String
    public var endpoints: [EndpointSnapshot]
    /// Attempts retried by the policy (A6), and retries the throttle refused.
    public var retries: UInt64
    public var throttledRetries: UInt64
    public var ejections: UInt64
    public var dnsUpdates: UInt64
    public var dnsFailures: UInt64
    /// The circuit breaker's trips by resource. The breaker is shared by every worker's pool:
    /// these are the cluster's totals already, not to be added up.
    public var breakerTrips: [String: Int]

    /// Adds another worker's snapshot of the same cluster.
    public mutating func add(_ other: ClusterSnapshot) {
        for endpoint in other.endpoints {
            if let index = endpoints.firstIndex(where: { $0.address == endpoint.address }) {
                endpoints[index].add(endpoint)
            } else {
                endpoints.append(endpoint)
            }
        }
        retries += other.retries
        throttledRetries += other.throttledRetries
        ejections += other.ejections
        dnsUpdates += other.dnsUpdates
        dnsFailures += other.dnsFailures
    }
}
