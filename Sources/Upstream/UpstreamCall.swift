// One call to a backend: the exchange's handle on its HTTP/2 streams. It exists before it has a
// stream (while queued in the pool), between attempts (waiting out a retry's backoff) and after
// (to report the end), so an exchange can wait, attach, and be cancelled the same way at every
// point (the nghttpx exchange/connection split). Retries happen here and in the pool, out of
// the exchange's sight: it sees one head, data, and one end, as if there had been one attempt.
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

/// The request sent upstream: path, metadata and the native gRPC body (whole, or its start
/// when more follows through `UpstreamCall.sendBody`), with the route's policies for it.
public struct UpstreamRequest {
    public var path: String
    public var metadata: HeaderFields
    public var contentType: String
    /// The call's deadline from now; each attempt sends what is left of it as `grpc-timeout`.
    public var timeout: GRPCTimeout?
    public var body: [UInt8]
    /// More of the body follows with `UpstreamCall.sendBody`, then `endBody` (a native gRPC
    /// call's messages, forwarded as they arrive).
    public var streamsBody: Bool
    /// gRFC A6 retries; nil: one attempt (transparent retries still happen).
    public var retryPolicy: RetryPolicy?
    /// A unary method the route marks idempotent: its response is held until the trailers,
    /// so that a failure status in them can still be retried (nothing has gone downstream).
    public var retriesFailuresInTrailers: Bool
    /// Time an attempt may wait for response headers; then it is cancelled and fails as
    /// UNAVAILABLE (retryable by policy).
    public var perTryTimeoutNanoseconds: UInt64?

    public init(path: String, metadata: HeaderFields, contentType: String, timeout: GRPCTimeout?, body: [UInt8],
                streamsBody: Bool = false, retryPolicy: RetryPolicy? = nil, retriesFailuresInTrailers: Bool = false,
                perTryTimeoutNanoseconds: UInt64? = nil) {
        self.path = path
        self.metadata = metadata
        self.contentType = contentType
        self.timeout = timeout
        self.body = body
        self.streamsBody = streamsBody
        self.retryPolicy = retryPolicy
        self.retriesFailuresInTrailers = retriesFailuresInTrailers
        self.perTryTimeoutNanoseconds = perTryTimeoutNanoseconds
    }
}

public final class UpstreamCall {
    enum State {
        case idle
        case queued
        case active(HTTP2ClientConnection, streamID: Int32)
        /// Between attempts: a retry's backoff is running.
        case backingOff
        case finished
    }

    /// A part held back while the response may still be retried (`retriesFailuresInTrailers`).
    private enum HeldPart {
        case head(HeaderFields)
        case data([UInt8])
    }

    public let request: UpstreamRequest
    /// Not retained and not weak (weak references put the delegate's every retain on a slow
    /// path): the delegate owns the call and calls `cancel()`, which clears this, before it
    /// can go away with the call unfinished; a finished call delivers nothing more.
    public unowned(unsafe) var delegate: UpstreamCallDelegate?
    var state: State = .idle
    /// The part of the request body nghttp2 has not taken yet (this attempt's).
    var unsentBody: OutgoingBytes
    /// The whole body so far, which a new attempt sends again (gRFC A6 replay); nil once it
    /// outgrew the retry policy's buffer or the worker's budget, which commits the call to its
    /// current attempt.
    private var replayBody: [UInt8]?
    /// Bytes of a streamed body's replay taken from the worker's RetryBufferBudget.
    private var budgetedReplayBytes = 0
    /// No more body follows (always, unless the request streams its body).
    private(set) var bodyEnded: Bool
    /// nghttp2 asked for body bytes when there were none (NGHTTP2_ERR_DEFERRED): more body,
    /// or its end, must resume the stream's DATA.
    var bodyDeferred = false
    /// Body bytes this attempt has sent, and the most any attempt has (reported to the
    /// delegate once, however many attempts send them).
    private var attemptSentBytes = 0
    private var reportedSentBytes = 0
    /// DATA bytes received but not yet released with `consume` (flow control).
    var unconsumedBytes = 0
    var headerBlock = HeaderFields()
    /// This attempt's response headers came (whether or not they reached the delegate).
    var receivedHead = false

    // Attempts. The pool sets `pool` when the call starts; it outlives its calls' attempts.
    unowned(unsafe) var pool: UpstreamPool?
    var retry: RetryState?
    /// The endpoint of the latest attempt (for the access log).
    public internal(set) var endpoint: SocketAddress?
    /// The call failed on a cluster limit (circuit breaker, pending queue): overload, not an
    /// outage; the answer carries `x-ferry-overloaded: true`.
    public internal(set) var overloaded = false
    /// Attempts made, the first included (transparent retries not counted).
    public var attempts: Int { retry?.attempts ?? 1 }
    /// Endpoints this call's attempts went to, so that a retry can go elsewhere.
    var triedEndpoints: [SocketAddress] = []
    /// Attempts restarted because the backend never processed them (A6 "transparent retry").
    var transparentRetries = 0
    /// CLOCK_MONOTONIC deadline, from the request's timeout.
    var deadline: UInt64?
    /// The deadline's timer, and the backoff's between attempts.
    var timer: LoopTimer?
    var retryTimer: LoopTimer?
    var attemptTimer: LoopTimer?
    /// The downstream gave up: nothing is retried any more.
    private var cancelled = false
    /// Whether this call holds one of the breaker's `max_retries` tokens.
    var holdsRetryToken = false
    /// Something of the response reached the delegate: the call is committed to this attempt.
    private var responseStarted = false
    private var held: [HeldPart] = []
    private var heldBytes = 0
    /// Bytes released to the backend while held, which the delegate will `consume` again.
    private var consumedAhead = 0

    public init(request: UpstreamRequest, delegate: UpstreamCallDelegate) {
        self.request = request
        self.delegate = delegate
        unsentBody = OutgoingBytes(request.body)
        replayBody = request.body
        bodyEnded = !request.streamsBody
        retry = request.retryPolicy.map { RetryState(policy: $0) }
        retry?.requestBuffered(bytes: request.body.count)
    }

    /// Whether a new attempt can send the whole body again.
    var canReplay: Bool { replayBody != nil }

    /// More of a streamed request body: it goes out as flow control allows, and is kept for a
    /// retry while the whole body fits the retry policy's buffer (gRFC A6: past it, the call
    /// is committed).
    public func sendBody(_ bytes: UnsafeRawBufferPointer) {
        guard !bodyEnded, !isFinished, bytes.count > 0 else { return }
        unsentBody.append(bytes)
        if replayBody != nil {
            if let retry, replayBody!.count + bytes.count <= retry.policy.maxBufferedRequestBytes,
               pool?.retryBuffer.reserve(bytes.count) == true {
                replayBody!.append(contentsOf: bytes)
                budgetedReplayBytes += bytes.count
            } else {
                dropReplay()
            }
        }
        resumeBody()
    }

    /// No more replays: the call stands or falls with its current attempt.
    private func dropReplay() {
        replayBody = nil
        retry?.commit()
        releaseReplayBudget()
    }

    /// Gives the replay's bytes back to the worker's budget (the call ended, or dropped them).
    func releaseReplayBudget() {
        guard budgetedReplayBytes > 0 else { return }
        pool?.retryBuffer.release(budgetedReplayBytes)
        budgetedReplayBytes = 0
    }

    /// The streamed request body is complete: END_STREAM follows its last bytes.
    public func endBody() {
        guard !bodyEnded else { return }
        bodyEnded = true
        resumeBody()
    }

    private func resumeBody() {
        guard bodyDeferred, case .active(let connection, let streamID) = state else { return }
        bodyDeferred = false
        connection.resumeBody(streamID: streamID)
    }

    /// nghttp2 took `count` body bytes of this attempt for DATA frames.
    func bodyBytesTaken(_ count: Int) {
        attemptSentBytes += count
        guard request.streamsBody, attemptSentBytes > reportedSentBytes else { return }
        let newly = attemptSentBytes - reportedSentBytes
        reportedSentBytes = attemptSentBytes
        delegate?.upstreamCall(self, sentRequestBytes: newly)
    }

    public var isFinished: Bool {
        if case .finished = state { return true }
        return false
    }

    /// What is left of the deadline at `now`, as `grpc-timeout` (A6: each attempt sends the
    /// remaining time, not the original timeout).
    func remainingTimeout(now: () -> UInt64) -> GRPCTimeout? {
        guard let deadline else { return request.timeout }
        let now = now()
        return GRPCTimeout(nanoseconds: Int64(deadline > now ? deadline - now : 0))
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
        if case .active(let connection, let streamID) = state {
            connection.consume(bytes, streamID: streamID)
        }
    }

    /// Ends the call from the downstream side: RST_STREAM(CANCEL) if it has a stream, removal
    /// from the queue if it waits. No part is delivered after this.
    public func cancel() {
        delegate = nil
        cancelled = true
        switch state {
        case .active(let connection, let streamID):
            connection.cancel(streamID: streamID)
        case .queued, .idle, .backingOff:
            finish()
        case .finished:
            break
        }
    }

    /// A new attempt: the body from the start, no response yet; a reply held from the last
    /// attempt is dropped, with the flow-control credit taken ahead for it.
    func resetForAttempt() {
        unsentBody = OutgoingBytes(replayBody ?? [])
        bodyDeferred = false
        attemptSentBytes = 0
        unconsumedBytes = 0
        overloaded = false
        headerBlock = HeaderFields()
        receivedHead = false
        held.removeAll()
        heldBytes = 0
        consumedAhead = 0
    }

    // MARK: Parts of the current attempt

    /// A part of the current attempt, from its connection. `neverProcessed`: the backend did
    /// not process the stream (REFUSED_STREAM, above a GOAWAY's last stream, or no connection).
    func attemptReceived(_ part: UpstreamResponsePart, neverProcessed: Bool = false) {
        guard !isFinished else { return }
        if cancelled {
            deliver(part)
            return
        }
        switch part {
        case .head, .trailers, .failed: attemptTimer?.cancel()
        case .data: break
        }
        switch part {
        case .head(let fields):
            if holdsResponse {
                held.append(.head(fields))
                return
            }
            deliver(part)
        case .data(let bytes):
            if holdsResponse {
                held.append(.data(Array(bytes)))
                heldBytes += bytes.count
                // Released at once, so that a large reply cannot stall on flow control while held.
                consumedAhead += bytes.count
                unconsumedBytes -= bytes.count
                if case .active(let connection, let streamID) = state { connection.consume(bytes.count, streamID: streamID) }
                if heldBytes > (retry?.policy.maxBufferedRequestBytes ?? 0) { releaseHeld() }
                return
            }
            deliver(part)
        case .trailers(let fields):
            let status = GRPCStatus(trailers: fields)
            pool?.attemptEnded(self, code: status.code)
            if status.code != .ok, !responseStarted,
               pool?.retryIfAllowed(self, code: status.code, pushback: fields["grpc-retry-pushback-ms"].map(RetryPushback.init)) == true {
                return
            }
            releaseHeld()
            deliver(part)
        case .failed(let status):
            if neverProcessed, !responseStarted, pool?.retryTransparently(self, connected: state.isActive) == true { return }
            pool?.attemptEnded(self, code: status.code)
            if !responseStarted, pool?.retryIfAllowed(self, code: status.code, pushback: nil) == true {
                return
            }
            deliver(part)
        }
    }

    /// The attempt waited `per_try_timeout` for response headers: it is cancelled upstream
    /// (RST_STREAM(CANCEL)) and fails as UNAVAILABLE, which a retry policy may retry elsewhere.
    func perTryTimeoutExpired() {
        guard case .active(let connection, let streamID) = state, !receivedHead,
              let perTry = request.perTryTimeoutNanoseconds else { return }
        connection.cancel(streamID: streamID)
        let limit = GRPCTimeout(nanoseconds: Int64(min(perTry, UInt64(Int64.max))))
        attemptReceived(.failed(GRPCStatus(.unavailable,
            "upstream \(connection.endpoint) did not answer within per_try_timeout \(limit)")))
    }

    private var holdsResponse: Bool {
        request.retriesFailuresInTrailers && retry?.phase == .uncommitted && !responseStarted
    }

    private func releaseHeld() {
        let parts = held
        held.removeAll()
        heldBytes = 0
        for part in parts {
            switch part {
            case .head(let fields): deliver(.head(fields))
            case .data(let bytes): bytes.withUnsafeBytes { deliver(.data($0)) }
            }
        }
    }

    /// Hands a part to the delegate; the first one commits the call, the last one ends it.
    func deliver(_ part: UpstreamResponsePart) {
        guard !isFinished else { return }
        switch part {
        case .trailers, .failed: finish()
        case .head, .data:
            responseStarted = true
            retry?.commit()
        }
        delegate?.upstreamCall(self, received: part)
    }

    /// The end: timers stop and the pool takes back what the call held.
    private func finish() {
        state = .finished
        timer?.cancel()
        timer = nil
        attemptTimer?.cancel()
        attemptTimer = nil
        pool?.callFinished(self)
    }
}

extension UpstreamCall.State {
    var isActive: Bool {
        if case .active = self { return true }
        return false
    }
}
