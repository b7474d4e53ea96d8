// One downstream HTTP/1.1 connection: parses requests strictly, answers CORS preflights and
// errors itself, and runs one gRPC-Web exchange at a time (RFC 9112 keep-alive; pipelined
// requests wait in the parser's buffer).
import Config
import FerryCore
import GRPCWeb
import HTTP1
import Loop
import Observability
import Routing
import Transcode
import Upstream

final class HTTP1ServerConnection {
    private enum State {
        case awaitingRequest
        case receiving(HTTP1RequestHead, ClassifiedRequest)
        case exchanging(any DownstreamExchange, keepAlive: Bool)
        case closed
    }

    /// Which budget of the request being received the receive timer enforces (slowloris).
    private enum ReceiveDeadline {
        case none
        /// The head must arrive within `header_read_timeout` of its first byte (Envoy's
        /// `request_headers_timeout`): a budget, not restarted by each read.
        case head
        /// The body must arrive within `request_body_timeout` of the head's end.
        case body
    }

    private let connection: BufferedConnection
    /// The listener's context when the current request started (a reload replaces the slot's).
    private var context: ListenerContext
    private let slot: ListenerSlot
    /// The worker owns its connections (see GRPCWebExchange.connection for unowned(unsafe)).
    private unowned(unsafe) let worker: Worker
    private var parser: HTTP1RequestParser
    private var state: State = .awaitingRequest
    /// Holds one chunk-size line at a time, so that writing a chunk allocates nothing.
    private var chunkHeader: [UInt8] = []
    /// Set by drain: finish the current exchange, then close.
    private var closeAfterExchange = false
    /// Armed only while a request waits for more of its bytes.
    private var receiveDeadline = ReceiveDeadline.none
    private var receiveTimer: LoopTimer?
    /// Ferry answered before the request's body ended: the close lingers (BufferedConnection).
    private var requestBodyUnread = false
    /// Body bytes of a request whose answer was decided from its head, dropped so far.
    private var discardedBodyBytes = 0
    /// Past this, such a body is not read to its end: the answer goes at once.
    static let simpleBodyDiscardLimit = 64 * 1024
    /// `IP:port` of the client (empty without an access log).
    private let peer: String
    /// The request in progress, as the access log and the counts will record it; nil when
    /// neither is on, or between requests.
    private var record: AccessRecord?
    /// One record per connection, reused for each of its requests.
    private var recordStorage: AccessRecord?
    /// The verified client certificate's subject (RFC 2253), on a mutual-TLS listener; looked
    /// up at the first request.
    private lazy var clientSubject: String? = context.verifiesClients ? connection.peerSubject : nil

    init(connection: BufferedConnection, slot: ListenerSlot, worker: Worker, peer: String) {
        self.connection = connection
        self.peer = peer
        self.slot = slot
        let context = slot.context
        self.context = context
        self.worker = worker
        parser = HTTP1RequestParser(limits: .init(maxHeaderBytes: context.limits.maxHeaderBytes,
                                                  maxHeaderFields: context.limits.maxHeaderFields))
        connection.delegate = self
        connection.setOutputLowWatermark(context.limits.bufferLimitBytes / 2)
        connection.setReadTimeout(nanoseconds: context.limits.idleTimeoutNanoseconds)
    }

    var isIdle: Bool {
        if case .awaitingRequest = state { return parser.isIdle }
        return false
    }

    /// The drain's grace period began: the next response says `Connection: close`, so that
    /// keep-alive clients move to another instance while this one still serves.
    func closeAfterNextResponse() {
        closeAfterExchange = true
    }

    /// Drain: idle connections close now, busy ones after their exchange.
    func drain() {
        closeAfterExchange = true
        if isIdle { connection.close(reason: .endOfStream) }
    }

    // MARK: Request processing

    private func processInput() {
        while true {
            switch state {
            case .exchanging:
                // Unprocessed input beyond the buffer limit stops reading until the exchange ends.
                if parser.bufferedByteCount > context.limits.bufferLimitBytes {
                    connection.setReading(false)
                    context.limitReporter.hit("buffer_limit_bytes", "pipelined input above \(context.limits.bufferLimitBytes) bytes; reading paused")
                }
                return
            case .closed:
                return
            case .awaitingRequest, .receiving:
                break
            }
            let event: HTTP1RequestParser.Event?
            do {
                event = try parser.next()
            } catch {
                switch error {
                case .headerSectionTooLarge: context.limitReporter.hit("max_header_bytes", "\(error)")
                case .tooManyHeaderFields: context.limitReporter.hit("max_header_fields", "\(error)")
                default: break
                }
                respondAndClose(HTTP1ResponseHead(status: error.status), body: "\(error)\n")
                return
            }
            guard let event else {
                // A request has started (head or body partly here): it must keep arriving.
                armReceiveDeadline()
                return
            }
            switch event {
            case .head(let head, let framing):
                if case .awaitingRequest = state { context = slot.context }
                let request = RequestClassifier(context: context).classify(head, framing: framing)
                if context.recordsRequests {
                    let started = recordStorage ?? AccessRecord()
                    recordStorage = started
                    started.begin(head: head, request: request, clientSubject: clientSubject, logged: context.accessLog != nil)
                    record = started
                }
                state = .receiving(head, request)
                discardedBodyBytes = 0
                if case .grpcWeb(let call) = request, let failure = call.failure,
                   case .contentLength(let length) = framing, length > context.limits.bodyLimit(for: call.contentType) {
                    // Too large to take: answered now, before the body.
                    refuseBeforeBodyEnds(head, call, failure)
                    return
                }
            case .body(let chunk):
                record?.bytesIn += chunk.count
                guard case .receiving(let head, let request) = state else { break }
                let call: PendingGRPCWebCall
                switch request {
                case .simple(let response, let body):
                    // The answer is decided: the body is dropped as it comes, up to a bound past
                    // which the answer goes at once.
                    discardedBodyBytes += chunk.count
                    if discardedBodyBytes > Self.simpleBodyDiscardLimit {
                        requestBodyUnread = true
                        respond(response, body: body, keepAlive: false)
                        return
                    }
                    continue
                case .rest(let rest):
                    guard rest.body.count + chunk.count <= context.limits.maxMessageBytes else {
                        context.limitReporter.hit("max_message_bytes", "REST request body above \(context.limits.maxMessageBytes) bytes")
                        requestBodyUnread = true
                        respond(restError: GRPCStatus(.resourceExhausted, "request body is larger than the limit of \(context.limits.maxMessageBytes) bytes"),
                                httpStatus: 413, corsHeaders: rest.corsHeaders, keepAlive: false)
                        return
                    }
                    rest.body.append(contentsOf: chunk)
                    continue
                case .grpcWeb(let grpcWeb):
                    call = grpcWeb
                }
                call.bodyBytes += chunk.count
                if let failure = call.failure {
                    // Refused at its head: the body is dropped as it comes, up to a bound.
                    if call.bodyBytes > context.limits.discardLimit(for: call.contentType) {
                        refuseBeforeBodyEnds(head, call, failure)
                        return
                    }
                    break
                }
                if call.bodyBytes > context.limits.bodyLimit(for: call.contentType) {
                    context.limitReporter.hit("max_message_bytes", "gRPC-Web request body above \(context.limits.bodyLimit(for: call.contentType)) bytes")
                    refuseBeforeBodyEnds(head, call, .invalidFrames(GRPCStatus(.resourceExhausted,
                        "gRPC-Web request body larger than the limit of \(context.limits.bodyLimit(for: call.contentType)) bytes")))
                    return
                }
                do throws(GRPCWebRequestError) {
                    try call.decoder.append(chunk)
                } catch {
                    // A frame over the message limit, bad flags, an encoding not accepted, bad
                    // base64: answered as soon as it is seen, nothing buffered for the rest.
                    if case .invalidFrames(let status) = error, status.code == .resourceExhausted {
                        context.limitReporter.hit("max_message_bytes", status.message)
                    }
                    refuseBeforeBodyEnds(head, call, error)
                    return
                }
            case .end:
                guard case .receiving(let head, let request) = state else { return }
                finishRequest(head: head, request: request, keepAlive: head.keepAlive)
            }
        }
    }

    private func finishRequest(head: HTTP1RequestHead, request: ClassifiedRequest, keepAlive: Bool) {
        let keepAlive = keepAlive && !closeAfterExchange
        switch request {
        case .simple(let response, let body):
            respond(response, body: body, keepAlive: keepAlive)
        case .grpcWeb(let call):
            let body: [UInt8]
            do throws(GRPCWebRequestError) {
                if let failure = call.failure { throw failure }
                body = try call.decoder.finish()
            } catch {
                refuse(head, call, error, keepAlive: keepAlive)
                return
            }
            let exchange = beginExchange(head, call.contentType, corsHeaders: call.corsHeaders, keepAlive: keepAlive)
            guard let route = call.route, let pool = context.pools[route.cluster] else {
                exchange.reject(GRPCStatus(.unavailable, "cluster '\(call.route?.cluster ?? "")' does not exist"))
                return
            }
            connection.setReadTimeout(nanoseconds: nil)
            var metadata = HeaderFields(reservingFields: head.headers.count, bytes: 256)
            GRPCWebMetadata.appendRequestMetadata(from: head.headers, droppingUnderscoreNames: call.dropsUnderscoreNames, to: &metadata)
            identityAndTrace(head, addingTo: &metadata)
            exchange.start(request: UpstreamRequest(
                path: call.path, metadata: metadata, contentType: call.contentType.upstreamContentType,
                timeout: call.timeout ?? routeTimeout(route, path: call.path), body: body,
                retryPolicy: route.policy.retryPolicy, retriesFailuresInTrailers: route.policy.idempotent,
                perTryTimeoutNanoseconds: route.policy.perTryTimeoutNanoseconds), pool: pool)
        case .rest(let call):
            guard let rest = context.rest else { return }
            let refuse = { (status: GRPCStatus, httpStatus: Int?) in
                self.respond(restError: status, httpStatus: httpStatus, corsHeaders: call.corsHeaders, keepAlive: keepAlive)
            }
            let messages: [[UInt8]]
            let timeout: GRPCTimeout?
            do {
                // A streamed HttpBody body goes up as one message, as Envoy's transcoder sends a whole body.
                messages = call.binding.method.clientStreaming && call.binding.requestHTTPBody == nil
                    ? try rest.assembler.requestStream(for: call.binding, pathBindings: call.pathBindings, query: call.query, body: call.body)
                    : [try rest.assembler.requestMessage(for: call.binding, pathBindings: call.pathBindings, query: call.query, body: call.body,
                                                         contentType: head.headers["content-type"])]
                timeout = try GRPCWebMetadata.timeout(from: head.headers) ?? rest.defaultTimeout
            } catch {
                return refuse(GRPCStatus(.invalidArgument, "\(error)"), nil)
            }
            let grpcPath = call.binding.method.grpcPath
            guard let route = call.route, let pool = context.pools[route.cluster] else {
                return refuse(GRPCStatus(.unimplemented, "no route for gRPC method \(grpcPath)"), nil)
            }
            let exchange = RESTExchange(connection: self, binding: call.binding, rest: rest, extraHeaders: call.corsHeaders,
                                        format: RESTStreamFormat(accept: head.headers.firstValueBytes("accept")))
            beginExchange(exchange, keepAlive: keepAlive)
            connection.setReadTimeout(nanoseconds: nil)
            var metadata = HeaderFields(reservingFields: head.headers.count, bytes: 256)
            GRPCWebMetadata.appendRequestMetadata(from: head.headers, allowing: rest.requestHeaders,
                                                  droppingUnderscoreNames: call.dropsUnderscoreNames, to: &metadata)
            identityAndTrace(head, addingTo: &metadata)
            var body: [UInt8] = []
            for message in messages { body += GRPCFrame.header(flags: 0, length: message.count) + message }
            exchange.start(request: UpstreamRequest(path: grpcPath, metadata: metadata, contentType: "application/grpc",
                                                    timeout: timeout ?? routeTimeout(route, path: grpcPath), body: body,
                                                    retryPolicy: route.policy.retryPolicy,
                                                    retriesFailuresInTrailers: route.policy.idempotent,
                                                    perTryTimeoutNanoseconds: route.policy.perTryTimeoutNanoseconds), pool: pool)
        }
    }

    /// A gRPC-Web request refused by Ferry: bad base64 is HTTP 400; anything else a gRPC status.
    private func refuse(_ head: HTTP1RequestHead, _ call: PendingGRPCWebCall, _ error: GRPCWebRequestError, keepAlive: Bool) {
        switch error {
        case .invalidBase64:
            respond(HTTP1ResponseHead(status: 400, headers: call.corsHeaders), body: "\(error)\n", keepAlive: keepAlive)
        case .invalidFrames(let status):
            beginExchange(head, call.contentType, corsHeaders: call.corsHeaders, keepAlive: keepAlive).reject(status)
        case .unsupportedEncoding(_, let accepted):
            var metadata = HeaderFields()
            metadata.append(name: "grpc-accept-encoding", value: accepted.joined(separator: ","))
            beginExchange(head, call.contentType, corsHeaders: call.corsHeaders, keepAlive: keepAlive)
                .reject(GRPCStatus(.unimplemented, error.description), metadata: metadata)
        }
    }

    /// A refusal known before the request's body has ended is answered at once, and nothing
    /// more of the body is kept; the connection then closes, lingering so that the client
    /// reads the answer rather than a reset (RFC 9112 §9.6).
    private func refuseBeforeBodyEnds(_ head: HTTP1RequestHead, _ call: PendingGRPCWebCall, _ error: GRPCWebRequestError) {
        requestBodyUnread = true
        refuse(head, call, error, keepAlive: false)
    }

    // MARK: Receive deadlines (slowloris)

    /// A request waits for more bytes: the budget of the part it is in starts, unless it runs.
    private func armReceiveDeadline() {
        let phase: ReceiveDeadline
        let timeout: UInt64
        switch state {
        case .awaitingRequest where !parser.isIdle:
            phase = .head
            timeout = context.limits.headerReadTimeoutNanoseconds
        case .receiving:
            phase = .body
            timeout = context.limits.requestBodyTimeoutNanoseconds
        default:
            return
        }
        guard receiveDeadline != phase else { return }
        receiveDeadline = phase
        if receiveTimer == nil {
            receiveTimer = LoopTimer(loop: worker.loop) { [unowned self] in receiveDeadlinePassed() }
        }
        receiveTimer?.schedule(afterNanoseconds: timeout)
    }

    /// The request is received (or answered): no budget runs.
    private func disarmReceiveDeadline() {
        guard receiveDeadline != .none else { return }
        receiveDeadline = .none
        receiveTimer?.cancel()
    }

    /// 408 for a head or a body that did not arrive in time (DEADLINE_EXCEEDED for gRPC-Web);
    /// the connection closes.
    private func receiveDeadlinePassed() {
        let phase = receiveDeadline
        receiveDeadline = .none
        let limits = context.limits
        switch (phase, state) {
        case (.head, .awaitingRequest):
            let budget = GRPCTimeout(nanoseconds: Int64(limits.headerReadTimeoutNanoseconds))
            context.limitReporter.hit("header_read_timeout", "request head not received within \(budget) of its first byte; 408, connection closed")
            respondAndClose(HTTP1ResponseHead(status: 408), body: "request head not received within \(budget) (header_read_timeout)\n")
        case (.body, .receiving(let head, let request)):
            let budget = GRPCTimeout(nanoseconds: Int64(limits.requestBodyTimeoutNanoseconds))
            context.limitReporter.hit("request_body_timeout", "request body not received within \(budget) of its head; connection closed")
            let message = "request body not received within \(budget) of the request head (request_body_timeout)"
            switch request {
            case .grpcWeb(let call):
                refuse(head, call, .invalidFrames(GRPCStatus(.deadlineExceeded, message)), keepAlive: false)
            case .rest(let call):
                respond(restError: GRPCStatus(.deadlineExceeded, message), httpStatus: 408, corsHeaders: call.corsHeaders, keepAlive: false)
            case .simple:
                respond(HTTP1ResponseHead(status: 408), body: message + "\n", keepAlive: false)
            }
        default:
            break
        }
    }

    /// The client's identity and the trace, as metadata for the backend. The verified client
    /// certificate's subject goes as `x-forwarded-client-cert: Subject="…"` (Envoy's XFCC
    /// format; a client's own XFCC never passes). W3C Trace Context: the request's
    /// `traceparent` names the trace (it goes upstream with the other headers); without one, a
    /// new trace starts when the config asks for it.
    private func identityAndTrace(_ head: HTTP1RequestHead, addingTo metadata: inout HeaderFields) {
        if let subject = clientSubject {
            var quoted = "Subject=\""
            for character in subject {
                if character == "\"" || character == "\\" { quoted.append("\\") }
                quoted.append(character)
            }
            metadata.append(name: "x-forwarded-client-cert", value: quoted + "\"")
        }
        if let traceparent = head.headers.firstValueBytes("traceparent") {
            record?.traceID = TraceContext(traceparent: String(decoding: traceparent, as: UTF8.self))?.traceID
        } else if context.createTraceparent {
            let trace = TraceContext(using: &context.traceIDs)
            metadata.append(name: "traceparent", value: trace.traceparent)
            record?.traceID = trace.traceID
        }
    }

    /// The finished request: its access-log line and its counts.
    private func logAccess(grpcStatus: Int?, call: UpstreamCall?) {
        guard let current = record else { return }
        record = nil
        let duration = EventLoop.monotonicNow - current.startMonotonic
        context.metrics?.recordCall(current.series, grpcCode: grpcStatus, durationNanoseconds: duration,
                                    bytesIn: current.bytesIn, bytesOut: current.bytesOut)
        context.accessLog?.record(AccessLogEntry(
            startNanoseconds: current.startRealtime, peer: peer, method: current.method, path: current.path,
            protocolName: current.series.protocolName, grpcStatus: grpcStatus, httpStatus: current.httpStatus,
            bytesIn: current.bytesIn, bytesOut: current.bytesOut, durationNanoseconds: duration,
            upstream: call?.endpoint?.description, attempts: call?.attempts ?? 0, traceID: current.traceID,
            clientSubject: current.clientSubject))
        // An idle keep-alive connection keeps only the empty record, not the request's strings.
        current.path = ""
        current.series = AccessRecord.noSeries
        current.traceID = nil
    }

    /// The route's default deadline, unless the method is known to stream (from the descriptor
    /// set): streams are exempt from route timeouts.
    private func routeTimeout(_ route: Route, path: String) -> GRPCTimeout? {
        guard let nanoseconds = route.policy.timeoutNanoseconds,
              context.rest?.catalog.streamingMethodPaths.contains(path) != true else { return nil }
        return GRPCTimeout(nanoseconds: Int64(min(nanoseconds, UInt64(Int64.max))))
    }

    /// The exchange that answers this request from now on, upstream or refused by Ferry.
    private func beginExchange(_ head: HTTP1RequestHead, _ contentType: GRPCWebContentType,
                               corsHeaders: HeaderFields, keepAlive: Bool) -> GRPCWebExchange {
        let textResponse = contentType.isText || GRPCWebContentType.acceptsText(head.headers.firstValueBytes("accept"))
        let exchange = GRPCWebExchange(connection: self, contentType: contentType, textResponse: textResponse,
                                       extraHeaders: corsHeaders)
        beginExchange(exchange, keepAlive: keepAlive)
        return exchange
    }

    private func beginExchange(_ exchange: any DownstreamExchange, keepAlive: Bool) {
        disarmReceiveDeadline()
        state = .exchanging(exchange, keepAlive: keepAlive)
        context.metrics?.requestsActive += 1
    }

    /// The exchange is over (finished, aborted, or its client gone).
    private func endExchange(_ exchange: any DownstreamExchange, grpcStatus: Int?) {
        context.metrics?.requestsActive -= 1
        logAccess(grpcStatus: grpcStatus, call: exchange.call)
    }

    // MARK: Responses

    private func respond(_ head: HTTP1ResponseHead, body: String, keepAlive: Bool) {
        disarmReceiveDeadline()
        var head = head
        if !body.isEmpty && head.headers.firstIndex(of: "content-type") == nil {
            head.headers.append(name: "content-type", value: "text/plain; charset=utf-8")
        }
        head.headers.append(name: "content-length", value: String(body.utf8.count))
        if !keepAlive { head.headers.append(name: "connection", value: "close") }
        var out = head.serialized()
        out.append(contentsOf: body.utf8)
        connection.write(out)
        record?.httpStatus = head.status
        record?.bytesOut += out.count
        logAccess(grpcStatus: nil, call: nil)
        if keepAlive {
            state = .awaitingRequest
            connection.setReadTimeout(nanoseconds: context.limits.idleTimeoutNanoseconds)
        } else {
            state = .closed
            connection.closeAfterFlush(lingering: requestBodyUnread)
        }
    }

    private func respond(restError status: GRPCStatus, httpStatus: Int? = nil, corsHeaders: HeaderFields, keepAlive: Bool) {
        let response = RequestClassifier.restErrorResponse(status, httpStatus: httpStatus, corsHeaders: corsHeaders)
        respond(response.head, body: response.body, keepAlive: keepAlive)
    }

    private func respondAndClose(_ head: HTTP1ResponseHead, body: String) {
        respond(head, body: body, keepAlive: false)
    }

    func writeResponseHead(_ head: HTTP1ResponseHead) {
        var head = head
        if case .exchanging(_, false) = state { head.headers.append(name: "connection", value: "close") }
        let serialized = head.serialized()
        connection.write(serialized)
        record?.httpStatus = head.status
        record?.bytesOut += serialized.count
    }

    /// Body bytes of a response with a Content-Length.
    func writeBody(_ bytes: [UInt8]) {
        connection.write(bytes)
        record?.bytesOut += bytes.count
    }

    func writeChunk(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count > 0 else { return }
        chunkHeader.removeAll(keepingCapacity: true)
        HTTP1ChunkedEncoding.appendChunkHeader(length: bytes.count, to: &chunkHeader)
        connection.write(chunkHeader)
        connection.write(bytes)
        connection.write(HTTP1ChunkedEncoding.chunkTrailer)
        record?.bytesOut += chunkHeader.count + bytes.count + HTTP1ChunkedEncoding.chunkTrailer.count
    }

    func writeChunk(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { writeChunk($0) }
    }

    func writeLastChunk(trailers: HeaderFields = HeaderFields()) {
        let lastChunk = trailers.isEmpty ? HTTP1ChunkedEncoding.lastChunk : HTTP1ChunkedEncoding.lastChunk(trailers: trailers)
        connection.write(lastChunk)
        record?.bytesOut += lastChunk.count
    }

    var outputLength: Int { connection.outputLength }

    /// Output queued downstream beyond this holds back the upstream (`buffer_limit_bytes`).
    var bufferLimitBytes: Int { context.limits.bufferLimitBytes }

    /// The client reads slower than the backend sends: the backend is being held back.
    func bufferLimitReached() {
        context.limitReporter.hit("buffer_limit_bytes", "response output above \(context.limits.bufferLimitBytes) bytes for a slow client; the backend is held back")
    }

    /// The exchange cannot end its response properly: what is written goes out, then the
    /// connection closes, so the client sees an incomplete body.
    func exchangeAborted() {
        if case .exchanging(let exchange, _) = state { endExchange(exchange, grpcStatus: exchange.grpcStatusCode) }
        state = .closed
        connection.closeAfterFlush()
    }

    /// The exchange wrote its last byte: next request, or close.
    func exchangeFinished() {
        guard case .exchanging(let exchange, let keepAlive) = state else { return }
        endExchange(exchange, grpcStatus: exchange.grpcStatusCode)
        if keepAlive && !closeAfterExchange {
            state = .awaitingRequest
            connection.setReading(true)
            connection.setReadTimeout(nanoseconds: context.limits.idleTimeoutNanoseconds)
            processInput()
        } else {
            state = .closed
            connection.closeAfterFlush(lingering: requestBodyUnread)
        }
    }
}

extension HTTP1ServerConnection: BufferedConnectionDelegate {
    func connection(_ connection: BufferedConnection, received bytes: UnsafeRawBufferPointer) {
        parser.append(bytes)
        processInput()
    }

    func connectionOutputDrained(_ connection: BufferedConnection) {
        if case .exchanging(let exchange, _) = state { exchange.downstreamDrained() }
    }

    func connectionDidConnect(_ connection: BufferedConnection) {}

    func connection(_ connection: BufferedConnection, didCloseWith reason: ConnectionCloseReason) {
        if case .exchanging(let exchange, _) = state {
            exchange.downstreamClosed()
            // The client went away first: the call counts as cancelled.
            endExchange(exchange, grpcStatus: exchange.grpcStatusCode ?? GRPCStatusCode.cancelled.rawValue)
        } else if reason == .timeout {
            context.limitReporter.hit("idle_timeout", "no byte received for \(context.limits.idleTimeoutNanoseconds / 1_000_000) ms; closed")
        }
        state = .closed
        worker.connectionClosed(self, slot: slot)
    }
}
