// The bytes of streamed request bodies that one worker keeps for replay (gRFC A6), over all its
// calls: a call whose replay buffer would take the total past the limit commits to its current
// attempt instead, as gRPC's channel-wide `retryBufferSize` (16 MiB) bounds its per-RPC buffers.
// Owned by the worker's thread, like the pools that share it.

public final class RetryBufferBudget {
    /// A reload may change it; what is in use stays until its calls end.
    public var limitBytes: Int
    public private(set) var usedBytes = 0

    public init(limitBytes: Int) {
        self.limitBytes = limitBytes
    }

    /// Takes `bytes` from the budget; false (and nothing taken) when they do not fit.
    func reserve(_ bytes: Int) -> Bool {
        guard usedBytes + bytes <= limitBytes else { return false }
        usedBytes += bytes
        return true
    }

    func release(_ bytes: Int) {
        usedBytes -= bytes
    }
}
