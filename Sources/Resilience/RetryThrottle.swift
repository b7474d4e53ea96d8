// Retry throttling per cluster (gRFC A6 "Throttling Retry Attempts and Hedged RPCs"): a token
// bucket that starts full at maxTokens; every failed call takes a token, every successful one
// gives back tokenRatio; while the bucket holds maxTokens/2 or less, nothing is retried. It
// bounds amplification: in a sustained outage retries stop once failures outweigh successes.

/// A6's `retryThrottling`: `maxTokens` (1 to 1000) and `tokenRatio` (> 0, three decimals).
public struct RetryThrottleSettings: Sendable, Equatable {
    public var maxTokens: Int
    public var tokenRatio: Double

    public init(maxTokens: Int, tokenRatio: Double) {
        self.maxTokens = maxTokens
        self.tokenRatio = tokenRatio
    }
}

public struct RetryThrottle: Sendable, Equatable {
    /// Tokens in thousandths: A6 allows three decimal places in tokenRatio, so integers are exact.
    private let maxMilliTokens: Int
    private let ratioMilliTokens: Int
    public private(set) var milliTokens: Int

    /// `tokenRatio` is rounded to three decimal places, as A6 specifies.
    public init(_ settings: RetryThrottleSettings) {
        maxMilliTokens = settings.maxTokens * 1_000
        ratioMilliTokens = Int((settings.tokenRatio * 1_000).rounded())
        milliTokens = maxMilliTokens
    }

    /// Whether a retry may be sent now.
    public var allowsRetry: Bool {
        milliTokens > maxMilliTokens / 2
    }

    public mutating func recordFailure() {
        milliTokens = max(0, milliTokens - 1_000)
    }

    public mutating func recordSuccess() {
        milliTokens = min(maxMilliTokens, milliTokens + ratioMilliTokens)
    }
}
