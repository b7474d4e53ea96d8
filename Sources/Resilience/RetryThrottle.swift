// Retry throttling per cluster (gRFC A6 "Throttling Retry Attempts and Hedged RPCs"): a token
// bucket that starts full at maxTokens; every failed call takes a token, every successful one
// gives back tokenRatio; while the bucket holds maxTokens/2 or less, nothing is retried. It
// bounds amplification: in a sustained outage retries stop once failures outweigh successes.
// One bucket serves a cluster's pools on every worker (atomic), as A6 keeps one per server name.
import Synchronization

/// A6's `retryThrottling`: `maxTokens` (1 to 1000) and `tokenRatio` (> 0, three decimals).
public struct RetryThrottleSettings: Sendable, Equatable {
    public var maxTokens: Int
    public var tokenRatio: Double

    public init(maxTokens: Int, tokenRatio: Double) {
        self.maxTokens = maxTokens
        self.tokenRatio = tokenRatio
    }
}

public final class RetryThrottle: Sendable {
    /// Tokens in thousandths: A6 allows three decimal places in tokenRatio, so integers are exact.
    private let maxMilliTokens: Int
    private let ratioMilliTokens: Int
    private let tokens: Atomic<Int>

    /// `tokenRatio` is rounded to three decimal places, as A6 specifies.
    public init(_ settings: RetryThrottleSettings) {
        maxMilliTokens = settings.maxTokens * 1_000
        ratioMilliTokens = Int((settings.tokenRatio * 1_000).rounded())
        tokens = Atomic(maxMilliTokens)
    }

    public var milliTokens: Int {
        tokens.load(ordering: .relaxed)
    }

    /// Whether a retry may be sent now.
    public var allowsRetry: Bool {
        milliTokens > maxMilliTokens / 2
    }

    public func recordFailure() {
        update { max(0, $0 - 1_000) }
    }

    public func recordSuccess() {
        update { min(maxMilliTokens, $0 + ratioMilliTokens) }
    }

    private func update(_ next: (Int) -> Int) {
        var current = tokens.load(ordering: .relaxed)
        while true {
            let (exchanged, original) = tokens.compareExchange(expected: current, desired: next(current), ordering: .relaxed)
            if exchanged { return }
            current = original
        }
    }
}
