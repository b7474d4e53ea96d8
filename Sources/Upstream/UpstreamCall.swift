// One call to a backend: the exchange's handle on its HTTP/2 streams. It exists before it has a
// stream (while queued in the pool), between attempts (waiting out a retry's backoff) and after
// (to report the end), so an exchange can wait, attach, and be cancelled the same way at every
// point (the nghttpx exchange/connection split). Retries happen here and in the pool, out of
// the exchange's sight: it sees one head, data, and one end, as if there had been one attempt.
//
// The attempts' lifecycle has one owner, `CallAttempts` (a pure state machine): the pool and
// the HTTP/2 connection report events through this class's methods, and it carries out the
// verdicts (deliver, hold, retry) with what needs a loop — timers, the request's bytes, the
// parts held for a retry. No other type writes its state.
import FerryCore
import HTTP2Support
import Loop
import Resilience

/// What the backend sends back, one part at a time. `.data` bytes are valid only during the
/// delegate call. Exactly one of `.trailers` or `.failed` ends every call.
public enum UpstreamResponsePart {
    /// Response headers, with `:status`.
    case head(HeaderFields)
    /// Raw gRPC frame bytes, split wherever HTTP/2 DATA frames split them.
    case data(UnsafeRawBufferPointer)
    /// Trailers; when no `.head` came before, this is a trailers-only response.
    case trailers(HeaderFields)
    /// The call ended without trailers: connection loss, reset, refusal, deadline or limits.
    case failed(GRPCStatus)
}

public protocol UpstreamCallDelegate: AnyObject {
    func upstreamCall(_ call: UpstreamCall, received part: UpstreamResponsePart)
    /// A streamed request body (`UpstreamRequest.streamsBody`): `count` more of its bytes have
    /// left for the backend, so the client may send that much more (flow control end to end).
    /// A retry sends the replayed bytes again without reporting them twice.
    func upstreamCall(_ call: UpstreamCall, sentRequestBytes count: Int)
}

extension UpstreamCallDelegate {
    public func upstreamCall(_ call: UpstreamCall, sentRequestBytes count: Int) {}
}

public final class UpstreamCall {
    /// The current attempt's stream.
    struct Stream {
        let connection: HTTP2ClientConnection
        let id: Int32
    }

    /// A part held back while the response may still be retried.
    private enum HeldPart {
        case head(HeaderFields)
        case data([UInt8])
    }

    public let request: UpstreamRequest
    /// Not retained and not weak (weak references put the delegate's every retain on a slow
    /// path): the delegate owns the call and calls `cancel()`, which clears this, before it
    /// can go away with the call unfinished; a finished call delivers nothing more.
    public unowned(unsafe) var delegate: UpstreamCallDelegate?
    /// The attempts' lifecycle and retry state: the one owner.
    private(set) var lifecycle: CallAttempts
    /// The current attempt's stream, while it is open.
    private(set) var stream: Stream?
    /// The pool that runs the call, from `begin` to the end; it outlives its calls' attempts.
    private(set) unowned(unsafe) var pool: UpstreamPool?
    /// The endpoint of the latest attempt (for the access log).
    public private(set) var endpoint: SocketAddress?
    /// The call failed on a cluster limit (circuit breaker, pending queue): overload, not an
    /// outage; the answer carries `x-ferry-overloaded: true`.
    public private(set) var overloaded = false
    /// Endpoints this call's attempts went to, so that a retry can go elsewhere.
    private(set) var triedEndpoints = TriedEndpoints()
    /// CLOCK_MONOTONIC deadline, from the request's timeout.
    private var deadline: UInt64?
    private var deadlineTimer: LoopTimer?
    private var retryTimer: LoopTimer?
    private var attemptTimer: LoopTimer?
    /// Whether the call holds one of the breaker's `max_retries` tokens.
    private var holdsRetryToken = false

    // The request body: what this attempt has not sent, and what a new attempt sends again.
    private var unsentBody: OutgoingBytes
    /// The whole body so far (gRFC A6 replay); nil once it outgrew the retry policy's buffer
    /// or the worker's budget, which commits the call to its current attempt.
    private var replayBody: [UInt8]?
    /// Bytes of a streamed body's replay taken from the worker's RetryBufferBudget.
    private var budgetedReplayBytes = 0
    /// No more body follows (always, unless the request streams its body).
    private var bodyEnded: Bool
    /// nghttp2 asked for body bytes when there were none: more body, or its end, resumes DATA.
    private var bodyDeferred = false
    /// Body bytes this attempt has sent, and the most any attempt has (reported once).
    private var attemptSentBytes = 0
    private var reportedSentBytes = 0

    // The response of the current attempt.
    /// DATA bytes received but not yet released with `consume` (flow control).
    private(set) var unconsumedBytes = 0
    private var held: [HeldPart] = []
    /// Bytes released to the backend while held, which the delegate will `consume` again.
    private var consumedAhead = 0

    /// `request` is consumed: it moves into the call (its copy would retain each of its buffers).
    public init(request: consuming UpstreamRequest, delegate: UpstreamCallDelegate) {
        self.delegate = delegate
        unsentBody = OutgoingBytes(request.body)
        replayBody = request.body
        bodyEnded = !request.streamsBody
        lifecycle = CallAttempts(
            retryPolicy: request.retryPolicy, holdsReplies: request.retriesFailuresInTrailers,
            requestBytes: request.body.count)
        self.request = request
    }

    public var isFinished: Bool { lifecycle.phase == .finished }

    /// Attempts made, the first included (transparent retries not counted).
    public var attempts: Int { lifecycle.attempts }

    /// Whether a new attempt can send the whole body again.
    var canReplay: Bool { replayBody != nil }

    /// What is left of the deadline at `now`, as `grpc-timeout` (A6: each attempt sends the
    /// remaining time, not the original timeout).
    /// `now` is read only for a call with a deadline (a clock read costs about 20 ns).
    func remainingTimeout(now: @autoclosure () -> UInt64) -> GRPCTimeout? {
        guard let deadline else { return request.timeout }
        let now = now()
        return GRPCTimeout(nanoseconds: Int64(deadline > now ? deadline - now : 0))
    }

    // MARK: The exchange's side

    /// More of a streamed request body: it goes out as flow control allows, and is kept for a
    /// retry while the whole body fits the retry policy's buffer and the worker's budget
    /// (gRFC A6: past them, the call is committed).
    public func sendBody(_ bytes: UnsafeRawBufferPointer) {
        guard !bodyEnded, !isFinished, bytes.count > 0 else { return }
        unsentBody.append(bytes)
        if replayBody != nil {
            if let retry = lifecycle.retry, replayBody!.count + bytes.count <= retry.policy.maxBufferedRequestBytes,
                pool?.retryBuffer.reserve(bytes.count) == true
            {
                replayBody!.append(contentsOf: bytes)
                budgetedReplayBytes += bytes.count
            } else {
                replayBody = nil
                lifecycle.replayDropped()
                releaseReplayBudget()
            }
        }
        resumeBody()
    }

    /// The streamed request body is complete: END_STREAM follows its last bytes.
    public func endBody() {
        guard !bodyEnded else { return }
        bodyEnded = true
        resumeBody()
    }

    private func resumeBody() {
        guard bodyDeferred, let stream else { return }
        bodyDeferred = false
        stream.connection.resumeBody(streamID: stream.id)
    }

    /// Releases `bytes` of received DATA: the backend may send that much more. Call it when
    /// the bytes have left for the downstream, not when they arrived (backpressure).
    public func consume(_ bytes: Int) {
        var bytes = bytes
        if consumedAhead > 0 {
            let already = min(bytes, consumedAhead)
            consumedAhead -= already
            bytes -= already
        }
        guard bytes > 0 else { return }
        unconsumedBytes -= bytes
        stream?.connection.consume(bytes, streamID: stream!.id)
    }

    /// Ends the call from the downstream side: RST_STREAM(CANCEL) if it has a stream, removal
    /// from the queue if it waits. No part is delivered after this.
    public func cancel() {
        delegate = nil
        guard !isFinished else { return }
        if lifecycle.cancel() {
            stream.map { $0.connection.cancel(streamID: $0.id) }
        } else {
            finish()
        }
    }

    // MARK: The pool's side

    /// The pool takes the call: its deadline runs from now.
    func begin(in pool: UpstreamPool, loop: EventLoop) {
        self.pool = pool
        guard let timeout = request.timeout else { return }
        deadline = EventLoop.monotonicNow + UInt64(timeout.nanoseconds)
        deadlineTimer = LoopTimer(loop: loop) { [unowned self] in deadlinePassed() }
        deadlineTimer?.schedule(afterNanoseconds: UInt64(timeout.nanoseconds))
    }

    /// The next attempt goes to `endpoint` (a stream there, or its queue).
    func dispatching(to endpoint: SocketAddress) {
        triedEndpoints.insert(endpoint)
    }

    func queued() {
        lifecycle.queued()
    }

    /// The endpoint whose queue held the call left the set: it is dispatched again.
    func requeued() {
        lifecycle.requeued()
    }

    /// The call ends on a cluster limit before any attempt, or fails an attempt on one.
    func overloaded(_ status: GRPCStatus, attempt: Bool) {
        overloaded = true
        if attempt { attemptReceived(.failed(status)) } else { fail(status) }
    }

    /// Ends the call with `status` at once, no retry (nothing was sent).
    func fail(_ status: GRPCStatus) {
        deliver(.failed(status))
    }

    /// A retry's backoff starts: the held breaker token goes with the call until its next
    /// attempt ends; the request is sent again from its start when the timer fires.
    func backOff(afterNanoseconds delay: UInt64, loop: EventLoop) {
        holdsRetryToken = true
        resetForAttempt()
        let backoff = LoopTimer(loop: loop) { [unowned self] in
            retryTimer = nil
            if lifecycle.phase == .backingOff { pool?.dispatch(self) }
        }
        retryTimer = backoff
        backoff.schedule(afterNanoseconds: max(delay, 1))
    }

    /// Returns whether the call held a `max_retries` token (now released by the pool).
    func releaseRetryToken() -> Bool {
        defer { holdsRetryToken = false }
        return holdsRetryToken
    }

    /// Gives the replay's bytes back to the worker's budget.
    func releaseReplayBudget() {
        guard budgetedReplayBytes > 0 else { return }
        pool?.retryBuffer.release(budgetedReplayBytes)
        budgetedReplayBytes = 0
    }

    /// The call ended: the pool has taken back what it held.
    func detachFromPool() {
        retryTimer?.cancel()
        retryTimer = nil
        pool = nil
    }

    // MARK: The connection's side

    /// The next attempt's stream is open on `connection`.
    func streamOpened(_ connection: HTTP2ClientConnection, id: Int32, loop: EventLoop) {
        stream = Stream(connection: connection, id: id)
        endpoint = connection.endpoint
        lifecycle.streamOpened()
        if let perTry = request.perTryTimeoutNanoseconds {
            if attemptTimer == nil {
                attemptTimer = LoopTimer(loop: loop) { [unowned self] in perTryTimeoutPassed() }
            }
            attemptTimer?.schedule(afterNanoseconds: perTry)
        }
    }

    /// Whether `id` on `connection` is this call's current attempt (a late part of an old
    /// attempt is not taken for the new one's).
    func isCurrent(_ connection: HTTP2ClientConnection, _ id: Int32) -> Bool {
        stream?.id == id && stream?.connection === connection
    }

    func dataReceived(_ bytes: UnsafeRawBufferPointer) {
        unconsumedBytes += bytes.count
        attemptReceived(.data(bytes))
    }

    /// nghttp2 asks for DATA bytes of the request body.
    func takeBody(into buffer: UnsafeMutablePointer<UInt8>, maxLength: Int) -> (count: Int, last: Bool, deferred: Bool) {
        let count = unsentBody.take(into: buffer, maxLength: maxLength)
        if unsentBody.count == 0 {
            if bodyEnded { return (count, true, false) }
            if count == 0 {
                // A streamed body waits for its next bytes (resumeBody).
                bodyDeferred = true
                return (0, false, true)
            }
        }
        attemptSentBytes += count
        if request.streamsBody, attemptSentBytes > reportedSentBytes {
            let newly = attemptSentBytes - reportedSentBytes
            reportedSentBytes = attemptSentBytes
            delegate?.upstreamCall(self, sentRequestBytes: newly)
        }
        return (count, false, false)
    }

    /// The attempt's stream closed: the DATA it never released, for the connection window.
    func streamClosed() -> Int {
        defer { unconsumedBytes = 0 }
        return max(0, unconsumedBytes)
    }

    /// Whether this attempt's response headers came.
    var receivedHead: Bool { lifecycle.receivedHead }

    // MARK: Parts of the current attempt

    /// A part of the current attempt. `neverProcessed`: the backend did not process the stream
    /// (REFUSED_STREAM, above a GOAWAY's last stream, or no connection).
    func attemptReceived(_ part: UpstreamResponsePart, neverProcessed: Bool = false) {
        guard !isFinished else { return }
        if lifecycle.cancelled { return deliver(part) }
        switch part {
        case .head(let fields):
            attemptTimer?.cancel()
            switch lifecycle.headReceived() {
            case .deliver: deliver(part)
            case .hold, .releaseHeld: held.append(.head(fields))
            }
        case .data(let bytes):
            let verdict = lifecycle.dataReceived(count: bytes.count)
            guard verdict != .deliver else { return deliver(part) }
            held.append(.data(Array(bytes)))
            // Released at once, so that a large reply cannot stall on flow control while held.
            consumedAhead += bytes.count
            unconsumedBytes -= bytes.count
            stream.map { $0.connection.consume(bytes.count, streamID: $0.id) }
            if verdict == .releaseHeld { releaseHeld() }
        case .trailers(let fields):
            attemptTimer?.cancel()
            attemptEnded(
                GRPCStatusCode(trailers: fields) ?? .unknown, pushback: fields["grpc-retry-pushback-ms"].map(RetryPushback.init), part)
        case .failed(let status):
            attemptTimer?.cancel()
            if neverProcessed, let pool,
                lifecycle.retryTransparently(
                    mayGoAgain: pool.mayRetryTransparently(self, connected: lifecycle.phase == .active),
                    canReplay: canReplay)
            {
                resetForAttempt()
                return pool.dispatch(self)
            }
            attemptEnded(status.code, pushback: nil, part)
        }
    }

    /// The attempt's end: a retry after the backoff, or the end goes to the client.
    private func attemptEnded(_ code: GRPCStatusCode, pushback: @autoclosure () -> RetryPushback?, _ part: UpstreamResponsePart) {
        if let pool {
            pool.attemptEnded(self, code: code)
        }
        if let pool, lifecycle.considersRetry(after: code) {
            // The backoff's jitter needs spread, not secrecy: SplitMix64 seeded from the clock,
            // as RefreshTimer's. (With `SystemRandomNumberGenerator`, an empty struct passed
            // inout, the ThreadSanitizer build crashed inside its own access check here.)
            let now = EventLoop.monotonicNow
            var random = SplitMix64(state: now)
            switch lifecycle.attemptEnded(
                code: code, pushback: pushback(), throttleAllows: pool.throttle?.allowsRetry ?? true,
                deadlineLeftNanoseconds: deadline.map { $0 > now ? $0 - now : 0 }, using: &random)
            {
            case .retry(let delay):
                if pool.scheduleRetry(self, afterNanoseconds: delay) { return }
                lifecycle.retryRefused()
            case .deliver(let notRetried):
                if let notRetried { pool.notRetried(self, notRetried) }
            }
        }
        releaseHeld()
        deliver(part)
    }

    /// The attempt waited `per_try_timeout` for response headers: it is cancelled upstream
    /// (RST_STREAM(CANCEL)) and fails as UNAVAILABLE, which a retry policy may retry elsewhere.
    private func perTryTimeoutPassed() {
        guard lifecycle.perTryTimeoutApplies(), let stream, let perTry = request.perTryTimeoutNanoseconds else { return }
        stream.connection.cancel(streamID: stream.id)
        let limit = GRPCTimeout(nanoseconds: Int64(min(perTry, UInt64(Int64.max))))
        attemptReceived(
            .failed(
                GRPCStatus(
                    .unavailable,
                    "upstream \(stream.connection.endpoint) did not answer within per_try_timeout \(limit)")))
    }

    /// The deadline passed: DEADLINE_EXCEEDED, and the attempt's stream is reset (CANCEL).
    private func deadlinePassed() {
        guard !isFinished else { return }
        let status = GRPCStatus(
            .deadlineExceeded,
            "deadline of \(request.timeout?.description ?? "") exceeded (cluster \(pool?.settings.name ?? ""), \(attempts) attempt\(attempts == 1 ? "" : "s"))"
        )
        stream.map { $0.connection.cancel(streamID: $0.id) }
        deliver(.failed(status))
    }

    /// A new attempt: the body from the start, no response yet; a reply held from the last
    /// attempt is dropped, with the flow-control credit taken ahead for it.
    private func resetForAttempt() {
        // DATA of the abandoned attempt still counts against its connection's window.
        if unconsumedBytes > 0, let stream { stream.connection.consumeConnection(unconsumedBytes) }
        stream = nil
        unsentBody = OutgoingBytes(replayBody ?? [])
        bodyDeferred = false
        attemptSentBytes = 0
        unconsumedBytes = 0
        overloaded = false
        held.removeAll()
        consumedAhead = 0
    }

    private func releaseHeld() {
        let parts = held
        held.removeAll()
        for part in parts {
            switch part {
            case .head(let fields): deliver(.head(fields))
            case .data(let bytes): bytes.withUnsafeBytes { deliver(.data($0)) }
            }
        }
    }

    /// Hands a part to the delegate; the first one commits the call, the last one ends it.
    private func deliver(_ part: UpstreamResponsePart) {
        guard !isFinished else { return }
        switch part {
        case .trailers, .failed: finish()
        case .head, .data: lifecycle.partDelivered()
        }
        delegate?.upstreamCall(self, received: part)
    }

    /// The end: timers stop and the pool takes back what the call held.
    private func finish() {
        lifecycle.finished()
        deadlineTimer?.cancel()
        deadlineTimer = nil
        attemptTimer?.cancel()
        attemptTimer = nil
        pool?.callFinished(self)
    }
}
