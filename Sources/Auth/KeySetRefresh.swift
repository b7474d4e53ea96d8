// When an issuer's remote JWK set (`jwks_uri`) is fetched: at start; every `refresh` after a
// success; after a failure, with gRPC's connection backoff (capped at `refresh`); and early when
// a token names a key the set lacks, since that is how a rotation shows (RFC 7517 §5 lets an
// issuer add keys at any time) — but at most once per `minimumRefetchNanoseconds` after the last
// fetch began, so that tokens with made-up `kid`s cannot make the gateway hammer the issuer.
// Pure: the I/O layer reports events with the time and performs the returned action.
import Resilience

public struct KeySetRefresh: Sendable {
    public enum Action: Equatable, Sendable {
        case fetch
        /// Arm the timer: the next fetch is due then (CLOCK_MONOTONIC nanoseconds).
        case wait(untilNanoseconds: UInt64)
        case none
    }

    private enum State: Equatable {
        case fetching
        case waiting(untilNanoseconds: UInt64)
    }

    public static let minimumRefetchNanoseconds: UInt64 = 5_000_000_000

    public let refreshNanoseconds: UInt64
    private var state = State.waiting(untilNanoseconds: 0)
    private var lastFetchStart: UInt64?
    private var backoff = ConnectBackoff()

    public init(refreshNanoseconds: UInt64) {
        self.refreshNanoseconds = refreshNanoseconds
    }

    /// The first fetch, at start.
    public mutating func start(now: UInt64) -> Action {
        beginFetch(now: now)
    }

    /// The set arrived and was installed.
    public mutating func fetchSucceeded(now: UInt64) -> Action {
        backoff = ConnectBackoff()
        return waitUntil(now + refreshNanoseconds)
    }

    /// The fetch failed (unreachable, an error status, no usable key): try again after a backoff.
    public mutating func fetchFailed(now: UInt64, using generator: inout some RandomNumberGenerator) -> Action {
        let delay = min(backoff.connectFailed(now: now, using: &generator), refreshNanoseconds)
        return waitUntil(now + delay)
    }

    /// A token named a key the set does not have: fetch as soon as the rate allows, unless a
    /// fetch is under way or due sooner anyway.
    public mutating func keyMissing(now: UInt64) -> Action {
        guard case .waiting(let until) = state else { return .none }
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
