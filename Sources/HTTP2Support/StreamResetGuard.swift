// The "Rapid Reset" attack (CVE-2023-44487): a client opens streams and resets them at once,
// costing Ferry a request's work each (and the backend a call) while never counting against
// SETTINGS_MAX_CONCURRENT_STREAMS. Streams the client resets before their response ended are
// counted against a token bucket per connection; past it, the connection ends with
// GOAWAY(ENHANCE_YOUR_CALM). The bucket leaves room for clients that cancel calls in bursts (a
// page navigated away from, a fan-out cancelled), not for thousands a second.

public struct StreamResetGuard: Sendable {
    /// Resets allowed at once.
    public let burst: Double
    /// Resets allowed per second, sustained.
    public let perSecond: Double
    private var tokens: Double
    private var updated: UInt64

    public init(burst: Int = 200, perSecond: Int = 100, now: UInt64) {
        self.burst = Double(burst)
        self.perSecond = Double(perSecond)
        tokens = Double(burst)
        updated = now
    }

    /// The client reset a stream whose response had not ended, at `now`: true when that is
    /// past the limit.
    public mutating func prematureReset(now: UInt64) -> Bool {
        if now > updated {
            tokens = min(burst, tokens + Double(now - updated) / 1e9 * perSecond)
            updated = now
        }
        guard tokens >= 1 else { return true }
        tokens -= 1
        return false
    }
}
