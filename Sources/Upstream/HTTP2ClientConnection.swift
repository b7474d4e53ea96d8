// One HTTP/2 (h2c) connection to one backend endpoint, carrying many calls as streams
// (RFC 9113). The nghttp2 callbacks in this file are the only unsafe code of the upstream side.
import CNghttp2
import FerryCore
import HTTP2Support
import Logging
import Loop
import Resilience

final class HTTP2ClientConnection: LoopFlushable {
    enum State: Equatable {
        case connecting
        case ready
        /// GOAWAY received or sent: no new streams; closes when the last stream ends.
        case goingAway
        case closed
    }

    let endpoint: SocketAddress
    /// Each request's header block but the call's metadata: pseudo-fields, the method's
    /// fields, the attempt's deadline and retry count.
    private var requestHead: UpstreamRequestHead
    /// Method fields replaced while HEADERS that point into them waited in nghttp2's queues
    /// (it reads them in place when it serializes the frame): kept until nothing waits.
    private var replacedMethodFields: [HeaderFields] = []
    /// The response header block being received, its storage kept between blocks: blocks do
    /// not interleave on a connection (RFC 9113 §6.10, CONTINUATION follows its HEADERS), so
    /// every stream's blocks can be gathered here in turn. A call that keeps a block keeps a
    /// copy; the next block then gets new storage.
    private var responseFields = HeaderFields()
    /// The pool owns its connections, so it outlives them; unowned(unsafe) because checked
    /// references cost atomic operations on every use (the hot path).
    private unowned(unsafe) let pool: UpstreamPool
    private let connection: BufferedConnection
    private let loop: EventLoop
    private var session: OpaquePointer?
    private(set) var state: State = .connecting
    private var streams = StreamTable()
    private var connectTimer: LoopTimer?
    private var keepaliveTimer: LoopTimer?
    private var keepalive: KeepalivePingSchedule?
    /// HEADERS or DATA arrived since the last keepalive tick: the backend is alive.
    private var sawStreamFrames = false
    private var emptyFrames = EmptyFrameFloodGuard()
    /// Why Ferry ends the connection itself (a flood, an unanswered PING): what its calls report.
    private var terminationReason: String?
    var flushScheduled = false
    /// Read-only once built; nghttp2 copies it into each session, so sharing across threads is safe.
    nonisolated(unsafe) private static let callbacks: OpaquePointer = makeCallbacks()

    init(pool: UpstreamPool, loop: EventLoop, endpoint: SocketAddress) throws {
        self.pool = pool
        self.endpoint = endpoint
        self.loop = loop
        var pseudoFields = HeaderFields()
        pseudoFields.append(name: ":method", value: "POST")
        pseudoFields.append(name: ":scheme", value: pool.settings.tls == nil ? "http" : "https")
        pseudoFields.append(name: ":authority", value: pool.authority(for: endpoint))
        requestHead = UpstreamRequestHead(pseudoFields: pseudoFields)
        connection = try BufferedConnection(loop: loop, connectingTo: endpoint, tls: pool.tlsSetup(for: endpoint))
        connection.delegate = self
        connection.setOutputLowWatermark(Self.outputLimitBytes / 2)
        connectTimer = LoopTimer(loop: loop) { [unowned self] in
            connection.close(reason: .error("connect timed out"))
        }
        connectTimer?.schedule(afterNanoseconds: pool.settings.connectTimeoutNanoseconds)
        if let interval = pool.keepaliveIntervalNanoseconds {
            let schedule = KeepalivePingSchedule(
                intervalNanoseconds: interval, timeoutNanoseconds: pool.settings.keepaliveTimeoutNanoseconds,
                now: EventLoop.monotonicNow)
            keepalive = schedule
            keepaliveTimer = LoopTimer(loop: loop, repeating: true) { [unowned self] in keepaliveTick() }
            keepaliveTimer?.schedule(afterNanoseconds: schedule.tickNanoseconds)
        }
    }

    deinit {
        if let session { nghttp2_session_del(session) }
    }

    var activeStreams: Int { streams.count }
    /// Output queued for the socket past which nothing more is serialized (see `flush`).
    static let outputLimitBytes = 1 << 20
    /// Set by the frame callback that found an empty-frame flood; reading stops there.
    private var emptyFrameFlood = false

    /// Whether another stream fits under the peer's SETTINGS_MAX_CONCURRENT_STREAMS.
    var hasCapacity: Bool {
        guard state == .ready, let session else { return false }
        let limit = nghttp2_session_get_remote_settings(session, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS)
        return streams.count < min(Int(limit), pool.settings.maxConcurrentStreams)
    }

    /// Opens a stream for `call` and sends its headers and body.
    func start(_ call: UpstreamCall) {
        guard let session else { return }
        // Method fields that HEADERS still waiting in nghttp2 point into are kept, not rewritten.
        let framesQueued = nghttp2_session_get_outbound_queue_size(session) > 0
        if let replaced = requestHead.update(
            path: call.request.path, contentType: call.request.contentType, keepingReplaced: framesQueued)
        {
            replacedMethodFields.append(replaced)
        }
        requestHead.startAttempt(
            timeout: call.remainingTimeout(now: EventLoop.monotonicNow), previousAttempts: call.lifecycle.retry?.previousAttemptsHeader)
        var provider = nghttp2_data_provider(
            source: nghttp2_data_source(ptr: nil),
            read_callback: { _, streamID, buffer, length, flags, _, userData in
                guard let call = HTTP2ClientConnection.withConnection(userData, { $0.currentCall(streamID) }) else {
                    return Int(NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE.rawValue)
                }
                let chunk = call.takeBody(into: buffer!, maxLength: length)
                // A streamed body waits for its next bytes (UpstreamCall.resumeBody).
                if chunk.deferred { return Int(NGHTTP2_ERR_DEFERRED.rawValue) }
                if chunk.last { flags!.pointee |= UInt32(NGHTTP2_DATA_FLAG_EOF.rawValue) }
                return chunk.count
            })
        // The pseudo-fields are the connection's; the method fields stay as they are until
        // no HEADERS waits (`replacedMethodFields`); `streams` holds the call, whose request
        // never changes, until the stream closes. So all three may be read in place.
        let streamID = requestHead.withHeaderBlock(metadata: call.request.metadata) { block, count in
            nghttp2_submit_request(session, nil, block, count, &provider, Unmanaged.passUnretained(call).toOpaque())
        }
        guard streamID > 0 else {
            call.attemptReceived(
                .failed(GRPCStatus(.internal, "cannot open stream to \(endpoint): \(String(cString: nghttp2_strerror(streamID)))")))
            return
        }
        streams.insert(call, id: streamID)
        call.streamOpened(self, id: streamID, loop: loop)
        loop.scheduleFlush(self)
    }

    func consume(_ bytes: Int, streamID: Int32) {
        guard let session, bytes > 0 else { return }
        nghttp2_session_consume(session, streamID, bytes)
        loop.scheduleFlush(self)
    }

    /// More of a streamed request body (or its end) is ready for the stream's DATA.
    func resumeBody(streamID: Int32) {
        guard let session else { return }
        nghttp2_session_resume_data(session, streamID)
        loop.scheduleFlush(self)
    }

    /// DATA of an abandoned attempt (a retry left it) released on the connection window only.
    func consumeConnection(_ bytes: Int) {
        guard let session, bytes > 0 else { return }
        nghttp2_session_consume_connection(session, bytes)
        loop.scheduleFlush(self)
    }

    func cancel(streamID: Int32) {
        guard let session else { return }
        nghttp2_submit_rst_stream(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), streamID, NGHTTP2_CANCEL.rawValue)
        loop.scheduleFlush(self)
    }

    /// Stops new streams and closes when the running ones end (drain).
    func shutdown() {
        guard let session, state == .ready || state == .connecting else { return }
        if state == .ready {
            NGHTTP2.submitGoAway(session)
            loop.scheduleFlush(self)
        }
        state = .goingAway
        closeIfIdle()
    }

    /// Serializes what nghttp2 has queued (HEADERS, DATA, WINDOW_UPDATE, …) into the socket's
    /// output: once per loop iteration, so the calls of one iteration share one write.
    func flush() {
        // Once closed, the streams' calls may be gone: nghttp2 must not ask them for data.
        guard let session, state != .closed else { return }
        NGHTTP2.send(session, to: connection, outputLimit: Self.outputLimitBytes)
        // Every HEADERS frame is serialized once nothing waits in nghttp2's queues.
        if !replacedMethodFields.isEmpty && nghttp2_session_get_outbound_queue_size(session) == 0 {
            replacedMethodFields.removeAll()
        }
    }

    private func closeIfIdle() {
        if state == .goingAway && streams.isEmpty { connection.closeAfterFlush() }
    }

    private func keepaliveTick() {
        guard let session, state == .ready || state == .goingAway, var schedule = keepalive else { return }
        let action = schedule.tick(now: EventLoop.monotonicNow, streamsOpen: !streams.isEmpty, sawStreamFrames: sawStreamFrames)
        keepalive = schedule
        sawStreamFrames = false
        switch action {
        case .none:
            break
        case .sendPing:
            nghttp2_submit_ping(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), nil)
            loop.scheduleFlush(self)
        case .closeUnanswered:
            terminate("keepalive PING not answered within \(GRPCTimeout(nanoseconds: Int64(schedule.timeoutNanoseconds)))")
        }
    }

    /// Ferry ends the connection: GOAWAY with `errorCode` (RFC 9113 §6.8) is written if the
    /// socket takes it now, then the connection closes at once (a backend that stopped reading
    /// must not keep it open), and the calls on it fail UNAVAILABLE with `reason`.
    private func terminate(_ reason: String, errorCode: nghttp2_error_code = NGHTTP2_NO_ERROR) {
        terminationReason = reason
        NGHTTP2.terminate(state == .closed ? nil : session, connection, code: errorCode, reason: reason)
    }

    // MARK: nghttp2 events

    private static func withConnection<Result>(
        _ userData: UnsafeMutableRawPointer?, _ body: (HTTP2ClientConnection) -> Result
    ) -> Result {
        NGHTTP2.withOwner(userData, body)
    }

    /// The call whose current attempt is this stream; nil once the call has moved on to a
    /// retry, so that a late part of an old attempt is not taken for the new one's.
    private func currentCall(_ streamID: Int32) -> UpstreamCall? {
        guard let call = streams[streamID], call.isCurrent(self, streamID) else { return nil }
        return call
    }

    private func headersReceived(streamID: Int32, endStream: Bool, category: nghttp2_headers_category) {
        if let call = currentCall(streamID) { deliverHeaderBlock(to: call, endStream: endStream, category: category) }
        // After the call has its copy, if it kept one: emptied in place when it did not.
        responseFields.removeAll()
    }

    private func deliverHeaderBlock(to call: UpstreamCall, endStream: Bool, category: nghttp2_headers_category) {
        if category == NGHTTP2_HCAT_RESPONSE && !endStream {
            call.attemptReceived(.head(responseFields))
        } else if endStream && !call.receivedHead && state == .goingAway
            && responseFields.firstValue(of: "grpc-status", is: "1")
        {
            // A backend shutting down (grpcio's graceful stop) cancels the calls it accepted but
            // never ran once its grace period ends: an availability event, not the client's
            // doing, so it fails as UNAVAILABLE, which a retry policy may retry elsewhere.
            call.attemptReceived(
                .failed(
                    GRPCStatus(
                        .unavailable,
                        "upstream \(endpoint) (cluster \(pool.settings.name)) cancelled the call while shutting down (GOAWAY)")))
        } else if endStream {
            call.attemptReceived(.trailers(responseFields))
        }
    }

    private func streamClosed(streamID: Int32, errorCode: UInt32) {
        guard let call = streams.removeValue(forKey: streamID) else { return }
        if call.isCurrent(self, streamID) {
            // DATA the exchange never consumed still counts against the connection window.
            let unconsumed = call.streamClosed()
            if unconsumed > 0, let session { nghttp2_session_consume_connection(session, unconsumed) }
            // A call that has ended (its trailers came) needs no status: the common case.
            if !call.isFinished {
                let status = resetStatus(errorCode, responseStarted: call.receivedHead)
                call.attemptReceived(.failed(status), neverProcessed: errorCode == NGHTTP2_REFUSED_STREAM.rawValue)
            }
        }
        closeIfIdle()
        pool.capacityChanged(self)
    }

    /// The status of a stream the backend reset (or closed without trailers), as
    /// PROTOCOL-HTTP2.md ("Errors") maps RST_STREAM codes: REFUSED_STREAM is UNAVAILABLE (the
    /// call never ran: retried transparently), CANCEL is CANCELLED, ENHANCE_YOUR_CALM is
    /// RESOURCE_EXHAUSTED, INADEQUATE_SECURITY is PERMISSION_DENIED, every other code INTERNAL.
    /// NO_ERROR before any response on a connection that is going away is the "aggressive
    /// lameduck" the spec mentions (grpcio stopping without grace): UNAVAILABLE, retryable.
    private func resetStatus(_ errorCode: UInt32, responseStarted: Bool) -> GRPCStatus {
        let upstream = "upstream \(endpoint) (cluster \(pool.settings.name))"
        switch errorCode {
        case NGHTTP2_NO_ERROR.rawValue where !responseStarted && state == .goingAway:
            return GRPCStatus(.unavailable, "\(upstream) closed the stream without a response while shutting down (GOAWAY)")
        case NGHTTP2_NO_ERROR.rawValue:
            return GRPCStatus(.internal, "\(upstream) ended the stream without grpc-status")
        case NGHTTP2_REFUSED_STREAM.rawValue:
            return GRPCStatus(.unavailable, "\(upstream) refused the stream")
        case NGHTTP2_CANCEL.rawValue:
            return GRPCStatus(.cancelled, "\(upstream) cancelled the stream")
        case NGHTTP2_ENHANCE_YOUR_CALM.rawValue:
            return GRPCStatus(.resourceExhausted, "\(upstream) reset the stream: ENHANCE_YOUR_CALM (overloaded)")
        case NGHTTP2_INADEQUATE_SECURITY.rawValue:
            return GRPCStatus(.permissionDenied, "\(upstream) reset the stream: INADEQUATE_SECURITY")
        default:
            return GRPCStatus(.internal, "\(upstream) reset the stream: \(String(cString: nghttp2_http2_strerror(errorCode)))")
        }
    }

    private static func makeCallbacks() -> OpaquePointer {
        var callbacks: OpaquePointer?
        nghttp2_session_callbacks_new(&callbacks)
        nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks) { _, _, userData in
            // A block nghttp2 refused half-way (a bad field resets its stream) left fields behind.
            HTTP2ClientConnection.withConnection(userData) { $0.responseFields.removeAll() }
            return 0
        }
        nghttp2_session_callbacks_set_on_header_callback(callbacks) { _, _, name, nameLength, value, valueLength, _, userData in
            // Whose block it is is settled once it is complete (headersReceived).
            HTTP2ClientConnection.withConnection(userData) {
                $0.responseFields.append(name: name, nameLength: nameLength, value: value, valueLength: valueLength)
            }
            return 0
        }
        nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks) { _, frame, userData in
            guard let frame else { return 0 }
            return HTTP2ClientConnection.withConnection(userData) { connection in connection.frameReceived(frame) }
        }
        nghttp2_session_callbacks_set_on_begin_frame_callback(callbacks) { _, header, userData in
            guard let header else { return 0 }
            return HTTP2ClientConnection.withConnection(userData) { connection in
                let frame = header.pointee
                guard connection.emptyFrames.frameBegins(type: frame.type, flags: frame.flags, length: frame.length) else { return 0 }
                // Stops nghttp2_session_mem_recv; the connection answers with GOAWAY once it returns.
                connection.emptyFrameFlood = true
                return Int32(NGHTTP2_ERR_CALLBACK_FAILURE.rawValue)
            }
        }
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks) { _, _, streamID, data, length, userData in
            guard let call = HTTP2ClientConnection.withConnection(userData, { $0.currentCall(streamID) }) else { return 0 }
            call.dataReceived(UnsafeRawBufferPointer(start: data, count: length))
            return 0
        }
        // Never returns an error: Debian's nghttp2 1.52 leaks on a fatal error here (CVE-2023-35945).
        nghttp2_session_callbacks_set_on_stream_close_callback(callbacks) { _, streamID, errorCode, userData in
            HTTP2ClientConnection.withConnection(userData) { $0.streamClosed(streamID: streamID, errorCode: errorCode) }
            return 0
        }
        return callbacks!
    }

    /// A whole frame is in (nghttp2's on_frame_recv).
    private func frameReceived(_ frame: UnsafePointer<nghttp2_frame>) -> Int32 {
        let header = frame.pointee.hd
        let endStream = header.flags & UInt8(NGHTTP2_FLAG_END_STREAM.rawValue) != 0
        switch UInt32(header.type) {
        case NGHTTP2_HEADERS.rawValue:
            sawStreamFrames = true
            headersReceived(streamID: header.stream_id, endStream: endStream, category: frame.pointee.headers.cat)
        case NGHTTP2_DATA.rawValue:
            // (DATA with END_STREAM and no trailers is reported as a missing status on close.)
            sawStreamFrames = true
        case NGHTTP2_SETTINGS.rawValue:
            pool.capacityChanged(self)
        case NGHTTP2_PING.rawValue where header.flags & UInt8(NGHTTP2_FLAG_ACK.rawValue) != 0:
            keepalive?.acknowledged()
        case NGHTTP2_GOAWAY.rawValue:
            // Streams above last_stream_id were not processed; nghttp2 closes them with
            // REFUSED_STREAM and the pool restarts them elsewhere (transparent retry).
            state = .goingAway
            let goaway = frame.pointee.goaway
            if goaway.error_code == NGHTTP2_ENHANCE_YOUR_CALM.rawValue,
                UnsafeRawBufferPointer(start: goaway.opaque_data, count: goaway.opaque_data_len).elementsEqual("too_many_pings".utf8)
            {
                pool.tooManyPings(from: endpoint)
            }
            pool.capacityChanged(self)
        default:
            break
        }
        return 0
    }
}

extension HTTP2ClientConnection: BufferedConnectionDelegate {
    func connectionDidConnect(_ connection: BufferedConnection) {
        connectTimer?.cancel()
        connectTimer = nil
        var settings = HTTP2SessionSettings()
        settings.maxConcurrentStreams = 100
        session = NGHTTP2.makeSession(
            server: false, callbacks: HTTP2ClientConnection.callbacks, settings: settings,
            userData: Unmanaged.passUnretained(self).toOpaque())
        guard session != nil else {
            connection.close(reason: .error("cannot create HTTP/2 session"))
            return
        }
        if state == .connecting { state = .ready }
        loop.scheduleFlush(self)
        pool.connectionReady(self)
    }

    func connection(_ connection: BufferedConnection, received bytes: UnsafeRawBufferPointer) {
        guard let session else { return }
        if let failure = NGHTTP2.receive(session, bytes) {
            if emptyFrameFlood {
                terminate(
                    "flooded with more than \(emptyFrames.limit) empty frames in a row; GOAWAY(ENHANCE_YOUR_CALM) sent",
                    errorCode: NGHTTP2_ENHANCE_YOUR_CALM)
            } else {
                connection.close(reason: .error("HTTP/2 protocol error: \(failure)"))
            }
            return
        }
        loop.scheduleFlush(self)
    }

    func connectionOutputDrained(_ connection: BufferedConnection) {
        loop.scheduleFlush(self)
    }

    func connection(_ connection: BufferedConnection, didCloseWith reason: ConnectionCloseReason) {
        let wasConnecting = state == .connecting
        state = .closed
        connectTimer?.cancel()
        keepaliveTimer?.cancel()
        let failed = streams.all
        streams.removeAll()
        let what = wasConnecting ? "connect to" : "connection to"
        let message = "upstream \(what) \(endpoint) (cluster \(pool.settings.name)) failed: \(terminationReason ?? reason.description)"
        for (streamID, call) in failed where call.isCurrent(self, streamID) {
            call.attemptReceived(.failed(GRPCStatus(.unavailable, message)))
        }
        pool.connectionClosed(self, wasConnecting: wasConnecting, message: message)
    }
}
