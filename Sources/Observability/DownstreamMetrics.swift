// Counting the calls of one worker. The counts belong to the worker's thread and are plain
// integers (no atomics, no locks on the hot path); a scrape asks every worker for a snapshot
// on its own thread and merges them (Envoy's per-thread stats, merged on flush).
import FerryCore

/// The labels one call is counted under.
public struct CallSeriesKey: Hashable, Sendable, Comparable {
    /// The route that took the call (its match), or empty when none did.
    public var route: String
    /// `/package.Service/Method`, or empty for what Ferry answered without a method.
    public var method: String
    /// `grpc`, `grpc-web`, `grpc-web-text`, `rest`, or `http` (Ferry's own answers).
    public var protocolName: String
    /// `HTTP/1.1`, `HTTP/2` or `HTTP/1.0`: what the client spoke.
    public var httpVersion: String

    public init(route: String, method: String, protocolName: String, httpVersion: String) {
        self.route = route
        self.method = method
        self.protocolName = protocolName
        self.httpVersion = httpVersion
    }

    /// No series: what a record holds between requests.
    public static var none: CallSeriesKey { CallSeriesKey(route: "", method: "", protocolName: "", httpVersion: "") }

    public static func < (lhs: CallSeriesKey, rhs: CallSeriesKey) -> Bool {
        (lhs.route, lhs.method, lhs.protocolName, lhs.httpVersion) < (rhs.route, rhs.method, rhs.protocolName, rhs.httpVersion)
    }
}

/// The counts of one series: calls by gRPC code, a latency histogram, bytes.
public struct CallSeries: Sendable, Equatable {
    /// Upper bounds of the latency buckets, in seconds (the last bucket, +Inf, is implicit).
    public static let bucketBounds: [Double] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
    private static let bucketBoundsNanoseconds = bucketBounds.map { UInt64($0 * 1e9) }

    /// Calls by gRPC status code (0–16); index 17 counts answers without one (plain HTTP).
    public var codes = [UInt64](repeating: 0, count: 18)
    /// Non-cumulative bucket counts; the last one is +Inf.
    public var buckets = [UInt64](repeating: 0, count: bucketBounds.count + 1)
    public var durationNanoseconds: UInt64 = 0
    public var bytesIn: UInt64 = 0
    public var bytesOut: UInt64 = 0

    public init() {}

    public var count: UInt64 { buckets.reduce(0, +) }

    mutating func record(grpcCode: Int?, durationNanoseconds duration: UInt64, bytesIn: Int, bytesOut: Int) {
        codes[grpcCode.map { (0...16).contains($0) ? $0 : GRPCStatusCode.unknown.rawValue } ?? 17] += 1
        var bucket = 0
        while bucket < CallSeries.bucketBoundsNanoseconds.count && duration > CallSeries.bucketBoundsNanoseconds[bucket] {
            bucket += 1
        }
        buckets[bucket] += 1
        durationNanoseconds &+= duration
        self.bytesIn &+= UInt64(max(0, bytesIn))
        self.bytesOut &+= UInt64(max(0, bytesOut))
    }

    mutating func add(_ other: CallSeries) {
        for index in codes.indices { codes[index] += other.codes[index] }
        for index in buckets.indices { buckets[index] += other.buckets[index] }
        durationNanoseconds &+= other.durationNanoseconds
        bytesIn &+= other.bytesIn
        bytesOut &+= other.bytesOut
    }
}

/// One worker's downstream counts. Touched only from the worker's thread.
public final class DownstreamMetrics {
    /// Distinct series a worker keeps; calls beyond it are counted under method `other`, so
    /// that clients inventing method names cannot grow memory without bound.
    public static let maxSeries = 2_000

    public var connectionsActive = 0
    public var connectionsTotal: UInt64 = 0
    /// Requests being answered (an exchange in progress).
    public var requestsActive = 0
    private var series: [CallSeries] = []
    private var seriesIndex: [CallSeriesKey: Int] = [:]
    /// The series of the last call: traffic comes in runs of one method, and comparing keys
    /// costs far less than hashing three strings on every call.
    private var lastKey = CallSeriesKey.none
    private var lastIndex = -1
    private var limitHits: [String: UInt64] = [:]
    /// Calls a route refused before they went upstream, by route and reason. Bounded by the
    /// config: routes are configured and reasons are a fixed set.
    private var refusals: [RouteRefusalKey: UInt64] = [:]

    public init() {}

    public func recordCall(_ key: CallSeriesKey, grpcCode: Int?, durationNanoseconds: UInt64, bytesIn: Int, bytesOut: Int) {
        let index = lastIndex >= 0 && key == lastKey ? lastIndex : seriesIndex(for: key)
        series[index].record(grpcCode: grpcCode, durationNanoseconds: durationNanoseconds, bytesIn: bytesIn, bytesOut: bytesOut)
    }

    private func seriesIndex(for key: CallSeriesKey) -> Int {
        var key = key
        if seriesIndex[key] == nil && series.count >= DownstreamMetrics.maxSeries { key.method = "other" }
        let index =
            seriesIndex[key]
            ?? {
                series.append(CallSeries())
                seriesIndex[key] = series.count - 1
                return series.count - 1
            }()
        lastKey = key
        lastIndex = index
        return index
    }

    /// A limit stopped something (`limit` names it, as in the config).
    public func recordLimitHit(_ limit: String) {
        limitHits[limit, default: 0] += 1
    }

    /// A route refused a call (authentication or rate limit) for `reason`.
    public func recordRefusal(route: String, reason: String) {
        refusals[RouteRefusalKey(route: route, reason: reason), default: 0] += 1
    }

    public var snapshot: DownstreamMetricsSnapshot {
        DownstreamMetricsSnapshot(
            connectionsActive: connectionsActive, connectionsTotal: connectionsTotal,
            requestsActive: requestsActive,
            series: seriesIndex.mapValues { series[$0] }, limitHits: limitHits, refusals: refusals)
    }
}

/// The labels of `ferry_route_refusals_total`.
public struct RouteRefusalKey: Hashable, Sendable, Comparable {
    public let route: String
    public let reason: String

    public init(route: String, reason: String) {
        self.route = route
        self.reason = reason
    }

    public static func < (lhs: RouteRefusalKey, rhs: RouteRefusalKey) -> Bool {
        (lhs.route, lhs.reason) < (rhs.route, rhs.reason)
    }
}

/// A copy of workers' counts, merged on scrape.
public struct DownstreamMetricsSnapshot: Sendable, Equatable {
    public var connectionsActive = 0
    public var connectionsTotal: UInt64 = 0
    public var requestsActive = 0
    public var series: [CallSeriesKey: CallSeries] = [:]
    public var limitHits: [String: UInt64] = [:]
    public var refusals: [RouteRefusalKey: UInt64] = [:]

    public init(
        connectionsActive: Int = 0, connectionsTotal: UInt64 = 0, requestsActive: Int = 0,
        series: [CallSeriesKey: CallSeries] = [:], limitHits: [String: UInt64] = [:], refusals: [RouteRefusalKey: UInt64] = [:]
    ) {
        self.connectionsActive = connectionsActive
        self.connectionsTotal = connectionsTotal
        self.requestsActive = requestsActive
        self.series = series
        self.limitHits = limitHits
        self.refusals = refusals
    }

    public mutating func add(_ other: DownstreamMetricsSnapshot) {
        connectionsActive += other.connectionsActive
        connectionsTotal += other.connectionsTotal
        requestsActive += other.requestsActive
        for (key, value) in other.series { series[key, default: CallSeries()].add(value) }
        for (key, value) in other.limitHits { limitHits[key, default: 0] += value }
        for (key, value) in other.refusals { refusals[key, default: 0] += value }
    }
}
