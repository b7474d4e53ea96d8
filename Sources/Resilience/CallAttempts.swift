// The attempts of one upstream call, as gRFC A6 orders them: where the call is (waiting for a
// stream, on one, backing off before a retry, finished), what each part an attempt brings back
// means (to the client now, held while a failure can still be retried), and what the end of an
// attempt leads to (the client's answer, a retry after a backoff, or a transparent retry of an
// attempt the backend never processed). One owner for the call's retry state: the pool and the
// HTTP/2 connection report events and carry out the verdicts; nothing else changes it. Pure:
// the random source is a parameter, so tests replay exact decisions.
import FerryCore

/// Noncopyable: its owner (the call) asks it in place; a copyable one was copied out of the
/// call for each question (issue 19).
public struct CallAttempts: Sendable, ~Copyable {
    public enum Phase: Sendable, Equatable {
        /// Not on a stream: before the first dispatch, or about to be dispatched again.
        case waiting
        /// In the pool's queue for a stream.
        case queued
        /// An attempt's stream is open.
        case active
        /// A retry's backoff is running.
        case backingOff
        case finished
    }

    /// What to do with a part of the response (head or DATA) an attempt received.
    public enum PartVerdict: Sendable, Equatable {
        /// To the client now; the first part commits the call to this attempt.
        case deliver
        /// Kept until the attempt's end says whether it is retried (an idempotent unary call).
        case hold
        /// Kept too, but the held parts outgrew the buffer: all of them go to the client now.
        case releaseHeld
    }

    /// What the end of an attempt (trailers, or a failure without them) leads to.
    public enum EndVerdict: Sendable, Equatable {
        /// The held parts, then the end, go to the client: the call is over. `notRetried`: why
        /// no A6 retry followed, when one was considered (for logs and counts).
        case deliver(notRetried: RetryState.Decision?)
        /// Attempt n+1 after the backoff (the phase is `backingOff`).
        case retry(afterNanoseconds: UInt64)
    }

    /// Restarts of unprocessed attempts per call before giving up (a loop guard).
    public static let transparentRetryLimit = 5

    public private(set) var phase = Phase.waiting
    public private(set) var retry: RetryState?
    public private(set) var transparentRetries = 0
    /// Something of the response reached the client: no retry any more.
    public private(set) var responseStarted = false
    /// The client gave up: nothing is retried, nothing delivered.
    public private(set) var cancelled = false
    /// This attempt's response headers came (whether or not they reached the client).
    public private(set) var receivedHead = false
    /// Replies are held until their trailers (`retriesFailuresInTrailers`: an idempotent
    /// unary method), up to the retry policy's buffer.
    private let holdsReplies: Bool
    private var heldBytes = 0

    public init(retryPolicy: RetryPolicy?, holdsReplies: Bool, requestBytes: Int) {
        retry = retryPolicy.map { RetryState(policy: $0) }
        retry?.requestBuffered(bytes: requestBytes)
        self.holdsReplies = holdsReplies
    }

    /// Attempts made, the first included (transparent retries not counted).
    public var attempts: Int { retry?.attempts ?? 1 }

    // MARK: Where the call is

    public mutating func queued() {
        phase = .queued
    }

    /// A stream was opened for the next attempt.
    public mutating func streamOpened() {
        phase = .active
        receivedHead = false
        heldBytes = 0
    }

    /// The attempt's stream is gone from under it (its endpoint left the set) before it ran.
    public mutating func requeued() {
        phase = .waiting
    }

    /// The request can no longer be replayed (it outgrew a buffer): this attempt is the last.
    public mutating func replayDropped() {
        retry?.commit()
    }

    /// A retry that the verdict allowed could not start (no `max_retries` token): the end is
    /// delivered after all.
    public mutating func retryRefused() {
        phase = .active
    }

    // MARK: Parts of the current attempt

    public mutating func headReceived() -> PartVerdict {
        receivedHead = true
        return holding ? .hold : .deliver
    }

    public mutating func dataReceived(count: Int) -> PartVerdict {
        guard holding else { return .deliver }
        heldBytes += count
        return heldBytes > (retry?.policy.maxBufferedRequestBytes ?? 0) ? .releaseHeld : .hold
    }

    private var holding: Bool {
        holdsReplies && retry?.phase == .uncommitted && !responseStarted && !cancelled
    }

    /// A head or DATA went to the client: the call is committed to this attempt.
    public mutating func partDelivered() {
        responseStarted = true
        retry?.commit()
    }

    /// The attempt failed before the backend processed it (REFUSED_STREAM, above a GOAWAY's
    /// last stream, no connection). True when it goes again at once, not counted as an attempt
    /// (A6 "transparent retry"): `mayGoAgain` says the pool has somewhere to send it,
    /// `canReplay` that the request can be sent again. False: `attemptEnded` decides.
    public mutating func retryTransparently(mayGoAgain: Bool, canReplay: Bool) -> Bool {
        guard !cancelled, !responseStarted, mayGoAgain, canReplay,
            transparentRetries < CallAttempts.transparentRetryLimit
        else { return false }
        transparentRetries += 1
        phase = .waiting
        return true
    }

    /// Whether an attempt ending with `code` could be retried at all: when not, `attemptEnded`
    /// delivers it, and its inputs (pushback, deadline, throttle) need not be gathered.
    public func considersRetry(after code: GRPCStatusCode) -> Bool {
        !cancelled && !responseStarted && code != .ok && retry != nil
    }

    /// The current attempt ended with `code` (trailers, or a failure: a reset, a lost
    /// connection, a per-try timeout). `deadlineLeft`: the time the call has left, if it has a
    /// deadline; `throttleAllows`: the cluster's retry throttle (A6 "retryThrottling").
    public mutating func attemptEnded(
        code: GRPCStatusCode, pushback: RetryPushback?, throttleAllows: Bool,
        deadlineLeftNanoseconds: UInt64?,
        using generator: inout some RandomNumberGenerator
    ) -> EndVerdict {
        guard considersRetry(after: code), var state = retry else { return .deliver(notRetried: nil) }
        let decision = state.attemptFailed(with: code, pushback: pushback, throttleAllows: throttleAllows, using: &generator)
        retry = state
        guard case .retry(let delay) = decision else { return .deliver(notRetried: decision) }
        if let left = deadlineLeftNanoseconds, delay >= left { return .deliver(notRetried: .giveUp("the deadline comes first")) }
        phase = .backingOff
        return .retry(afterNanoseconds: delay)
    }

    // MARK: The end

    /// The client gave up. True when a stream is open and must be reset.
    public mutating func cancel() -> Bool {
        cancelled = true
        if phase == .active { return true }
        phase = .finished
        return false
    }

    /// The answer (the end of the response) went to the client, or the call ended without one.
    public mutating func finished() {
        phase = .finished
    }

    /// The per-try timeout fired: true when the attempt still waits for its headers (it is then
    /// reset and ends as UNAVAILABLE).
    public func perTryTimeoutApplies() -> Bool {
        phase == .active && !receivedHead
    }
}
