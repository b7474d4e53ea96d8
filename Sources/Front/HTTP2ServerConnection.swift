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
    /// The worker owns its connections, so it outlives them, and a strong reference back would
    /// be a cycle. Used only when the connection closes, so the retain a use of an
    /// `unowned(unsafe)` reference costs is off the hot path.
    private unowned(unsafe) let worker: Worker
    let loop: EventLoop
    /// The worker's, lent to the requests in progress (their records). Strong, so that a use
    /// borrows it (see HTTP1ServerConnection.scratch).
    let scratch: ConnectionScratch
    /// `IP:port` of the client (empty without an access log).
    let peer: String
    private var session: OpaquePointer?
    private var streams: [Int32: HTTP2ServerStream] = [:]
    /// Each response's header block with `:status`, built in place (nghttp2 copies it), its
    /// storage kept between responses.
    private var responseFields = HeaderFields()
    private var emptyFrames = EmptyFrameFloodGuard()
    private var keepalive: KeepaliveEnforcement
    private var resets: StreamResetGuard
    /// An abuse found inside an nghttp2 callback, which then stops the read; the connection
    /// ends with GOAWAY once nghttp2 has returned (no nghttp2 call may be made from inside).
    private var abuse: HTTP2Abuse?
    /// Fires at the earliest receive deadline of the streams (`armedDeadline`).
    private var deadlineTimer: LoopTimer?
    private var armedDeadline: UInt64?
    /// GOAWAY sent: no new streams; the connection closes once the open ones end.
    private var goingAway = false
    var flushScheduled = false
    /// The verified client certificate's subject (RFC 2253), on a mutual-TLS listener.
    private(set) lazy var clientIdentity: CertificateIdentity? = slot.context.verifiesClients ? connection.peerIdentity : nil
    /// Output queued for the socket past which nothing more is serialized: a client that does
    /// not read holds its streams' data in them (and so, through UpstreamCredit, in the backends).
    static let outputLimitBytes = 1 << 20
    /// Read-only once built; nghttp2 copies it into each session, so sharing across threads is safe.
    nonisolated(unsafe) private static let callbacks: OpaquePointer = makeCallbacks()

    init?(connection: BufferedConnection, slot: ListenerSlot, worker: Worker, peer: String) {
        guard let settings = slot.context.http2 else { return nil }
        self.connection = connection
        self.slot = slot
        self.worker = worker
        scratch = worker.scratch
        self.peer = peer
        loop = worker.loop
        keepalive = KeepaliveEnforcement(minimumIntervalNanoseconds: settings.minPingIntervalNanoseconds)
        resets = StreamResetGuard(now: EventLoop.monotonicNow)
        var sessionSettings = HTTP2SessionSettings()
        sessionSettings.maxConcurrentStreams = UInt32(settings.maxConcurrentStreams)
        sessionSettings.streamWindowBytes = Int32(settings.streamWindowBytes)
        sessionSettings.connectionWindowBytes = Int32(settings.connectionWindowBytes)
        sessionSettings.maxHeaderListBytes = UInt32(slot.context.limits.maxHeaderBytes)
        session = NGHTTP2.makeSession(
            server: true, callbacks: HTTP2ServerConnection.callbacks, settings: sessionSettings,
            userData: Unmanaged.passUnretained(self).toOpaque())
        guard session != nil else { return nil }
        connection.delegate = self
        connection.setOutputLowWatermark(Self.outputLimitBytes / 2)
        connection.setReadTimeout(nanoseconds: slot.context.limits.idleTimeoutNanoseconds)
        loop.scheduleFlush(self)
    }

    deinit {
        if let session { nghttp2_session_del(session) }
        deadlineTimer?.cancel()
    }

    // MARK: For the streams

    func submitResponse(_ streamID: Int32, status: Int, headers: HeaderFields, contentLength: Int?) {
        guard let session else { return }
        responseFields.removeAll()
        responseFields.append(name: ":status", value: String(status))
        responseFields.append(contentsOf: headers)
        if let contentLength, contentLength > 0 { responseFields.append(name: "content-length", value: String(contentLength)) }
        var provider = nghttp2_data_provider(
            source: nghttp2_data_source(ptr: nil),
            read_callback: { session, streamID, buffer, length, flags, _, userData in
                guard let session, let stream = HTTP2ServerConnection.withConnection(userData, { $0.streams[streamID] }) else {
                    return Int(NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE.rawValue)
                }
                return stream.responseBytes(into: buffer!, maxLength: length, flags: flags!, session: session)
            })
        let result = NGHTTP2.withHeaderBlock(responseFields) { block, count in
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

    // MARK: Draining

    func flush() {
        guard let session else { return }
        NGHTTP2.send(session, to: connection, outputLimit: Self.outputLimitBytes)
    }

    /// Ends the connection gracefully: GOAWAY with the last stream Ferry took, whose streams
    /// finish; the connection closes after them (RFC 9113 §6.8).
    private func goAway() {
        guard let session, !goingAway else { return }
        goingAway = true
        NGHTTP2.submitGoAway(session)
        loop.scheduleFlush(self)
    }

    /// Ferry ends the connection over an abuse: GOAWAY with its code and debug data is written
    /// if the socket takes it now, then the connection closes at once (a client that stopped
    /// reading must not keep it open); its streams' calls are cancelled.
    private func terminate(_ abuse: HTTP2Abuse) {
        slot.context.limitReporter.hit(abuse.limit, abuse.reason)
        NGHTTP2.terminate(session, connection, code: abuse.code, debugData: abuse.debugData, reason: abuse.reason)
    }

    // MARK: Receive deadlines (slowloris)

    /// A stream waits for the rest of its head or its body until `deadline`: the timer is
    /// armed for it unless it already fires sooner.
    func armReceiveDeadline(_ deadline: UInt64) {
        if let armedDeadline, armedDeadline <= deadline { return }
        armedDeadline = deadline
        if deadlineTimer == nil {
            deadlineTimer = LoopTimer(loop: loop) { [unowned self] in receiveDeadlinePassed() }
        }
        let now = EventLoop.monotonicNow
        deadlineTimer?.schedule(afterNanoseconds: deadline > now ? deadline - now : 0)
    }

    /// Streams past their deadline are answered (a body) or end the connection (a header
    /// block, which holds up every other stream: RFC 9113 §6.10); the timer is armed for the
    /// next one.
    private func receiveDeadlinePassed() {
        armedDeadline = nil
        let now = EventLoop.monotonicNow
        var next: UInt64?
        for stream in streams.values.sorted(by: { $0.id < $1.id }) {
            guard let deadline = stream.receiveDeadline else { continue }
            if deadline > now {
                next = min(next ?? deadline, deadline)
            } else if stream.awaitsHead {
                let budget = GRPCTimeout(nanoseconds: Int64(slot.context.limits.headerReadTimeoutNanoseconds))
                return terminate(
                    HTTP2Abuse(
                        limit: "header_read_timeout", reason: "HTTP/2 header block not received within \(budget)",
                        code: NGHTTP2_ENHANCE_YOUR_CALM, debugData: "header_read_timeout"))
            } else {
                stream.receiveDeadlinePassed()
            }
        }
        if let next { armReceiveDeadline(next) }
    }

    // MARK: nghttp2 events

    private static func withConnection<Result>(
        _ userData: UnsafeMutableRawPointer?, _ body: (HTTP2ServerConnection) -> Result
    ) -> Result {
        NGHTTP2.withOwner(userData, body)
    }

    private func streamBegins(_ streamID: Int32) {
        if streams.isEmpty { connection.setReadTimeout(nanoseconds: nil) }
        streams[streamID] = HTTP2ServerStream(id: streamID, connection: self, context: slot.context)
    }

    /// The client reset a stream: premature (before its response ended) resets beyond the
    /// guard's rate are Rapid Reset.
    private func streamReset(_ streamID: Int32) -> Bool {
        guard let stream = streams[streamID], !stream.responseComplete, resets.prematureReset(now: EventLoop.monotonicNow) else {
            return true
        }
        abuse = HTTP2Abuse(
            limit: "http2_rapid_reset",
            reason: "HTTP/2 client reset streams faster than \(Int(resets.perSecond)) a second (Rapid Reset); GOAWAY(ENHANCE_YOUR_CALM)",
            code: NGHTTP2_ENHANCE_YOUR_CALM, debugData: "rapid_reset")
        return false
    }

    private func pingReceived() -> Bool {
        guard keepalive.pingReceived(now: EventLoop.monotonicNow) else { return true }
        let interval = GRPCTimeout(nanoseconds: Int64(keepalive.minimumIntervalNanoseconds))
        abuse = HTTP2Abuse(
            limit: "http2_min_ping_interval",
            reason:
                "HTTP/2 client sent PINGs more often than every \(interval) \(keepalive.maxStrikes + 1) times; GOAWAY(ENHANCE_YOUR_CALM, too_many_pings)",
            code: NGHTTP2_ENHANCE_YOUR_CALM, debugData: "too_many_pings")
        return false
    }

    private func streamClosed(_ streamID: Int32) {
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
            HTTP2ServerConnection.withConnection(userData) { $0.streamBegins(frame.pointee.hd.stream_id) }
            return 0
        }
        nghttp2_session_callbacks_set_on_header_callback(callbacks) { _, frame, name, nameLength, value, valueLength, _, userData in
            guard let frame, let stream = HTTP2ServerConnection.withConnection(userData, { $0.streams[frame.pointee.hd.stream_id] }) else {
                return 0
            }
            stream.headerField(name: name, nameLength: nameLength, value: value, valueLength: valueLength)
            return 0
        }
        nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks) { _, frame, userData in
            guard let frame else { return 0 }
            return HTTP2ServerConnection.withConnection(userData) { $0.frameReceived(frame) }
        }
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks) { _, _, streamID, data, length, userData in
            guard let stream = HTTP2ServerConnection.withConnection(userData, { $0.streams[streamID] }) else { return 0 }
            stream.bodyReceived(UnsafeRawBufferPointer(start: data, count: length))
            return 0
        }
        nghttp2_session_callbacks_set_on_frame_send_callback(callbacks) { session, frame, userData in
            guard let session, let frame else { return 0 }
            let type = UInt32(frame.pointee.hd.type)
            guard type == NGHTTP2_HEADERS.rawValue || type == NGHTTP2_DATA.rawValue else { return 0 }
            HTTP2ServerConnection.withConnection(userData) { $0.keepalive.responseSent() }
            guard frame.pointee.hd.flags & UInt8(NGHTTP2_FLAG_END_STREAM.rawValue) != 0 else { return 0 }
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
            return HTTP2ServerConnection.withConnection(userData) { connection in
                let frame = header.pointee
                guard connection.emptyFrames.frameBegins(type: frame.type, flags: frame.flags, length: frame.length) else { return 0 }
                // Stops nghttp2_session_mem_recv; the connection answers with GOAWAY once it returns.
                connection.abuse = HTTP2Abuse(
                    limit: "http2_empty_frames",
                    reason: "HTTP/2 client sent more than \(connection.emptyFrames.limit) empty frames in a row; GOAWAY(ENHANCE_YOUR_CALM)",
                    code: NGHTTP2_ENHANCE_YOUR_CALM, debugData: "empty_frames")
                return Int32(NGHTTP2_ERR_CALLBACK_FAILURE.rawValue)
            }
        }
        // Never returns an error: Debian's nghttp2 1.52 leaks on a fatal error here (CVE-2023-35945).
        nghttp2_session_callbacks_set_on_stream_close_callback(callbacks) { _, streamID, _, userData in
            HTTP2ServerConnection.withConnection(userData) { $0.streamClosed(streamID) }
            return 0
        }
        return callbacks!
    }

    /// A whole frame is in (nghttp2's on_frame_recv).
    private func frameReceived(_ frame: UnsafePointer<nghttp2_frame>) -> Int32 {
        let header = frame.pointee.hd
        let endStream = header.flags & UInt8(NGHTTP2_FLAG_END_STREAM.rawValue) != 0
        switch UInt32(header.type) {
        case NGHTTP2_PING.rawValue where header.flags & UInt8(NGHTTP2_FLAG_ACK.rawValue) == 0:
            return pingReceived() ? 0 : Int32(NGHTTP2_ERR_CALLBACK_FAILURE.rawValue)
        case NGHTTP2_RST_STREAM.rawValue:
            return streamReset(header.stream_id) ? 0 : Int32(NGHTTP2_ERR_CALLBACK_FAILURE.rawValue)
        default:
            break
        }
        guard let stream = streams[header.stream_id] else { return 0 }
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
            // nghttp2 has queued its own GOAWAY for a protocol error or a flood (FLOODED: ACKs
            // the client does not read, too many CONTINUATION frames); ours for an abuse.
            terminate(
                abuse
                    ?? (failure.isFlood
                        ? HTTP2Abuse(
                            limit: "http2_flood", reason: "HTTP/2 client flooded the connection: \(failure); GOAWAY(ENHANCE_YOUR_CALM)",
                            code: NGHTTP2_ENHANCE_YOUR_CALM, debugData: "flood")
                        : HTTP2Abuse(
                            limit: "http2_protocol_error", reason: "HTTP/2 protocol error from the client: \(failure)",
                            code: NGHTTP2_PROTOCOL_ERROR, debugData: "")))
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

/// Why Ferry ends an HTTP/2 connection itself: the limit counted, the log's reason, and the
/// GOAWAY's error code and debug data (RFC 9113 §6.8).
private struct HTTP2Abuse {
    var limit: String
    var reason: String
    var code: nghttp2_error_code
    var debugData: String
}
