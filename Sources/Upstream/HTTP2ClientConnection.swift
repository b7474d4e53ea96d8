// One HTTP/2 (h2c) connection to one backend endpoint, carrying many calls as streams
// (RFC 9113). The nghttp2 callbacks in this file are the only unsafe code of the upstream side.
import CNghttp2
import FerryCore
import HTTP2Support
import Logging
import Loop

final class HTTP2ClientConnection: LoopFlushable {
    enum State: Equatable {
        case connecting
        case ready
        /// GOAWAY received or sent: no new streams; closes when the last stream ends.
        case goingAway
        case closed
    }

    let endpoint: SocketAddress
    /// `:authority` and `:scheme` of every request on this connection.
    private let authority: String
    private let scheme: String
    /// The pool owns its connections, so it outlives them; unowned(unsafe) because checked
    /// references cost atomic operations on every use (the hot path).
    private unowned(unsafe) let pool: UpstreamPool
    private let connection: BufferedConnection
    private let loop: EventLoop
    private var session: OpaquePointer?
    private(set) var state: State = .connecting
    private var streams: [Int32: UpstreamCall] = [:]
    private var connectTimer: LoopTimer?
    private var keepaliveTimer: LoopTimer?
    private var pingOutstanding = false
    var flushScheduled = false
    /// Read-only once built; nghttp2 copies it into each session, so sharing across threads is safe.
    nonisolated(unsafe) private static let callbacks: OpaquePointer = makeCallbacks()

    init(pool: UpstreamPool, loop: EventLoop, endpoint: SocketAddress) throws {
        self.pool = pool
        self.endpoint = endpoint
        self.loop = loop
        authority = pool.authority(for: endpoint)
        connection = try BufferedConnection(loop: loop, connectingTo: endpoint, tls: pool.tlsSetup(for: endpoint))
        scheme = pool.settings.tls == nil ? "http" : "https"
        connection.delegate = self
        connectTimer = LoopTimer(loop: loop) { [unowned self] in
            connection.close(reason: .error("connect timed out"))
        }
        connectTimer?.schedule(afterNanoseconds: pool.settings.connectTimeoutNanoseconds)
        if let interval = pool.settings.keepaliveIntervalNanoseconds {
            keepaliveTimer = LoopTimer(loop: loop, repeating: true) { [unowned self] in keepaliveTick() }
            keepaliveTimer?.schedule(afterNanoseconds: interval)
        }
    }

    deinit {
        if let session { nghttp2_session_del(session) }
    }

    var activeStreams: Int { streams.count }

    /// Whether another stream fits under the peer's SETTINGS_MAX_CONCURRENT_STREAMS.
    var hasCapacity: Bool {
        guard state == .ready, let session else { return false }
        let limit = nghttp2_session_get_remote_settings(session, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS)
        return streams.count < min(Int(limit), pool.settings.maxConcurrentStreams)
    }

    /// Opens a stream for `call` and sends its headers and body.
    func start(_ call: UpstreamCall) {
        guard let session else { return }
        var fields = HeaderFields(reservingFields: 7 + call.request.metadata.count, bytes: 160 + call.request.path.utf8.count)
        fields.append(name: ":method", value: "POST")
        fields.append(name: ":scheme", value: scheme)
        fields.append(name: ":path", value: call.request.path)
        fields.append(name: ":authority", value: authority)
        fields.append(name: "content-type", value: call.request.contentType)
        fields.append(name: "te", value: "trailers")
        if let timeout = call.remainingTimeout(now: { EventLoop.monotonicNow }) { fields.append(name: "grpc-timeout", value: timeout.headerValue) }
        if let previous = call.retry?.previousAttemptsHeader { fields.append(name: "grpc-previous-rpc-attempts", value: previous) }
        fields.append(contentsOf: call.request.metadata)
        var provider = nghttp2_data_provider(source: nghttp2_data_source(ptr: nil), read_callback: { session, streamID, buffer, length, flags, _, _ in
            guard let session, let call = HTTP2ClientConnection.call(session: session, streamID: streamID) else {
                return Int(NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE.rawValue)
            }
            let count = call.unsentBody.take(into: buffer!, maxLength: length)
            if call.unsentBody.count == 0 { flags!.pointee |= UInt32(NGHTTP2_DATA_FLAG_EOF.rawValue) }
            return count
        })
        let streamID = NGHTTP2.withHeaderBlock(fields) { block, count in
            nghttp2_submit_request(session, nil, block, count, &provider, Unmanaged.passUnretained(call).toOpaque())
        }
        guard streamID > 0 else {
            call.attemptReceived(.failed(GRPCStatus(.internal, "cannot open stream to \(endpoint): \(String(cString: nghttp2_strerror(streamID)))")))
            return
        }
        streams[streamID] = call
        call.state = .active(self, streamID: streamID)
        call.endpoint = endpoint
        if let perTry = call.request.perTryTimeoutNanoseconds {
            if call.attemptTimer == nil {
                call.attemptTimer = LoopTimer(loop: loop) { [unowned call] in call.perTryTimeoutExpired() }
            }
            call.attemptTimer?.schedule(afterNanoseconds: perTry)
        }
        loop.scheduleFlush(self)
    }

    func consume(_ bytes: Int, streamID: Int32) {
        guard let session, bytes > 0 else { return }
        nghttp2_session_consume(session, streamID, bytes)
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
            nghttp2_submit_goaway(session, UInt8(NGHTTP2_FLAG_NONE.rawValue),
                                  nghttp2_session_get_last_proc_stream_id(session), NGHTTP2_NO_ERROR.rawValue, nil, 0)
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
        if !NGHTTP2.flush(session, to: connection) {
            connection.close(reason: .error("HTTP/2 session error"))
            return
        }
        if nghttp2_session_want_read(session) == 0 && nghttp2_session_want_write(session) == 0 {
            connection.closeAfterFlush()
        }
    }

    private func closeIfIdle() {
        if state == .goingAway && streams.isEmpty { connection.closeAfterFlush() }
    }

    private func keepaliveTick() {
        guard let session, state == .ready || state == .goingAway else { return }
        if pingOutstanding {
            connection.close(reason: .error("keepalive PING not answered"))
            return
        }
        pingOutstanding = true
        nghttp2_submit_ping(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), nil)
        loop.scheduleFlush(self)
    }

    // MARK: nghttp2 events

    private static func connection(_ userData: UnsafeMutableRawPointer?) -> HTTP2ClientConnection {
        Unmanaged<HTTP2ClientConnection>.fromOpaque(userData!).takeUnretainedValue()
    }

    /// The call whose current attempt is this stream; nil once the call has moved on to a
    /// retry (or ended), so that a late part of an old attempt is not taken for the new one's.
    private static func call(session: OpaquePointer, streamID: Int32) -> UpstreamCall? {
        guard let pointer = nghttp2_session_get_stream_user_data(session, streamID) else { return nil }
        let call = Unmanaged<UpstreamCall>.fromOpaque(pointer).takeUnretainedValue()
        guard case .active(_, let current) = call.state, current == streamID else { return nil }
        return call
    }

    private func headersReceived(streamID: Int32, endStream: Bool, category: nghttp2_headers_category) {
        guard let call = streams[streamID], case .active(let connection, streamID) = call.state, connection === self else { return }
        let block = call.headerBlock
        call.headerBlock = HeaderFields()
        if category == NGHTTP2_HCAT_RESPONSE && !endStream {
            call.receivedHead = true
            call.attemptReceived(.head(block))
        } else if endStream && !call.receivedHead && state == .goingAway && block.firstValueBytes("grpc-status")?.elementsEqual("1".utf8) == true {
            // A backend shutting down (grpcio's graceful stop) cancels the calls it accepted but
            // never ran once its grace period ends: an availability event, not the client's
            // doing, so it fails as UNAVAILABLE, which a retry policy may retry elsewhere.
            call.attemptReceived(.failed(GRPCStatus(.unavailable,
                "upstream \(endpoint) (cluster \(pool.settings.name)) cancelled the call while shutting down (GOAWAY)")))
        } else if endStream {
            call.attemptReceived(.trailers(block))
        }
    }

    private func streamClosed(streamID: Int32, errorCode: UInt32) {
        guard let call = streams.removeValue(forKey: streamID) else { return }
        // DATA the exchange never consumed still counts against the connection window.
        if call.unconsumedBytes > 0, let session {
            nghttp2_session_consume_connection(session, call.unconsumedBytes)
            call.unconsumedBytes = 0
        }
        if case .active(let connection, streamID) = call.state, connection === self {
            let status: GRPCStatus
            switch errorCode {
            case NGHTTP2_NO_ERROR.rawValue where !call.receivedHead:
                // No response at all: the backend went away (as when it is killed), which is
                // transient and retryable, as grpc-go also reports it.
                status = GRPCStatus(.unavailable, "upstream \(endpoint) (cluster \(pool.settings.name)) closed the stream without a response")
            case NGHTTP2_NO_ERROR.rawValue:
                status = GRPCStatus(.internal, "upstream \(endpoint) (cluster \(pool.settings.name)) ended the stream without grpc-status")
            case NGHTTP2_REFUSED_STREAM.rawValue:
                status = GRPCStatus(.unavailable, "upstream \(endpoint) (cluster \(pool.settings.name)) refused the stream")
            case NGHTTP2_CANCEL.rawValue:
                status = GRPCStatus(.cancelled, "upstream \(endpoint) (cluster \(pool.settings.name)) cancelled the stream")
            default:
                status = GRPCStatus(.unavailable, "upstream \(endpoint) (cluster \(pool.settings.name)) reset the stream: \(String(cString: nghttp2_http2_strerror(errorCode)))")
            }
            call.attemptReceived(.failed(status), neverProcessed: errorCode == NGHTTP2_REFUSED_STREAM.rawValue)
        }
        closeIfIdle()
        pool.capacityChanged(self)
    }

    private static func makeCallbacks() -> OpaquePointer {
        var callbacks: OpaquePointer?
        nghttp2_session_callbacks_new(&callbacks)
        nghttp2_session_callbacks_set_on_header_callback(callbacks) { session, frame, name, nameLength, value, valueLength, _, _ in
            guard let frame, let session, let call = HTTP2ClientConnection.call(session: session, streamID: frame.pointee.hd.stream_id) else { return 0 }
            call.headerBlock.append(name: name, nameLength: nameLength, value: value, valueLength: valueLength)
            return 0
        }
        nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks) { _, frame, userData in
            guard let frame else { return 0 }
            let connection = HTTP2ClientConnection.connection(userData)
            let header = frame.pointee.hd
            let endStream = header.flags & UInt8(NGHTTP2_FLAG_END_STREAM.rawValue) != 0
            switch UInt32(header.type) {
            case NGHTTP2_HEADERS.rawValue:
                connection.headersReceived(streamID: header.stream_id, endStream: endStream, category: frame.pointee.headers.cat)
            case NGHTTP2_DATA.rawValue where endStream:
                // DATA with END_STREAM and no trailers: reported as a missing status on close.
                break
            case NGHTTP2_SETTINGS.rawValue:
                connection.pool.capacityChanged(connection)
            case NGHTTP2_PING.rawValue where header.flags & UInt8(NGHTTP2_FLAG_ACK.rawValue) != 0:
                connection.pingOutstanding = false
            case NGHTTP2_GOAWAY.rawValue:
                // Streams above last_stream_id were not processed; nghttp2 closes them with
                // REFUSED_STREAM and the pool restarts them elsewhere (transparent retry).
                connection.state = .goingAway
                connection.pool.capacityChanged(connection)
            default:
                break
            }
            return 0
        }
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks) { session, _, streamID, data, length, _ in
            guard let session, let call = HTTP2ClientConnection.call(session: session, streamID: streamID) else { return 0 }
            call.unconsumedBytes += length
            call.attemptReceived(.data(UnsafeRawBufferPointer(start: data, count: length)))
            return 0
        }
        // Never returns an error: Debian's nghttp2 1.52 leaks on a fatal error here (CVE-2023-35945).
        nghttp2_session_callbacks_set_on_stream_close_callback(callbacks) { _, streamID, errorCode, userData in
            HTTP2ClientConnection.connection(userData).streamClosed(streamID: streamID, errorCode: errorCode)
            return 0
        }
        return callbacks!
    }
}

extension HTTP2ClientConnection: BufferedConnectionDelegate {
    func connectionDidConnect(_ connection: BufferedConnection) {
        connectTimer?.cancel()
        connectTimer = nil
        var settings = HTTP2SessionSettings()
        settings.maxConcurrentStreams = 100
        session = NGHTTP2.makeSession(server: false, callbacks: HTTP2ClientConnection.callbacks, settings: settings,
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
            connection.close(reason: .error("HTTP/2 protocol error: \(failure)"))
            return
        }
        loop.scheduleFlush(self)
    }

    func connectionOutputDrained(_ connection: BufferedConnection) {}

    func connection(_ connection: BufferedConnection, didCloseWith reason: ConnectionCloseReason) {
        let wasConnecting = state == .connecting
        state = .closed
        connectTimer?.cancel()
        keepaliveTimer?.cancel()
        let failed = streams
        streams.removeAll()
        let what = wasConnecting ? "connect to" : "connection to"
        let message = "upstream \(what) \(endpoint) (cluster \(pool.settings.name)) failed: \(reason)"
        for (streamID, call) in failed.sorted(by: { $0.key < $1.key }) {
            guard case .active(let connection, streamID) = call.state, connection === self else { continue }
            call.attemptReceived(.failed(GRPCStatus(.unavailable, message)))
        }
        pool.connectionClosed(self, wasConnecting: wasConnecting, message: message)
    }
}
