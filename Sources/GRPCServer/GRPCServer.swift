// A small gRPC server over h2c on nghttp2's server API: enough for Ferry's bundled NodeService
// (demo and benchmarks). It serves registered methods plus grpc.health.v1.Health (GRPCHealth).
import CNghttp2
import FerryCore
import GRPCWeb
import HTTP2Support
import Logging
import Loop

public final class GRPCServer {
    let loop: EventLoop
    let handlers: [String: GRPCMethodHandler]
    let logger: Logger
    private var listener: TCPListener?
    private var connections: [ObjectIdentifier: GRPCServerConnection] = [:]

    /// - Parameter handlers: by path, e.g. `/node.v1.NodeService/GetNode`.
    public init(loop: EventLoop, address: SocketAddress, handlers: [String: GRPCMethodHandler], logger: Logger) throws {
        self.loop = loop
        self.logger = logger
        self.handlers = handlers.merging(GRPCHealth(servedPaths: handlers.keys).handlers) { registered, _ in registered }
        listener = try TCPListener(loop: loop, address: address) { [unowned self] fd in
            do {
                let connection = try GRPCServerConnection(server: self, socket: fd)
                connections[ObjectIdentifier(connection)] = connection
            } catch {
                self.logger.error("cannot accept: \(error)")
            }
        }
    }

    func connectionClosed(_ connection: GRPCServerConnection) {
        connections.removeValue(forKey: ObjectIdentifier(connection))
    }
}

final class GRPCServerConnection {
    private final class Stream {
        var headers = HeaderFields()
        var body: [UInt8] = []
        var responseStarted = false
        var stream: GRPCServerStream?
        var trailers = HeaderFields()
        /// A bidi call's request messages go here as they arrive (nil: the body is read whole).
        var receiver: (([UInt8]?) -> Void)?
        var decoder = GRPCFrameDecoder(maxMessageBytes: 64 << 20)
    }

    private unowned let server: GRPCServer
    private let connection: BufferedConnection
    private var session: OpaquePointer!
    private var streams: [Int32: Stream] = [:]
    private var receiving = false
    private var flushing = false
    private var flushAgain = false
    nonisolated(unsafe) private static let callbacks: OpaquePointer = makeCallbacks()

    init(server: GRPCServer, socket: Int32) throws {
        self.server = server
        connection = try BufferedConnection(loop: server.loop, acceptedSocket: socket)
        var settings = HTTP2SessionSettings()
        settings.maxConcurrentStreams = 1000
        settings.manualWindowUpdates = false
        session = NGHTTP2.makeSession(
            server: true, callbacks: GRPCServerConnection.callbacks, settings: settings,
            userData: Unmanaged.passUnretained(self).toOpaque())
        connection.delegate = self
        flush()
    }

    deinit {
        nghttp2_session_del(session)
    }

    /// Sends what nghttp2 has queued, then lets streaming handlers refill; repeats while they
    /// queued more (a handler's send re-enters here only to ask for another pass).
    private func flush() {
        guard !receiving else { return }
        guard !flushing else {
            flushAgain = true
            return
        }
        flushing = true
        defer { flushing = false }
        repeat {
            flushAgain = false
            if !NGHTTP2.flush(session, to: connection) {
                connection.close(reason: .error("HTTP/2 session error"))
                return
            }
            for stream in streams.values {
                if let writer = stream.stream, writer.queuedBytes < writer.writableThreshold, let onWritable = writer.onWritable {
                    onWritable()
                }
            }
        } while flushAgain
        if nghttp2_session_want_read(session) == 0 && nghttp2_session_want_write(session) == 0 {
            connection.closeAfterFlush()
        }
    }

    /// The request's headers are in: a bidi call starts now, anything else at END_STREAM.
    private func headersReceived(streamID: Int32) {
        guard let stream = streams[streamID], case .bidiStreaming(let start)? = server.handlers[stream.headers[":path"] ?? ""] else {
            return
        }
        let writer = startResponse(streamID: streamID, stream: stream, headers: HeaderFields())
        stream.receiver = start(stream.headers.withoutPseudoFields, writer)
    }

    /// DATA of a bidi call: each whole message goes to its receiver at once.
    private func bodyReceived(streamID: Int32, _ bytes: UnsafeRawBufferPointer) {
        guard let stream = streams[streamID] else { return }
        guard let receiver = stream.receiver else { return stream.body.append(contentsOf: bytes) }
        do {
            for frame in try stream.decoder.decode(bytes) { receiver(frame.payload) }
        } catch {
            stream.receiver = nil
            stream.stream?.finish(GRPCStatus(.internal, "malformed request: \(error)"))
        }
    }

    private func dispatch(streamID: Int32) {
        guard let stream = streams[streamID] else { return }
        if let receiver = stream.receiver {
            stream.receiver = nil
            do {
                try stream.decoder.finish()
                receiver(nil)
            } catch {
                stream.stream?.finish(GRPCStatus(.internal, "malformed request: \(error)"))
            }
            return
        }
        let path = stream.headers[":path"] ?? ""
        guard let handler = server.handlers[path] else {
            respond(streamID: streamID, status: GRPCStatus(.unimplemented, "method \(path) not found"))
            return
        }
        var decoder = GRPCFrameDecoder(maxMessageBytes: 64 << 20)
        let messages: [[UInt8]]
        do {
            messages = try decoder.decode(stream.body).map(\.payload)
            try decoder.finish()
        } catch {
            respond(streamID: streamID, status: GRPCStatus(.internal, "malformed request: \(error)"))
            return
        }
        stream.body = []
        let metadata = stream.headers.withoutPseudoFields
        let reply: GRPCReply
        do throws(GRPCStatus) {
            switch handler {
            case .unary(let handle):
                guard messages.count == 1 else {
                    throw GRPCStatus(.internal, "unary method \(path) got \(messages.count) request messages")
                }
                reply = try handle(messages[0], metadata)
            case .clientStreaming(let handle):
                reply = try handle(messages, metadata)
            case .serverStreaming(let handle):
                guard messages.count == 1 else {
                    throw GRPCStatus(.internal, "server-streaming method \(path) got \(messages.count) request messages")
                }
                let writer = startResponse(streamID: streamID, stream: stream, headers: HeaderFields())
                handle(messages[0], metadata, writer)
                return
            case .bidiStreaming:
                // Started at its headers (headersReceived); its receiver is gone only after an error.
                return
            }
        } catch {
            respond(streamID: streamID, status: error)
            return
        }
        let writer = startResponse(streamID: streamID, stream: stream, headers: reply.headers)
        stream.trailers = reply.trailers
        writer.send(reply.message)
        writer.finish()
    }

    /// Sends response headers; the body and trailers come from the returned stream.
    private func startResponse(streamID: Int32, stream: Stream, headers: HeaderFields) -> GRPCServerStream {
        let writer = GRPCServerStream(loop: server.loop)
        stream.stream = writer
        writer.resume = { [unowned self] in
            nghttp2_session_resume_data(session, streamID)
            flush()
        }
        var fields: HeaderFields = [":status": "200", "content-type": "application/grpc"]
        fields.append(contentsOf: headers)
        var provider = nghttp2_data_provider(
            source: nghttp2_data_source(ptr: nil),
            read_callback: { _, streamID, buffer, length, flags, _, userData in
                GRPCServerConnection.withConnection(userData) {
                    $0.readResponse(streamID: streamID, into: buffer!, length: length, flags: flags!)
                }
            })
        _ = NGHTTP2.withHeaderBlock(fields) { block, count in
            nghttp2_submit_response(session, streamID, block, count, &provider)
        }
        return writer
    }

    private func readResponse(
        streamID: Int32, into buffer: UnsafeMutablePointer<UInt8>, length: Int,
        flags: UnsafeMutablePointer<UInt32>
    ) -> Int {
        guard let stream = streams[streamID], let writer = stream.stream else {
            return Int(NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE.rawValue)
        }
        let count = writer.outgoing.take(into: buffer, maxLength: length)
        if writer.queuedBytes == 0, let status = writer.finalStatus {
            // End the body but not the stream: the trailers carry END_STREAM.
            flags.pointee |= UInt32(NGHTTP2_DATA_FLAG_EOF.rawValue | NGHTTP2_DATA_FLAG_NO_END_STREAM.rawValue)
            var trailers = status.trailerFields
            trailers.append(contentsOf: stream.trailers)
            _ = NGHTTP2.withHeaderBlock(trailers) { block, count in
                nghttp2_submit_trailer(session, streamID, block, count)
            }
            return count
        }
        return count == 0 ? Int(NGHTTP2_ERR_DEFERRED.rawValue) : count
    }

    /// A trailers-only response: HEADERS with the status and END_STREAM.
    private func respond(streamID: Int32, status: GRPCStatus) {
        var fields: HeaderFields = [":status": "200", "content-type": "application/grpc"]
        fields.append(contentsOf: status.trailerFields)
        _ = NGHTTP2.withHeaderBlock(fields) { block, count in
            nghttp2_submit_response(session, streamID, block, count, nil)
        }
    }

    private static func withConnection<Result>(
        _ userData: UnsafeMutableRawPointer?, _ body: (GRPCServerConnection) -> Result
    ) -> Result {
        NGHTTP2.withOwner(userData, body)
    }

    private static func makeCallbacks() -> OpaquePointer {
        var callbacks: OpaquePointer?
        nghttp2_session_callbacks_new(&callbacks)
        nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks) { _, frame, userData in
            guard let frame, UInt32(frame.pointee.hd.type) == NGHTTP2_HEADERS.rawValue,
                frame.pointee.headers.cat == NGHTTP2_HCAT_REQUEST
            else { return 0 }
            GRPCServerConnection.withConnection(userData) { $0.streams[frame.pointee.hd.stream_id] = Stream() }
            return 0
        }
        nghttp2_session_callbacks_set_on_header_callback(callbacks) { _, frame, name, nameLength, value, valueLength, _, userData in
            guard let frame, let stream = GRPCServerConnection.withConnection(userData, { $0.streams[frame.pointee.hd.stream_id] }) else {
                return 0
            }
            stream.headers.append(name: name, nameLength: nameLength, value: value, valueLength: valueLength)
            return 0
        }
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks) { _, _, streamID, data, length, userData in
            GRPCServerConnection.withConnection(userData) {
                $0.bodyReceived(streamID: streamID, UnsafeRawBufferPointer(start: data, count: length))
            }
            return 0
        }
        nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks) { _, frame, userData in
            guard let frame else { return 0 }
            let type = UInt32(frame.pointee.hd.type)
            if type == NGHTTP2_HEADERS.rawValue, frame.pointee.headers.cat == NGHTTP2_HCAT_REQUEST {
                GRPCServerConnection.withConnection(userData) { $0.headersReceived(streamID: frame.pointee.hd.stream_id) }
            }
            if (type == NGHTTP2_HEADERS.rawValue || type == NGHTTP2_DATA.rawValue),
                frame.pointee.hd.flags & UInt8(NGHTTP2_FLAG_END_STREAM.rawValue) != 0
            {
                GRPCServerConnection.withConnection(userData) { $0.dispatch(streamID: frame.pointee.hd.stream_id) }
            }
            return 0
        }
        nghttp2_session_callbacks_set_on_stream_close_callback(callbacks) { _, streamID, _, userData in
            let writer = GRPCServerConnection.withConnection(userData) { $0.streams.removeValue(forKey: streamID)?.stream }
            if let writer, writer.finalStatus == nil {
                writer.isCancelled = true
                writer.onCancel?()
            }
            return 0
        }
        return callbacks!
    }
}

extension GRPCServerConnection: BufferedConnectionDelegate {
    func connection(_ connection: BufferedConnection, received bytes: UnsafeRawBufferPointer) {
        receiving = true
        let failure = NGHTTP2.receive(session, bytes)
        receiving = false
        if let failure {
            connection.close(reason: .error(failure.description))
            return
        }
        flush()
    }

    func connectionOutputDrained(_ connection: BufferedConnection) {}
    func connectionDidConnect(_ connection: BufferedConnection) {}

    func connection(_ connection: BufferedConnection, didCloseWith reason: ConnectionCloseReason) {
        for stream in streams.values {
            stream.stream?.isCancelled = true
            stream.stream?.onCancel?()
        }
        streams.removeAll()
        server.connectionClosed(self)
    }
}
