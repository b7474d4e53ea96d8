// The nghttp2 border shared by the HTTP/2 client (Upstream) and server (GRPCServer):
// session creation with Ferry's settings, header blocks in and out, and the send loop.
import CNghttp2
import FerryCore
import Loop

/// Settings Ferry applies to every HTTP/2 session it creates.
public struct HTTP2SessionSettings: Sendable {
    /// SETTINGS_INITIAL_WINDOW_SIZE: how much a peer may send on one stream before we consume.
    /// With manual window updates this bounds the memory a stream can hold (RFC 9113 §6.9).
    public var streamWindowBytes: Int32 = 256 * 1024
    /// The connection-level receive window.
    public var connectionWindowBytes: Int32 = 16 * 1024 * 1024
    public var maxConcurrentStreams: UInt32 = 1024
    /// Window updates only when the application consumes (backpressure), instead of as soon as
    /// DATA arrives.
    public var manualWindowUpdates = true
    /// SETTINGS_MAX_HEADER_LIST_SIZE advertised to the peer (RFC 9113 §6.5.2); nil: none. The
    /// receiver enforces it itself (nghttp2 only announces it).
    public var maxHeaderListBytes: UInt32?

    public init() {}
}

public enum NGHTTP2 {
    /// Calls `body` with the owner of a session, from the user data its callbacks get, without
    /// a retain and a release (two atomic operations, about ten per call across the callbacks;
    /// issue 19). nghttp2 calls back only from within `nghttp2_session_mem_recv`,
    /// `nghttp2_session_mem_send` or a submit, which the owner's own methods make: it is alive.
    @inline(__always)
    public static func withOwner<Owner: AnyObject, Result>(
        _ userData: UnsafeMutableRawPointer?, _ body: (Owner) throws(Never) -> Result
    ) -> Result {
        Unmanaged<Owner>.fromOpaque(userData!)._withUnsafeGuaranteedRef(body)
    }

    /// Creates a client or server session with the given callbacks and settings, and queues the
    /// initial SETTINGS (and, for a client, the connection preface).
    public static func makeSession(
        server: Bool, callbacks: OpaquePointer,
        settings: HTTP2SessionSettings,
        userData: UnsafeMutableRawPointer
    ) -> OpaquePointer? {
        var option: OpaquePointer?
        nghttp2_option_new(&option)
        defer { nghttp2_option_del(option) }
        if settings.manualWindowUpdates { nghttp2_option_set_no_auto_window_update(option, 1) }
        // Closed streams are kept only for RFC 7540 priorities, which Ferry does not use.
        nghttp2_option_set_no_closed_streams(option, 1)
        var session: OpaquePointer?
        let result =
            server
            ? nghttp2_session_server_new2(&session, callbacks, userData, option)
            : nghttp2_session_client_new2(&session, callbacks, userData, option)
        guard result == 0, let session else { return nil }
        var entries = [
            nghttp2_settings_entry(
                settings_id: Int32(NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS.rawValue),
                value: settings.maxConcurrentStreams),
            nghttp2_settings_entry(
                settings_id: Int32(NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE.rawValue),
                value: UInt32(settings.streamWindowBytes)),
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_ENABLE_PUSH.rawValue), value: 0),
            // Ferry sends no RFC 7540 priority signals and heeds none (RFC 9218 §2.1): nghttp2
            // then schedules streams without the dependency tree.
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_NO_RFC7540_PRIORITIES.rawValue), value: 1),
        ]
        if let maxHeaderListBytes = settings.maxHeaderListBytes {
            entries.append(
                nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE.rawValue), value: maxHeaderListBytes))
        }
        nghttp2_submit_settings(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), &entries, entries.count)
        nghttp2_session_set_local_window_size(
            session, UInt8(NGHTTP2_FLAG_NONE.rawValue), 0,
            settings.connectionWindowBytes)
        return session
    }

    /// Serializes every pending frame into the connection's output buffer.
    /// Returns false when nghttp2 reports a fatal error.
    @discardableResult
    public static func flush(_ session: OpaquePointer, to connection: BufferedConnection) -> Bool {
        while true {
            var data: UnsafePointer<UInt8>?
            let length = nghttp2_session_mem_send(session, &data)
            if length < 0 { return false }
            if length == 0 { return true }
            connection.write(UnsafeRawBufferPointer(start: data, count: length))
        }
    }

    /// Serializes what the session has queued into `connection`'s output, once per loop
    /// iteration, unless `outputLimit` bytes already wait for the socket: a peer that stops
    /// reading gets no more frames, so what it makes the session answer (PING and SETTINGS
    /// ACKs) waits in nghttp2, whose limit on queued ACKs ends a flood (NGHTTP2_ERR_FLOODED),
    /// instead of in an output buffer that would grow with the flood. A session error closes the
    /// connection; a session that wants nothing more (after GOAWAY) closes it once written.
    public static func send(_ session: OpaquePointer, to connection: BufferedConnection, outputLimit: Int) {
        guard connection.outputLength < outputLimit else { return }
        if !flush(session, to: connection) {
            connection.close(reason: .error("HTTP/2 session error"))
            return
        }
        if nghttp2_session_want_read(session) == 0 && nghttp2_session_want_write(session) == 0 {
            connection.closeAfterFlush()
        }
    }

    /// GOAWAY naming the last stream the session processed (RFC 9113 §6.8): no new streams;
    /// with an error `code` and `debugData`, why the connection ends.
    public static func submitGoAway(_ session: OpaquePointer, code: nghttp2_error_code = NGHTTP2_NO_ERROR, debugData: String = "") {
        let data = Array(debugData.utf8)
        nghttp2_submit_goaway(
            session, UInt8(NGHTTP2_FLAG_NONE.rawValue), nghttp2_session_get_last_proc_stream_id(session), code.rawValue, data, data.count)
    }

    /// Ends the connection now: GOAWAY with `code` is written if the socket takes it at once,
    /// then the socket closes with `reason` (a peer that stopped reading must not keep it open).
    public static func terminate(
        _ session: OpaquePointer?, _ connection: BufferedConnection, code: nghttp2_error_code, debugData: String = "", reason: String
    ) {
        if let session {
            submitGoAway(session, code: code, debugData: debugData)
            flush(session, to: connection)
            connection.flush()
        }
        connection.close(reason: .error(reason))
    }

    /// A fatal error of `nghttp2_session_mem_recv`: the session must end.
    public struct ReceiveError: Error, CustomStringConvertible {
        public var code: nghttp2_error

        /// The peer flooded the session: ACKs it does not read (NGHTTP2_ERR_FLOODED), or a
        /// header block in too many CONTINUATION frames (CVE-2024-27316 class).
        public var isFlood: Bool { code == NGHTTP2_ERR_FLOODED || code == NGHTTP2_ERR_TOO_MANY_CONTINUATIONS }

        public var description: String { String(cString: nghttp2_strerror(code.rawValue)) }
    }

    /// Feeds received bytes to the session; nil, or the fatal error that ends it.
    public static func receive(_ session: OpaquePointer, _ bytes: UnsafeRawBufferPointer) -> ReceiveError? {
        guard let base = bytes.baseAddress else { return nil }
        let result = nghttp2_session_mem_recv(session, base.assumingMemoryBound(to: UInt8.self), bytes.count)
        return result < 0 ? ReceiveError(code: nghttp2_error(Int32(result))) : nil
    }

    /// Calls `body` with an nghttp2 header block pointing into the storage of `fields`, which
    /// nghttp2 copies during the submit: the pointers only live for the call.
    public static func withHeaderBlock<R>(_ fields: HeaderFields, _ body: (UnsafeMutablePointer<nghttp2_nv>, Int) -> R) -> R {
        withUnsafeTemporaryAllocation(of: nghttp2_nv.self, capacity: max(fields.count, 1)) { block in
            var next = 0
            appendEntries(of: fields, flags: NGHTTP2_NV_FLAG_NONE, to: block, at: &next)
            return body(block.baseAddress!, next)
        }
    }

    /// Calls `body` with an upstream request's header block made of four parts kept apart, none
    /// copied into the others: the connection's pseudo-fields, the method's fields, the
    /// attempt's fields and the call's metadata. nghttp2 reads all but the attempt's fields in
    /// place when it serializes the HEADERS frame (NGHTTP2_NV_FLAG_NO_COPY_NAME and _VALUE: no
    /// copy, and no second lower-casing of names that are lower-case already, about 1,200
    /// instructions a call). So the caller keeps those three alive and unchanged until then.
    /// The attempt's fields (a deadline, a retry count) change from attempt to attempt and are
    /// copied.
    public static func withRequestHeaderBlock<R>(
        connectionFields: HeaderFields, methodFields: HeaderFields, attemptFields: HeaderFields, metadata: HeaderFields,
        _ body: (UnsafeMutablePointer<nghttp2_nv>, Int) -> R
    ) -> R {
        let count = connectionFields.count + methodFields.count + attemptFields.count + metadata.count
        return withUnsafeTemporaryAllocation(of: nghttp2_nv.self, capacity: max(count, 1)) { block in
            let inPlace = nghttp2_nv_flag(NGHTTP2_NV_FLAG_NO_COPY_NAME.rawValue | NGHTTP2_NV_FLAG_NO_COPY_VALUE.rawValue)
            var next = 0
            appendEntries(of: connectionFields, flags: inPlace, to: block, at: &next)
            appendEntries(of: methodFields, flags: inPlace, to: block, at: &next)
            appendEntries(of: attemptFields, flags: NGHTTP2_NV_FLAG_NONE, to: block, at: &next)
            appendEntries(of: metadata, flags: inPlace, to: block, at: &next)
            return body(block.baseAddress!, next)
        }
    }

    /// Entries for the fields of `part`, pointing into its storage, from `block[next]` on.
    private static func appendEntries(
        of part: HeaderFields, flags: nghttp2_nv_flag, to block: UnsafeMutableBufferPointer<nghttp2_nv>, at next: inout Int
    ) {
        part.withUnsafeStorage { storage in
            guard let start = storage.baseAddress else { return }
            let base = UnsafeMutablePointer(mutating: start.assumingMemoryBound(to: UInt8.self))
            for index in 0..<part.count {
                let (name, value) = part.ranges(at: index)
                block[next] = nghttp2_nv(
                    name: base + name.lowerBound, value: base + value.lowerBound,
                    namelen: name.count, valuelen: value.count, flags: UInt8(flags.rawValue))
                next += 1
            }
        }
    }
}

extension HeaderFields {
    /// Appends a field nghttp2 hands to `on_header_callback`. Its name is lower-case: with
    /// HTTP messaging on (never turned off here) nghttp2 fails a stream whose block holds an
    /// upper-case name and leaves out names it finds otherwise invalid (`nghttp2_http_on_header`).
    public mutating func append(
        name: UnsafePointer<UInt8>?, nameLength: Int,
        value: UnsafePointer<UInt8>?, valueLength: Int
    ) {
        append(
            lowerCaseName: UnsafeRawBufferPointer(start: name, count: nameLength),
            value: UnsafeRawBufferPointer(start: value, count: valueLength))
    }
}
