// When something fetched from elsewhere is fetched again: a JWK set from `jwks_uri`, descriptors
// from a backend's server reflection. At start; every `refresh` after a success (never, without
// one); after a failure, with gRPC's connection backoff (capped at `refresh`); and early when the
// user of the copy finds it stale (a token names a key the set lacks, which is how a rotation
// shows: RFC 7517 §5 lets an issuer add keys at any time) — but at most once per
// `minimumRefetchNanoseconds` after the last fetch began, so that requests with made-up names
// cannot make the gateway hammer the source.
// Pure: the I/O layer reports events with the time and performs the returned action.

public struct RefreshSchedule: Sendable {
    public enum Action: Equatable, Sendable {
        case fetch
        /// Arm the timer: the next fetch is due then (CLOCK_MONOTONIC nanoseconds).
        case wait(untilNanoseconds: UInt64)
        case none
    }

    private enum State: Equatable {
        case fetching
        case waiting(untilNanoseconds: UInt64)
        /// Fetched, and no refresh interval: nothing more until a new schedule.
        case done
    }

    public static let minimumRefetchNanoseconds: UInt64 = 5_000_000_000

    /// nil: a success is final.
    public let refreshNanoseconds: UInt64?
    private var state = State.waiting(untilNanoseconds: 0)
    private var lastFetchStart: UInt64?
    private var backoff = ConnectBackoff()

    public init(refreshNanoseconds: UInt64?) {
        self.refreshNanoseconds = refreshNanoseconds
    }

    /// The first fetch, at start.
    public mutating func start(now: UInt64) -> Action {
        beginFetch(now: now)
    }

    /// The fetched copy arrived and was installed.
    public mutating func fetchSucceeded(now: UInt64) -> Action {
        backoff = ConnectBackoff()
        guard let refreshNanoseconds else {
            state = .done
            return .none
        }
        return waitUntil(now + refreshNanoseconds)
    }

    /// The fetch failed (unreachable, an error status, nothing usable): try again after a backoff.
    public mutating func fetchFailed(now: UInt64, using generator: inout some RandomNumberGenerator) -> Action {
        let delay = min(backoff.connectFailed(now: now, using: &generator), refreshNanoseconds ?? .max)
        return waitUntil(now + delay)
    }

    /// The copy lacks something asked for: fetch as soon as the rate allows, unless a fetch is
    /// under way or due sooner anyway.
    public mutating func staleCopyFound(now: UInt64) -> Action {
        let until: UInt64
        switch state {
        case .fetching: return .none
        case .waiting(let due): until = due
        case .done: until = .max
        }
        let earliest = (lastFetchStart ?? 0) + Self.minimumRefetchNanoseconds
        if earliest <= now { return beginFetch(now: now) }
        guard earliest < until else { return .none }
        return waitUntil(earliest)
    }

    /// The timer went off.
    public mutating func timerFired(now: UInt64) -> Action {
        guard case .waiting(let until) = state else { return .none }
        return until <= now ? beginFetch(now: now) : .wait(untilNanoseconds: until)
    }

    private mutating func beginFetch(now: UInt64) -> Action {
        state = .fetching
        lastFetchStart = now
        return .fetch
    }

    private mutating func waitUntil(_ until: UInt64) -> Action {
        state = .waiting(untilNanoseconds: until)
        return .wait(untilNanoseconds: until)
    }
}
