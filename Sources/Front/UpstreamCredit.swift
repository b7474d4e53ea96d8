// Backpressure from the browser to the backend: DATA received upstream is released (HTTP/2
// WINDOW_UPDATE, RFC 9113 §6.9) only once the downstream socket has taken what was written from
// it, so a slow reader stalls the backend instead of filling Ferry's memory.
import Upstream

struct UpstreamCredit {
    /// Output queued downstream beyond this stops releasing the upstream window (the
    /// listener's `buffer_limit_bytes`).
    let downstreamHighWatermark: Int

    /// Bytes written downstream but not yet released upstream.
    private var owed = 0

    init(downstreamHighWatermark: Int) {
        self.downstreamHighWatermark = downstreamHighWatermark
    }

    /// After writing `count` received bytes downstream: release them now if the downstream
    /// keeps up, else owe them until it drains. True when this starts holding the backend back
    /// (the buffer limit was reached).
    mutating func received(_ count: Int, by call: UpstreamCall, downstreamQueued: Int) -> Bool {
        if downstreamQueued <= downstreamHighWatermark && owed == 0 {
            call.consume(count)
            return false
        }
        owed += count
        return count > 0 && owed == count
    }

    /// The downstream socket drained: release what it took.
    mutating func drained(_ call: UpstreamCall?) {
        guard owed > 0, let call else { return }
        call.consume(owed)
        owed = 0
    }
}
