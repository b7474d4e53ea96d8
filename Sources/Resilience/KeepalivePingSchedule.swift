// When to PING an upstream HTTP/2 connection (RFC 9113 §6.7) to find a backend that is dead or
// blackholed (TCP open, nothing answered), without tripping gRPC servers' ping abuse policy.
//
// grpc core and grpc-go servers count a PING as a strike when it comes less than 5 minutes
// (`min_recv_ping_interval_without_data`, `MinTime`) after the previous one with no HEADERS or
// DATA sent by the server in between, and answer the third strike with
// GOAWAY(ENHANCE_YOUR_CALM, "too_many_pings"), which fails every stream on the connection
// (gRFC A8). A quiet stream — a watch that has nothing to say, a slow unary call — must not
// die of Ferry's keepalive. So:
// - a connection is pinged only while it has streams open and the backend has sent no HEADERS
//   or DATA for `interval` (its own traffic already proves it alive);
// - within one such silence the gaps between PINGs grow: interval, 2 × interval, 4 × interval,
//   then 5 minutes and 10 seconds, so that a gRPC server counts two strikes at most;
// - a PING not acknowledged within `timeout` closes the connection (its calls fail UNAVAILABLE).
// With the defaults (10 s, 5 s) a backend that stops answering is found within 20 s.

public struct KeepalivePingSchedule: Sendable {
    public enum Action: Equatable, Sendable {
        case none
        case sendPing
        /// The last PING went unanswered for `timeout`.
        case closeUnanswered
    }

    public let intervalNanoseconds: UInt64
    public let timeoutNanoseconds: UInt64
    /// gRPC servers' default minimum time between PINGs without data (grpc core, grpc-go), plus
    /// a margin for timer slack.
    static let serverMinimumPingGapNanoseconds: UInt64 = 310_000_000_000

    /// The last tick at which the backend had sent HEADERS or DATA, or no stream was open.
    private var silentSince: UInt64
    private var pingsInSilence = 0
    private var lastPing: UInt64 = 0
    /// When the PING awaiting its ACK went out.
    private var outstandingSince: UInt64?

    public init(intervalNanoseconds: UInt64, timeoutNanoseconds: UInt64, now: UInt64) {
        self.intervalNanoseconds = intervalNanoseconds
        self.timeoutNanoseconds = timeoutNanoseconds
        silentSince = now
    }

    /// How often `tick` should run: often enough that a silence is noticed within half an
    /// interval and an unanswered PING within its timeout.
    public var tickNanoseconds: UInt64 { max(1_000_000, min(intervalNanoseconds / 2, timeoutNanoseconds)) }

    /// A tick of the connection's timer. `sawStreamFrames`: HEADERS or DATA arrived since the
    /// last tick; `streamsOpen`: the connection carries at least one stream.
    public mutating func tick(now: UInt64, streamsOpen: Bool, sawStreamFrames: Bool) -> Action {
        if sawStreamFrames {
            // The server sent HEADERS or DATA: gRPC servers forget their strikes.
            pingsInSilence = 0
        }
        if let sent = outstandingSince {
            return reached(sent + timeoutNanoseconds, now) ? .closeUnanswered : .none
        }
        guard streamsOpen, !sawStreamFrames else {
            silentSince = now
            return .none
        }
        guard reached(silentSince + intervalNanoseconds, now), reached(lastPing + gapBeforePing(pingsInSilence + 1), now) else {
            return .none
        }
        pingsInSilence += 1
        lastPing = now
        outstandingSince = now
        return .sendPing
    }

    /// The PING's ACK came.
    public mutating func acknowledged() {
        outstandingSince = nil
    }

    /// Whether `deadline` has come at the tick `now`. Ticks are periodic timer events, which
    /// may fire a little early against the clock: a deadline within half a tick counts as
    /// reached, or it would wait a whole tick more.
    private func reached(_ deadline: UInt64, _ now: UInt64) -> Bool {
        now + tickNanoseconds / 2 >= deadline
    }

    /// The least time between the (n-1)th and the nth PING of one silence.
    private func gapBeforePing(_ n: Int) -> UInt64 {
        switch n {
        case 1: 0
        case 2: intervalNanoseconds * 2
        case 3: intervalNanoseconds * 4
        default: max(intervalNanoseconds * 4, Self.serverMinimumPingGapNanoseconds)
        }
    }
}
