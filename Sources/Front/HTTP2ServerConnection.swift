// One downstream HTTP/2 connection (RFC 9113): h2c with prior knowledge, or h2 chosen with
// ALPN over TLS. One nghttp2 server session whose streams each carry one request and the
// exchange answering it (HTTP2ServerStream). The nghttp2 callbacks in this file are the front's
// only unsafe code.
import CNghttp2
import Config
import FerryCore
import HTTP2Support
import Loop

final class HTTP2ServerConnection: LoopFlushable {
    private let connection: BufferedConnection
    let slot: ListenerSlot
    /// The listener's settings when the connection opened: its session keeps them.
    private let settings: HTTP2FrontSettings
    /// The worker owns its connections (see GRPCWebExchange.stream for unowned(unsafe)).
    private unowned(unsafe) let worker: Worker
    let loop: EventLoop
    /// `IP:port` of the client (empty without an access log).
    let peer: String
    private var session: OpaquePointer?
    private var streams: [Int32: HTTP2ServerStream] = [:]
    private var emptyFrames = EmptyFrameFloodGuard()
    /// Set by the frame callback that found an empty-frame flood; reading stops there.
    private var emptyFrameFlood = false
    /// GOAWAY sent: no new streams; the connection closes once the open ones end.
    private var goingAway = false
    var flushScheduled = false
    /// The verified client certificate's subject (RFC 2253), on a mutual-TLS listener.
    private(set) lazy var clientSubject: String? = slot.context.verifiesClients ? connection.peerSubject : nil
    /// Output queued for the socket past which nothing more is serialized: a client that does
    /// not read holds its streams' data in them (and so, through UpstreamCredit, in the backends).
    static let outputLimitBytes = 1 << 20
    /// Read-only once built; nghttp2 copies it into each session, so sharing across threads is safe.
    nonisolated(unsafe) private static let callbacks: OpaquePointer = makeCallbacks()

    init?(connection: BufferedConnection, slot: ListenerSlot, worker: Worker, peer: String) {
        guard let settings = slot.context.http2 else { return nil }
        self.connection = connection
        self.slot = slot
        self.settings = settings
        self.worker = worker
        self.peer = peer
        loop = worker.loop
        var sessionSettings = HTTP2SessionSettings()
        sessionSettings.maxConcurrentStreams = UInt32(settings.maxConcurrentStreams)
        sessionSettings.streamWindowBytes = Int32(settings.streamWindowBytes)
        sessionSettings.connectionWindowBytes = Int32(settings.connectionWindowBytes)
        sessionSettings.maxHeaderListBytes = UInt32(slot.context.limits.maxHeaderBytes)
        session = NGHTTP2.makeSession(server: true, callbacks: HTTP2ServerConnection.callbacks, settings: sessionSettings,
                                      userData: Unmanaged.passUnretained(self).toOpaque())
        guard session != nil else { return nil }
        connection.delegate = self
        connection.setOutputLowWatermark(Self.outputLimitBytes / 2)
        connection.setReadTimeout(nanoseconds: slot.context.limits.idleTimeoutNanoseconds)
        loop.scheduleFlush(self)
    }

    deinit {
        if let session { nghttp2_session_del(session) }
    }

    // MARK: For the streams

    func submitResponse(_ streamID: Int32, status: Int, headers: HeaderFields, contentLength: Int?) {
        guard let session else { return }
        var fields = HeaderFields(reservingFields: headers.count + 2, bytes: 64 + headers.count * 32)
        fields.append(name: ":status", value: String(status))
        fields.append(contentsOf: headers)
        if let contentLength, contentLength > 0 { fields.append(name: "content-length", value: String(contentLength)) }
        var provider = nghttp2_data_provider(source: nghttp2_data_source(ptr: nil), read_callback: { session, streamID, buffer, length, flags, _, userData in
            let connection = HTTP2ServerConnection.connection(userData)
            guard let session, let stream = connection.streams[streamID] else {
                return Int(NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE.rawValue)
            }
            return stream.responseBytes(into: buffer!, maxLength: length, flags: flags!, session: session)
        })
        let result = NGHTTP2.withHeaderBlock(fields) { block, count in
            contentLength == 0
                ? nghttp2_submit_response(session, streamID, block, count, nil)
                : nghttp2_submit_response(session, streamID, block, count, &provider)
        }
        if result != 0 { resetStream(streamID, code: NGHTTP2_INTERNAL_ERROR) }
        loop.scheduleFlush(self)
    }

    /// The stream's DATA waited for bytes (NGHTTP2_ERR_DEFERRED): more are queued now.
    func resumeData(_ streamID: Int32) {
        guard let session else { return }
        nghttp2_session_resume_data(session, streamID)
        loop.scheduleFlush(self)
    }

    /// Trailers after the stream's last DATA; called from the data source once it is drained.
    func submitTrailers(_ streamID: Int32, _ trailers: HeaderFields, session: OpaquePointer) {
        NGHTTP2.withHeaderBlock(trailers) { block, count in
            _ = nghttp2_submit_trailer(session, streamID, block, count)
        }
    }

    func resetStream(_ streamID: Int32, code: nghttp2_error_code) {
        guard let session else { return }
        nghttp2_submit_rst_stream(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), streamID, code.rawValue)
        loop.scheduleFlush(self)
    }

    /// The client may send `count` more bytes on the stream (and the connection).
    func consume(_ streamID: Int32, _ count: Int) {
        guard let session, count > 0 else { return }
        nghttp2_session_consume(session, streamID, count)
        loop.scheduleFlush(self)
    }

    var queuedOutputBytes: Int { connection.outputLength }

    // MARK: Draining

    /// Serializes what nghttp2 has queued into the socket's output, once per loop iteration.
    func flush() {
        guard let session else { return }
        guard connection.outputLength < Self.outputLimitBytes else { return }
        if !NGHTTP2.flush(session, to: connection) {
            connection.close(reason: .error("HTTP/2 session error"))
            return
        }
        if nghttp2_session_want_read(session) == 0 && nghttp2_session_want_write(session) == 0 {
            connection.closeAfterFlush()
        }
    }

    /// Ends the connection gracefully: GOAWAY with the last stream Ferry took, whose streams
    /// finish; the connection closes after them (RFC 9113 §6.8).
    private func goAway() {
        guard let session, !goingAway else { return }
        goingAway = true
        nghttp2_submit_goaway(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), nghttp2_session_get_last_proc_stream_id(session),
                              NGHTTP2_NO_ERROR.rawValue, nil, 0)
        loop.scheduleFlush(self)
    }

    /// Ferry ends the connection over a protocol abuse: GOAWAY with `errorCode`, then close.
    private func terminate(_ reason: String, errorCode: nghttp2_error_code) {
        if let session {
            nghttp2_session_terminate_session(session, errorCode.rawValue)
            NGHTTP2.flush(session, to: connection)
        }
        connection.closeAfterFlush()
        slot.context.limitReporter.hit("http2", reason)
    }

    // MARK: nghttp2 events

    private static func connection(_ userData: UnsafeMutableRawPointer?) -> HTTP2ServerConnection {
        Unmanaged<HTTP2ServerConnection>.fromOpaque(userData!).takeUnretainedValue()
    }

    private func streamBegins(_ streamID: Int32) {
        if streams.isEmpty { connection.setReadTimeout(nanoseconds: nil) }
        streams[streamID] = HTTP2ServerStream(id: streamID, connection: self, context: slot.context)
    }

    private func streamClosed(_ streamID: Int32, errorCode: UInt32) {
        guard let stream = streams.removeValue(forKey: streamID) else { return }
        // DATA never released still counts against the connection window.
        if stream.unconsumedBytes > 0, let session { nghttp2_session_consume_connection(session, stream.unconsumedBytes) }
        stream.closed()
        if streams.isEmpty { connection.setReadTimeout(nanoseconds: slot.context.limits.idleTimeoutNanoseconds) }
    }

    private static func makeCallbacks() -> OpaquePointer {
        var callbacks: OpaquePointer?
        nghttp2_session_callbacks_new(&callbacks)
        nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks) { _, frame, userData in
            guard let frame, frame.pointee.headers.cat == NGHTTP2_HCAT_REQUEST else { return 0 }
            HTTP2ServerConnection.connection(userData).streamBegins(frame.pointee.hd.stream_id)
            return 0
        }
        nghttp2_session_callbacks_set_on_header_callback(callbacks) { _, frame, name, nameLength, value, valueLength, _, userData in
            guard let frame, let stream = HTTP2ServerConnection.connection(userData).streams[frame.pointee.hd.stream_id] else { return 0 }
            stream.headerField(name: name, nameLength: nameLength, value: value, valueLength: valueLength)
            return 0
        }
        nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks) { _, frame, userData in
            guard let frame else { return 0 }
            let connection = HTTP2ServerConnection.connection(userData)
            let header = frame.pointee.hd
            let endStream = header.flags & UInt8(NGHTTP2_FLAG_END_STREAM.rawValue) != 0
            guard let stream = connection.streams[header.stream_id] else { return 0 }
            switch UInt32(header.type) {
            case NGHTTP2_HEADERS.rawValue where frame.pointee.headers.cat == NGHTTP2_HCAT_REQUEST:
                stream.headEnded(endStream: endStream)
            case NGHTTP2_HEADERS.rawValue, NGHTTP2_DATA.rawValue:
                // Request trailers (ignored: gRPC requests have none) or DATA, ending the request.
                if endStream { stream.requestEnded() }
            default:
                break
            }
            return 0
        }
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks) { _, _, streamID, data, length, userData in
            guard let stream = HTTP2ServerConnection.connection(userData).streams[streamID] else { return 0 }
            stream.bodyReceived(UnsafeRawBufferPointer(start: data, count: length))
            return 0
        }
        nghttp2_session_callbacks_set_on_frame_send_callback(callbacks) { session, frame, _ in
            guard let session, let frame, frame.pointee.hd.flags & UInt8(NGHTTP2_FLAG_END_STREAM.rawValue) != 0 else { return 0 }
            let streamID = frame.pointee.hd.stream_id
            // The response is complete while the client still sends: RST_STREAM(NO_ERROR) tells
            // it to stop (RFC 9113 §8.1), after the response, which it must still read.
            if nghttp2_session_get_stream_remote_close(session, streamID) == 0 {
                nghttp2_submit_rst_stream(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), streamID, NGHTTP2_NO_ERROR.rawValue)
            }
            return 0
        }
        nghttp2_session_callbacks_set_on_begin_frame_callback(callbacks) { _, header, userData in
            guard let header else { return 0 }
            let connection = HTTP2ServerConnection.connection(userData)
            guard connection.emptyFrames.frameBegins(type: header.pointee.type, flags: header.pointee.flags, length: header.pointee.length) else { return 0 }
            // Stops nghttp2_session_mem_recv; the connection answers with GOAWAY once it returns.
            connection.emptyFrameFlood = true
            return Int32(NGHTTP2_ERR_CALLBACK_FAILURE.rawValue)
        }
        // Never returns an error: Debian's nghttp2 1.52 leaks on a fatal error here (CVE-2023-35945).
        nghttp2_session_callbacks_set_on_stream_close_callback(callbacks) { _, streamID, errorCode, userData in
            HTTP2ServerConnection.connection(userData).streamClosed(streamID, errorCode: errorCode)
            return 0
        }
        return callbacks!
    }
}

extension HTTP2ServerConnection: DownstreamConnection {
    /// The drain's grace period: a GOAWAY notice (last stream 2^31-1) tells the client to open
    /// its next streams elsewhere, while these still run (RFC 9113 §6.8).
    func closeAfterNextResponse() {
        guard let session, !goingAway else { return }
        nghttp2_submit_shutdown_notice(session)
        loop.scheduleFlush(self)
    }

    func drain() {
        goAway()
    }
}

extension HTTP2ServerConnection: BufferedConnectionDelegate {
    func connection(_ connection: BufferedConnection, received bytes: UnsafeRawBufferPointer) {
        guard let session else { return }
        if let failure = NGHTTP2.receive(session, bytes) {
            if emptyFrameFlood {
                terminate("HTTP/2 client sent more than \(emptyFrames.limit) empty frames in a row; GOAWAY(ENHANCE_YOUR_CALM)",
                          errorCode: NGHTTP2_ENHANCE_YOUR_CALM)
            } else {
                slot.context.limitReporter.hit("http2", "HTTP/2 protocol error from the client: \(failure)")
                connection.closeAfterFlush()
            }
            return
        }
        loop.scheduleFlush(self)
    }

    func connectionOutputDrained(_ connection: BufferedConnection) {
        loop.scheduleFlush(self)
    }

    func connectionDidConnect(_ connection: BufferedConnection) {}

    func connection(_ connection: BufferedConnection, didCloseWith reason: ConnectionCloseReason) {
        if reason == .timeout { slot.context.limits.reportIdleTimeout(to: slot.context.limitReporter) }
        let open = streams
        streams.removeAll()
        for (_, stream) in open.sorted(by: { $0.key < $1.key }) { stream.closed() }
        // No nghttp2 call may come after this: the session goes with the connection.
        if let session {
            self.session = nil
            nghttp2_session_del(session)
        }
        worker.connectionClosed(self, slot: slot)
    }
}
