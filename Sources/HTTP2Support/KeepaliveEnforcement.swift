// How often a client may PING (RFC 9113 §6.7) before Ferry takes it for abuse, as gRPC servers
// enforce keepalive (grpc core's `min_recv_ping_interval_without_data` and `max_ping_strikes`,
// grpc-go's `EnforcementPolicy`): a PING less than `minimumInterval` after the previous one, with
// no HEADERS or DATA sent by Ferry in between, is a strike; the strike after `maxStrikes` ends
// the connection with GOAWAY(ENHANCE_YOUR_CALM, "too_many_pings"), which gRPC clients read as
// "ping less often" (gRFC A8). Each PING costs Ferry an ACK; without this a client could keep
// a connection busy with nothing else.

public struct KeepaliveEnforcement: Sendable {
    public let minimumIntervalNanoseconds: UInt64
    public let maxStrikes: Int
    private var lastPing: UInt64?
    private var strikes = 0

    /// gRPC's defaults: 5 minutes, 2 strikes.
    public init(minimumIntervalNanoseconds: UInt64 = 300_000_000_000, maxStrikes: Int = 2) {
        self.minimumIntervalNanoseconds = minimumIntervalNanoseconds
        self.maxStrikes = maxStrikes
    }

    /// A PING arrived at `now`: true when it is one too many.
    public mutating func pingReceived(now: UInt64) -> Bool {
        defer { lastPing = now }
        guard let lastPing, now - lastPing < minimumIntervalNanoseconds else { return false }
        strikes += 1
        return strikes > maxStrikes
    }

    /// Ferry sent HEADERS or DATA: the connection is in use, and PINGs that follow are fair.
    public mutating func responseSent() {
        strikes = 0
        lastPing = nil
    }
}
