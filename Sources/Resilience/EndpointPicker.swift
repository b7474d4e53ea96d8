// Round-robin over the endpoints that may get calls, skipping those a call already tried when
// another is available (a retry goes to a different endpoint, gRFC A6 leaves the choice to the
// load balancer; Envoy's "previous hosts" retry predicate does the same).

public struct EndpointPicker<Endpoint: Hashable & Sendable>: Sendable {
    @usableFromInline var list: [Endpoint] = []

    public var endpoints: [Endpoint] { list }
    @usableFromInline var next = 0

    @inlinable
    public init(endpoints: [Endpoint] = []) {
        self.list = endpoints
    }

    /// A new endpoint list (DNS changed): the rotation continues where it was.
    @inlinable
    public mutating func setEndpoints(_ endpoints: [Endpoint]) {
        self.list = endpoints
        if !list.isEmpty { next %= list.count }
    }

    /// The next available endpoint not in `tried`; if every available one was tried, the next
    /// available one; nil when none is available.
    @inlinable
    public mutating func pick<Tried: Sequence<Endpoint>>(excluding tried: Tried, isAvailable: (Endpoint) -> Bool) -> Endpoint? {
        var fallback: (endpoint: Endpoint, position: Int)?
        for offset in 0..<list.count {
            let position = (next + offset) % list.count
            let endpoint = list[position]
            guard isAvailable(endpoint) else { continue }
            if !tried.contains(endpoint) {
                next = position + 1
                return endpoint
            }
            if fallback == nil { fallback = (endpoint, position) }
        }
        guard let fallback else { return nil }
        next = fallback.position + 1
        return fallback.endpoint
    }
}
