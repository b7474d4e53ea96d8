// Outlier ejection per endpoint (Envoy's "consecutive 5xx" detection, in gRPC terms): an
// endpoint that fails N calls in a row (UNAVAILABLE, a failed connect, a reset) gets no calls
// for base_ejection_time × the times it has been ejected; then it is half-open: it gets calls
// again, and one more failure ejects it at once for longer, while a success makes it healthy.
// At most max_ejection_percent of the endpoints are out at a time, and never the last one.
// Pure: the clock is the `now` passed in, in nanoseconds.

public struct OutlierDetectionSettings: Sendable, Equatable {
    public var consecutiveFailures: Int
    public var baseEjectionNanoseconds: UInt64
    public var maxEjectionPercent: Int

    /// Envoy's defaults: 5 failures, 30 s, 10 %.
    public init(consecutiveFailures: Int = 5, baseEjectionNanoseconds: UInt64 = 30_000_000_000, maxEjectionPercent: Int = 10) {
        self.consecutiveFailures = consecutiveFailures
        self.baseEjectionNanoseconds = baseEjectionNanoseconds
        self.maxEjectionPercent = maxEjectionPercent
    }
}

public struct OutlierDetector<Endpoint: Hashable & Sendable>: Sendable {
    public enum State: Sendable, Equatable {
        case healthy(consecutiveFailures: Int)
        case ejected(untilNanoseconds: UInt64)
        /// Back after an ejection: one failure sends it out again.
        case halfOpen
    }

    private struct Record: Sendable {
        var state = State.healthy(consecutiveFailures: 0)
        var timesEjected = 0
    }

    public let settings: OutlierDetectionSettings
    private var records: [Endpoint: Record] = [:]
    /// Ejections, for metrics.
    public private(set) var ejections = 0

    public init(settings: OutlierDetectionSettings) {
        self.settings = settings
    }

    /// The endpoints tracked now: new ones start healthy, gone ones are forgotten.
    public mutating func setEndpoints(_ endpoints: some Sequence<Endpoint>) {
        var kept: [Endpoint: Record] = [:]
        for endpoint in endpoints { kept[endpoint] = records[endpoint] ?? Record() }
        records = kept
    }

    /// The endpoint's state at `now`: an ejection that has run out reads as half-open.
    public func state(of endpoint: Endpoint, now: UInt64) -> State {
        guard let record = records[endpoint] else { return .healthy(consecutiveFailures: 0) }
        if case .ejected(let until) = record.state, now >= until { return .halfOpen }
        return record.state
    }

    /// Whether the endpoint may get calls at `now`.
    public func isAvailable(_ endpoint: Endpoint, now: UInt64) -> Bool {
        if case .ejected = state(of: endpoint, now: now) { return false }
        return true
    }

    public mutating func recordSuccess(_ endpoint: Endpoint, now: UInt64) {
        guard records[endpoint] != nil else { return }
        records[endpoint]?.state = .healthy(consecutiveFailures: 0)
    }

    /// Returns whether this failure ejected the endpoint.
    @discardableResult
    public mutating func recordFailure(_ endpoint: Endpoint, now: UInt64) -> Bool {
        guard let record = records[endpoint] else { return false }
        let failures: Int
        switch state(of: endpoint, now: now) {
        case .ejected: return false  // calls started before the ejection, failing late
        case .halfOpen: failures = settings.consecutiveFailures
        case .healthy(let count): failures = count + 1
        }
        guard failures >= settings.consecutiveFailures, mayEject(now: now) else {
            records[endpoint]?.state = .healthy(consecutiveFailures: failures)
            return false
        }
        let times = record.timesEjected + 1
        records[endpoint] = Record(state: .ejected(untilNanoseconds: now + settings.baseEjectionNanoseconds * UInt64(times)),
                                   timesEjected: times)
        ejections += 1
        return true
    }

    /// Whether one more endpoint may be ejected: within max_ejection_percent (at least one
    /// endpoint may always go), and never the last one standing.
    private func mayEject(now: UInt64) -> Bool {
        let ejected = records.keys.filter { !isAvailable($0, now: now) }.count
        let allowed = max(1, records.count * settings.maxEjectionPercent / 100)
        return ejected + 1 <= allowed && ejected + 1 < records.count
    }
}
