// One request on an HTTP/2 connection and its response (RFC 9113 §8.1). Its head is
// classified as an HTTP/1.1 request's is; its body is taken whole (gRPC-Web, REST) or passed on
// as it arrives (native gRPC); its exchange writes through it as through any DownstreamStream.
import CNghttp2
import FerryCore
import HTTP1
import HTTP2Support
import Loop

final class HTTP2ServerStream {
    private enum RequestState {
        /// Header fields arriving.
        case receivingHead
        case receivingBody(HTTP1RequestHead, ClassifiedRequest)
        /// The request ended, or was answered before it did.
        case done

        /// The request whose body is arriving. Read through this, the state is borrowed:
        /// `guard case .receivingBody(let head, let request)` on the stored state copied the
        /// head with it, for every DATA frame.
        var bodyRequest: ClassifiedRequest? {
            switch self {
            case .receivingBody(_, let request): request
            default: nil
            }
        }
    }

    private enum ResponseState {
        case notStarted
        /// Head sent with a data source: body bytes wait in `unsent` until nghttp2 takes them.
        case streaming
        /// The last byte is written (trailers wait for the data source to drain).
        case ended
    }

    let id: Int32
    /// The connection owns its streams.
    private unowned(unsafe) let connection: HTTP2ServerConnection
    /// Starts the stream's exchange; holds the listener's context when the stream opened (a
    /// reload replaces the slot's), the client's verified identity and its address. Built once,
    /// not for each use (each build copied all three).
    private let starter: ExchangeStarter
    private var context: ListenerContext { starter.context }
    private var request = RequestState.receivingHead {
        // Nothing more is awaited once the request is done.
        didSet { if case .done = request { receiveDeadline = nil } }
    }
    private var headerBlock = HeaderFields()
    /// The header list's size as RFC 9113 §6.5.2 counts it (name, value, 32 bytes each).
    private var headerListBytes = 0
    private var headerListTooLarge = false
    private var exchange: (any DownstreamExchange)?
    private var response = ResponseState.notStarted
    private var unsent = OutgoingBytes()
    private var trailers = HeaderFields()
    /// The data source found nothing to send (NGHTTP2_ERR_DEFERRED): new bytes resume it.
    private var dataDeferred = false
    /// The response is complete (or the stream gone): counted and logged once.
    private var ended = false
    private var discardedBodyBytes = 0
    private var record: AccessRecord?
    /// DATA received and not yet released to the client (WINDOW_UPDATE).
    private(set) var unconsumedBytes = 0
    /// When the rest of the head (`header_read_timeout`) or of a body read whole
    /// (`request_body_timeout`) must have come (slowloris); nil: nothing awaited.
    private(set) var receiveDeadline: UInt64?

    init(id: Int32, connection: HTTP2ServerConnection, context: ListenerContext) {
        self.id = id
        self.connection = connection
        starter = ExchangeStarter(context: context, clientIdentity: connection.clientIdentity, peer: connection.peer)
        awaitReceive(within: context.limits.headerReadTimeoutNanoseconds)
    }

    var awaitsHead: Bool {
        if case .receivingHead = request { return true }
        return false
    }

    /// The response has ended: a reset now is no Rapid Reset.
    var responseComplete: Bool {
        if case .ended = response { return true }
        return false
    }

    private func awaitReceive(within nanoseconds: UInt64) {
        let deadline = EventLoop.monotonicNow + nanoseconds
        receiveDeadline = deadline
        connection.armReceiveDeadline(deadline)
    }

    /// The body did not arrive in time: 408 (DEADLINE_EXCEEDED for gRPC-Web), and the rest of
    /// it is refused with RST_STREAM(NO_ERROR) after the answer.
    func receiveDeadlinePassed() {
        receiveDeadline = nil
        guard case .receivingBody(let head, let classified) = request else { return }
        refuse(starter.bodyTimeoutRefusal(for: classified, then: "stream answered"), head)
    }

    // MARK: The request

    func headerField(name: UnsafePointer<UInt8>?, nameLength: Int, value: UnsafePointer<UInt8>?, valueLength: Int) {
        headerListBytes += nameLength + valueLength + 32
        guard !headerListTooLarge else { return }
        if headerListBytes > context.limits.maxHeaderBytes || headerBlock.count >= context.limits.maxHeaderFields {
            headerListTooLarge = true
            headerBlock = HeaderFields()
            return
        }
        headerBlock.append(name: name, nameLength: nameLength, value: value, valueLength: valueLength)
    }

    /// The request's header block is complete (nghttp2 has checked its pseudo-fields).
    func headEnded(endStream: Bool) {
        guard case .receivingHead = request else { return }
        if headerListTooLarge {
            context.limitReporter.hit(
                "max_header_bytes",
                "HTTP/2 request header list of \(headerListBytes) bytes or more than \(context.limits.maxHeaderFields) fields; 431")
            request = .done
            return respond(
                .error(
                    GRPCStatus(
                        .resourceExhausted,
                        "request header list larger than \(context.limits.maxHeaderBytes) bytes or \(context.limits.maxHeaderFields) fields"
                    ),
                    httpStatus: 431))
        }
        // The block is this request's alone from here: its pseudo-fields are left out in place.
        var headers = HeaderFields()
        swap(&headers, &headerBlock)
        guard let method = headers[":method"], let target = headers[":path"] else {
            request = .done
            return respond(.error(GRPCStatus(.invalidArgument, "request without :method or :path"), httpStatus: 400))
        }
        headers.removePseudoFields()
        let head = HTTP1RequestHead(method: method, target: target, version: .http2, headers: consume headers)
        let framing: HTTP1BodyFraming =
            endStream ? .none : head.headers["content-length"].flatMap(Int.init).map { .contentLength($0) } ?? .chunked
        let classified = RequestClassifier(context: context).classify(head, framing: framing)
        if context.recordsRequests {
            let started = connection.scratch.takeRecord()
            started.begin(
                head: head, request: classified, clientSubject: starter.clientIdentity?.subject, logged: context.accessLog != nil,
                now: connection.loop.iterationNow)
            record = started
        }
        request = .receivingBody(head, classified)
        receiveDeadline = nil
        if let refusal = starter.refusalBeforeBody(classified, framing: framing) { return refuse(refusal, head) }
        if case .grpc(let call) = classified {
            // Its body streams for as long as the call lasts: no body deadline.
            starter.startGRPC(head, call, on: self, record: record, begin: begin)
        } else if case .connect(let call) = classified, call.streamsBody(over: .http2) {
            starter.startConnectStream(head, call, on: self, record: record, begin: begin)
        } else if !endStream {
            awaitReceive(within: context.limits.requestBodyTimeoutNanoseconds)
        }
        if endStream { requestEnded() }
    }

    func bodyReceived(_ bytes: UnsafeRawBufferPointer) {
        record?.bytesIn += bytes.count
        unconsumedBytes += bytes.count
        guard let classified = request.bodyRequest else { return release(bytes.count) }
        // A streamed call's bytes are released once they have left for the backend; a buffered
        // body's at once (its size is bounded by the limits).
        if let upstream = classified.streamingUpstreamCall, !upstream.isFinished {
            _ = starter.take(bytes, into: classified, discarded: &discardedBodyBytes)
            return
        }
        release(bytes.count)
        if case .refuse(let refusal) = starter.take(bytes, into: classified, discarded: &discardedBodyBytes),
            case .receivingBody(let head, _) = request
        {
            refuse(refusal, head)
        }
    }

    /// END_STREAM from the client: the request is complete.
    func requestEnded() {
        guard case .receivingBody(let head, let classified) = request else { return }
        request = .done
        if let response = starter.finish(consume head, classified, on: self, record: record, begin: begin) { respond(response) }
    }

    /// The stream closed: reset by the client, ended, or its connection gone.
    func closed() {
        request = .done
        if let exchange, !ended {
            exchange.downstreamClosed()
            // The client went away first: the call counts as cancelled.
            end(grpcStatus: exchange.grpcStatusCode ?? GRPCStatusCode.cancelled.rawValue)
        }
        // The exchange holds the stream: letting it go ends the cycle.
        exchange = nil
    }

    /// Answers before the request's body has ended; the rest of it is not read (the response's
    /// END_STREAM is followed by RST_STREAM(NO_ERROR), HTTP2ServerConnection).
    private func refuse(_ refusal: RequestRefusal, _ head: HTTP1RequestHead) {
        request = .done
        if let response = starter.refuse(refusal, head, on: self, begin: begin) { respond(response) }
    }

    private func release(_ count: Int) {
        let count = min(count, unconsumedBytes)
        guard count > 0 else { return }
        unconsumedBytes -= count
        connection.consume(id, count)
    }

    private func begin(_ exchange: any DownstreamExchange) {
        self.exchange = exchange
        context.metrics?.requestsActive += 1
    }

    private func end(grpcStatus: Int?) {
        guard !ended else { return }
        ended = true
        if exchange != nil { context.metrics?.requestsActive -= 1 }
        guard let current = record else { return }
        record = nil
        current.end(in: context, peer: starter.peer, grpcStatus: grpcStatus, call: exchange?.call, now: connection.loop.iterationNow)
        connection.scratch.giveBack(current)
    }

    /// A response Ferry writes itself, whole.
    private func respond(_ response: SimpleResponse) {
        let body = Array(response.body.utf8)
        sendHead(status: response.head.status, headers: response.headers, contentLength: body.count)
        sendData(body)
        sendEnd(trailers: HeaderFields())
    }

    // MARK: The response's data source

    /// nghttp2 asks for DATA bytes: what is unsent, then the end (with trailers, or
    /// END_STREAM), or a wait for more (NGHTTP2_ERR_DEFERRED).
    func responseBytes(
        into buffer: UnsafeMutablePointer<UInt8>, maxLength: Int, flags: UnsafeMutablePointer<UInt32>,
        session: OpaquePointer
    ) -> Int {
        let count = unsent.take(into: buffer, maxLength: maxLength)
        if unsent.count == 0 {
            if case .ended = response {
                if trailers.isEmpty {
                    flags.pointee |= UInt32(NGHTTP2_DATA_FLAG_EOF.rawValue)
                } else {
                    flags.pointee |= UInt32(NGHTTP2_DATA_FLAG_EOF.rawValue | NGHTTP2_DATA_FLAG_NO_END_STREAM.rawValue)
                    connection.submitTrailers(id, trailers, session: session)
                }
            } else if count == 0 {
                dataDeferred = true
                return Int(NGHTTP2_ERR_DEFERRED.rawValue)
            }
        }
        // The client took enough: the backend may send more (UpstreamCredit).
        if count > 0, unsent.count <= context.limits.bufferLimitBytes / 2 { exchange?.downstreamDrained() }
        return count
    }

    private func resumeData() {
        guard dataDeferred else { return }
        dataDeferred = false
        connection.resumeData(id)
    }
}

extension HTTP2ServerStream: DownstreamStream {
    func emptyHeaders() -> HeaderFields {
        connection.scratch.takeHeaders()
    }

    func sendHead(status: Int, headers: consuming HeaderFields, contentLength: Int?) {
        guard case .notStarted = response else { return }
        record?.httpStatus = status
        response = contentLength == 0 ? .ended : .streaming
        connection.submitResponse(id, status: status, headers: headers, contentLength: contentLength)
        connection.scratch.giveBack(headers: headers)
    }

    func sendData(_ bytes: UnsafeRawBufferPointer) {
        guard case .streaming = response, bytes.count > 0 else { return }
        unsent.append(bytes)
        record?.bytesOut += bytes.count
        resumeData()
    }

    func sendEnd(trailers: HeaderFields) {
        if case .streaming = response {
            self.trailers = trailers
            response = .ended
            resumeData()
        }
        end(grpcStatus: exchange?.grpcStatusCode)
    }

    /// RST_STREAM(INTERNAL_ERROR): the client sees the response cut short.
    func abort() {
        response = .ended
        connection.resetStream(id, code: NGHTTP2_INTERNAL_ERROR)
        end(grpcStatus: exchange?.grpcStatusCode)
    }

    var queuedBytes: Int { unsent.count }

    var bufferLimitBytes: Int { context.limits.bufferLimitBytes }

    func bufferLimitReached() {
        context.limits.reportBufferLimit(to: context.limitReporter)
    }

    func requestBytesForwarded(_ count: Int) {
        release(count)
    }
}
