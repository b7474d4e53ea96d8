// How long an endpoint that refused a connection waits before the next try: gRPC's connection
// backoff (grpc/doc/connection-backoff.md) — 1 s, then ×1.6 per failure up to 120 s, each wait
// jittered by ±20 % so that many clients do not retry in step. Pure: the time and the random
// source are parameters, so tests assert exact waits.

public struct ConnectBackoff: Sendable, Equatable {
    public static let initialNanoseconds = 1_000_000_000.0
    public static let multiplier = 1.6
    public static let maximumNanoseconds = 120_000_000_000.0
    public static let jitter = 0.2

    /// Connects that failed in a row.
    public private(set) var failures = 0
    /// No connect before this (CLOCK_MONOTONIC nanoseconds).
    public private(set) var untilNanoseconds: UInt64 = 0

    public init() {}

    /// The wait before connect `failures + 1` without jitter: min(1 s × 1.6^(failures−1), 120 s).
    public static func ceiling(afterFailures failures: Int) -> Double {
        var delay = initialNanoseconds
        for _ in 1..<max(1, failures) { delay = min(delay * multiplier, maximumNanoseconds) }
        return delay
    }

    /// A connect failed at `now`: the next may start after the returned wait.
    @discardableResult
    public mutating func connectFailed(now: UInt64, using generator: inout some RandomNumberGenerator) -> UInt64 {
        failures += 1
        let delay = UInt64(
            ConnectBackoff.ceiling(afterFailures: failures)
                * Double.random(in: (1 - ConnectBackoff.jitter)...(1 + ConnectBackoff.jitter), using: &generator))
        untilNanoseconds = now + delay
        return delay
    }

    /// Whether a connect may start at `now`.
    public func allowsConnect(now: UInt64) -> Bool {
        untilNanoseconds <= now
    }
}
