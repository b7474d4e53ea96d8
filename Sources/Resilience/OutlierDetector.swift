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
    @inlinable
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

    @usableFromInline
    struct Record: Sendable {
        @usableFromInline var state: State
        @usableFromInline var timesEjected: Int

        @usableFromInline
        init(state: State = .healthy(consecutiveFailures: 0), timesEjected: Int = 0) {
            self.state = state
            self.timesEjected = timesEjected
        }
    }

    public let settings: OutlierDetectionSettings
    @usableFromInline var records: [Endpoint: Record] = [:]
    @usableFromInline var ejectionCount = 0

    /// Ejections so far, for metrics.
    public var ejections: Int { ejectionCount }
    /// When the last ejection ends: before it, an endpoint may be out (a fast path for the
    /// common case of none).
    @usableFromInline var ejectedUntil: UInt64 = 0
    /// Endpoints with failures on record: none means a success has nothing to reset.
    @usableFromInline var failing = 0

    @inlinable
    public init(settings: OutlierDetectionSettings) {
        self.settings = settings
    }

    /// False when no endpoint can be ejected at `now`, so that nothing needs looking up.
    @inlinable
    public func mayHaveEjections(now: UInt64) -> Bool {
        now < ejectedUntil
    }

    /// The endpoints tracked now: new ones start healthy, gone ones are forgotten.
    @inlinable
    public mutating func setEndpoints(_ endpoints: some Sequence<Endpoint>) {
        var kept: [Endpoint: Record] = [:]
        for endpoint in endpoints { kept[endpoint] = records[endpoint] ?? Record() }
        records = kept
        failing = records.values.filter { $0.state != .healthy(consecutiveFailures: 0) }.count
    }

    /// The endpoint's state at `now`: an ejection that has run out reads as half-open.
    @inlinable
    public func state(of endpoint: Endpoint, now: UInt64) -> State {
        guard let record = records[endpoint] else { return .healthy(consecutiveFailures: 0) }
        if case .ejected(let until) = record.state, now >= until { return .halfOpen }
        return record.state
    }

    /// Whether the endpoint may get calls at `now`.
    @inlinable
    public func isAvailable(_ endpoint: Endpoint, now: UInt64) -> Bool {
        if case .ejected = state(of: endpoint, now: now) { return false }
        return true
    }

    @inlinable
    public mutating func recordSuccess(_ endpoint: Endpoint) {
        guard failing > 0, let record = records[endpoint], record.state != .healthy(consecutiveFailures: 0) else { return }
        records[endpoint]?.state = .healthy(consecutiveFailures: 0)
        failing -= 1
    }

    /// Returns whether this failure ejected the endpoint.
    @discardableResult
    @inlinable
    public mutating func recordFailure(_ endpoint: Endpoint, now: UInt64) -> Bool {
        guard let record = records[endpoint] else { return false }
        let failures: Int
        switch state(of: endpoint, now: now) {
        case .ejected: return false  // calls started before the ejection, failing late
        case .halfOpen: failures = settings.consecutiveFailures
        case .healthy(let count): failures = count + 1
        }
        if record.state == .healthy(consecutiveFailures: 0) { failing += 1 }
        guard failures >= settings.consecutiveFailures, mayEject(now: now) else {
            records[endpoint]?.state = .healthy(consecutiveFailures: failures)
            return false
        }
        let times = record.timesEjected + 1
        let until = now + settings.baseEjectionNanoseconds * UInt64(times)
        records[endpoint] = Record(state: .ejected(untilNanoseconds: until), timesEjected: times)
        ejectedUntil = max(ejectedUntil, until)
        ejectionCount += 1
        return true
    }

    /// Whether one more endpoint may be ejected: within max_ejection_percent (at least one
    /// endpoint may always go), and never the last one standing.
    @usableFromInline
    func mayEject(now: UInt64) -> Bool {
        let ejected = records.keys.filter { !isAvailable($0, now: now) }.count
        let allowed = max(1, records.count * settings.maxEjectionPercent / 100)
        return ejected + 1 <= allowed && ejected + 1 < records.count
    }
}
