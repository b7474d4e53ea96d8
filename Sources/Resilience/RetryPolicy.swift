// Client retries as gRFC A6 defines them (grpc/proposal A6-client-retries.md): which statuses
// are retried, how many attempts, and the delay before each retry — exponential backoff with
// full jitter. Pure: the random source is passed in, so tests replay exact delays.
import FerryCore

/// A6's `retryPolicy`, configured per route or per method.
public struct RetryPolicy: Sendable, Equatable {
    /// A6 caps attempts at 5 whatever the config says ("maxAttempts … values greater than 5
    /// are treated as 5").
    public static let attemptLimit = 5

    /// Attempts in all, the original one included: 2 to 5.
    public var maxAttempts: Int
    public var initialBackoffNanoseconds: UInt64
    public var maxBackoffNanoseconds: UInt64
    public var backoffMultiplier: Double
    public var retryableStatusCodes: Set<GRPCStatusCode>
    /// A call stays retryable only while its request fits in this much buffer.
    public var maxBufferedRequestBytes: Int

    public init(
        maxAttempts: Int, initialBackoffNanoseconds: UInt64, maxBackoffNanoseconds: UInt64,
        backoffMultiplier: Double, retryableStatusCodes: Set<GRPCStatusCode>,
        maxBufferedRequestBytes: Int = 256 * 1024
    ) {
        self.maxAttempts = min(maxAttempts, RetryPolicy.attemptLimit)
        self.initialBackoffNanoseconds = initialBackoffNanoseconds
        self.maxBackoffNanoseconds = maxBackoffNanoseconds
        self.backoffMultiplier = backoffMultiplier
        self.retryableStatusCodes = retryableStatusCodes
        self.maxBufferedRequestBytes = maxBufferedRequestBytes
    }

    /// The ceiling of the delay before retry `retry` (1 for the first retry):
    /// min(initialBackoff · multiplier^(retry−1), maxBackoff).
    public func backoffCeiling(beforeRetry retry: Int) -> UInt64 {
        var ceiling = Double(initialBackoffNanoseconds)
        for _ in 1..<max(1, retry) {
            ceiling *= backoffMultiplier
            if ceiling >= Double(maxBackoffNanoseconds) { return maxBackoffNanoseconds }
        }
        return min(UInt64(ceiling), maxBackoffNanoseconds)
    }

    /// The delay before retry `retry`: uniformly random in [0, ceiling] (A6: "random(0,
    /// min(initialBackoff*backoffMultiplier**(n-1), maxBackoff))"), full jitter.
    public func backoff(beforeRetry retry: Int, using generator: inout some RandomNumberGenerator) -> UInt64 {
        UInt64.random(in: 0...backoffCeiling(beforeRetry: retry), using: &generator)
    }
}

/// What a backend said about retrying, in `grpc-retry-pushback-ms` (A6 "Pushback").
public enum RetryPushback: Sendable, Equatable {
    /// Retry after this delay, instead of the backoff.
    case retryAfter(nanoseconds: UInt64)
    /// A negative or malformed value: do not retry.
    case doNotRetry

    /// The header's value; A6 treats anything but a non-negative integer as "do not retry".
    public init(headerValue: String) {
        guard let milliseconds = UInt64(headerValue), milliseconds <= UInt64.max / 1_000_000 else {
            self = .doNotRetry
            return
        }
        self = .retryAfter(nanoseconds: milliseconds * 1_000_000)
    }
}

/// The retry bookkeeping of one call: an explicit state machine, one transition per event.
public struct RetryState: Sendable, Equatable {
    public enum Phase: Sendable, Equatable {
        /// Attempts may still be retried.
        case uncommitted
        /// Response headers reached the client, or the request outgrew its buffer: the call
        /// stands or falls with the current attempt.
        case committed
    }

    public let policy: RetryPolicy
    public private(set) var phase = Phase.uncommitted
    /// Attempts started so far, the original one included; transparent retries do not count.
    public private(set) var attempts = 1
    /// The retry whose backoff comes next (1 for the first); pushback starts it over.
    private var backoffStep = 1

    public init(policy: RetryPolicy) {
        self.policy = policy
    }

    /// The call's response has started downstream, or its buffered request passed the limit.
    public mutating func commit() {
        phase = .committed
    }

    /// The request buffered so far: past the limit, the call can no longer be replayed.
    public mutating func requestBuffered(bytes: Int) {
        if bytes > policy.maxBufferedRequestBytes { phase = .committed }
    }

    public enum Decision: Sendable, Equatable {
        case retry(afterNanoseconds: UInt64)
        /// Why not: for logs and the final status's message.
        case giveUp(String)
        /// The cluster's retry throttle (A6 "retryThrottling") has too few tokens.
        case throttled
    }

    /// The current attempt ended with `code` (a connect failure or reset counts as
    /// UNAVAILABLE). `throttleAllows` is the cluster's token bucket's answer.
    public mutating func attemptFailed(
        with code: GRPCStatusCode, pushback: RetryPushback?, throttleAllows: Bool,
        using generator: inout some RandomNumberGenerator
    ) -> Decision {
        guard policy.retryableStatusCodes.contains(code) else { return .giveUp("\(code.name) is not retryable") }
        guard phase == .uncommitted else { return .giveUp("the call was committed") }
        guard attempts < policy.maxAttempts else { return .giveUp("\(attempts) attempts made (max_attempts \(policy.maxAttempts))") }
        guard throttleAllows else { return .throttled }
        let delay: UInt64
        switch pushback {
        case .doNotRetry?:
            return .giveUp("the server's pushback says not to retry")
        case .retryAfter(let nanoseconds)?:
            delay = nanoseconds
            backoffStep = 1
        case nil:
            delay = policy.backoff(beforeRetry: backoffStep, using: &generator)
            backoffStep += 1
        }
        attempts += 1
        return .retry(afterNanoseconds: delay)
    }

    /// The value of `grpc-previous-rpc-attempts` on the current attempt (A6), nil on the first.
    public var previousAttemptsHeader: String? {
        attempts > 1 ? String(attempts - 1) : nil
    }
}
