// One downstream HTTP/1.1 connection: parses requests strictly, answers CORS preflights and
// errors itself, and runs one exchange at a time (RFC 9112 keep-alive; pipelined
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

        /// The request whose body is being received. Read through this, the state is
        /// borrowed: matching `.receiving(_, let request)` on the stored state copied the head
        /// with it, through the run time's generic tuple copy (about 500 instructions a call).
        var receivingRequest: ClassifiedRequest? {
            switch self {
            case .receiving(_, let request): request
            default: nil
            }
        }
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
    private var context: ListenerContext { starter.context }
    private let slot: ListenerSlot
    /// The worker owns its connections, so it outlives them, and a strong reference back would
    /// be a cycle. Used only when the connection closes, so the retain a use of an
    /// `unowned(unsafe)` reference costs is off the hot path.
    private unowned(unsafe) let worker: Worker
    /// The worker's, lent while a request is in progress. A strong `let`, so that each use
    /// borrows it: through `unowned(unsafe)`, each call on it retained and released it (about
    /// nine pairs of atomic operations a request). No cycle: it holds no connection.
    private let scratch: ConnectionScratch
    private var parser: HTTP1RequestParser
    private var state: State = .awaitingRequest
    /// The response being written is chunked (its length was not known at its head).
    private var chunkedResponse = false
    /// Set by drain: finish the current exchange, then close.
    private var closeAfterExchange = false
    /// Armed only while a request waits for more of its bytes.
    private var receiveDeadline = ReceiveDeadline.none
    private var receiveTimer: LoopTimer?
    /// Ferry answered before the request's body ended: the close lingers (BufferedConnection).
    private var requestBodyUnread = false
    /// Body bytes of a request whose answer was decided from its head, dropped so far.
    private var discardedBodyBytes = 0
    /// The request in progress, as the access log and the counts will record it; nil when
    /// neither is on, or between requests (borrowed from the worker's scratch until then).
    private var record: AccessRecord?
    /// Starts the exchanges of this connection's requests; holds the context, the client's
    /// verified identity and its address. Kept, not built per use: each build copied all three
    /// (issue 19). Noncopyable, so that a call on it borrows it in place.
    private var starter: ExchangeStarter

    init(connection: BufferedConnection, slot: ListenerSlot, worker: Worker, peer: String) {
        self.connection = connection
        self.slot = slot
        let context = slot.context
        // The client certificate was verified in the handshake, before the first request.
        starter = ExchangeStarter(
            context: context, clientIdentity: context.verifiesClients ? connection.peerIdentity : nil, peer: peer)
        self.worker = worker
        scratch = worker.scratch
        parser = HTTP1RequestParser(
            limits: .init(
                maxHeaderBytes: context.limits.maxHeaderBytes,
                maxHeaderFields: context.limits.maxHeaderFields))
        connection.delegate = self
        connection.setOutputLowWatermark(context.limits.bufferLimitBytes / 2)
        connection.setReadTimeout(nanoseconds: context.limits.idleTimeoutNanoseconds)
    }

    var isIdle: Bool {
        if case .awaitingRequest = state { return parser.isIdle }
        return false
    }

    // MARK: Request processing

    private func processInput() {
        while true {
            switch state {
            case .exchanging:
                // Unprocessed input beyond the buffer limit stops reading until the exchange ends.
                if parser.bufferedByteCount > context.limits.bufferLimitBytes {
                    connection.setReading(false)
                    context.limitReporter.hit(
                        "buffer_limit_bytes", "pipelined input above \(context.limits.bufferLimitBytes) bytes; reading paused")
                }
                return
            case .closed:
                return
            case .awaitingRequest, .receiving:
                break
            }
            let event: HTTP1RequestParser.Event?
            do {
                event = try parser.next(recentTarget: &scratch.recentTarget)
            } catch {
                switch error {
                case .headerSectionTooLarge: context.limitReporter.hit("max_header_bytes", "\(error)")
                case .tooManyHeaderFields: context.limitReporter.hit("max_header_fields", "\(error)")
                default: break
                }
                respond(.error(GRPCStatus(error.grpcCode, error.description), httpStatus: error.status), keepAlive: false)
                return
            }
            // Switched on as it came, not unwrapped first: `guard let` would copy the event (a
            // head's strings and fields) and destroy the optional after.
            switch consume event {
            case nil:
                // A request has started (head or body partly here): it must keep arriving.
                armReceiveDeadline()
                return
            case .head(let head, let framing)?:
                let request = RequestClassifier(context: context).classify(head, framing: framing)
                if context.recordsRequests {
                    let started = scratch.takeRecord()
                    started.begin(
                        head: head, request: request, clientSubject: starter.clientIdentity?.subject, logged: context.accessLog != nil,
                        now: connection.loop.iterationNow)
                    record = started
                }
                discardedBodyBytes = 0
                if let refusal = starter.refusalBeforeBody(request, framing: framing) {
                    refuseBeforeBodyEnds(refusal, head)
                    return
                }
                state = .receiving(consume head, request)
            case .body(let chunk)?:
                record?.bytesIn += chunk.count
                guard let request = state.receivingRequest else { break }
                let verdict = withTypedUnsafeBytes(chunk) { starter.take($0, into: request, discarded: &discardedBodyBytes) }
                if case .refuse(let refusal) = verdict, case .receiving(let head, _) = state {
                    refuseBeforeBodyEnds(refusal, head)
                    return
                }
            case .end?:
                guard case .receiving = state else { return }
                // Moved out, not copied: the head is this request's alone from here, so its
                // fields become the upstream metadata in place. The exchange's start sets the
                // next state.
                var received = State.awaitingRequest
                swap(&received, &state)
                guard case .receiving(let head, let request) = consume received else { return }
                let keepAlive = head.keepAlive && !closeAfterExchange
                if let response = starter.finish(
                    consume head, request, on: self, record: record,
                    begin: { beginExchange($0, keepAlive: keepAlive) })
                {
                    respond(response, keepAlive: keepAlive)
                }
            }
        }
    }

    /// A refusal known before the request's body has ended is answered at once, and nothing
    /// more of the body is kept; the connection then closes, lingering so that the client
    /// reads the answer rather than a reset (RFC 9112 §9.6).
    private func refuseBeforeBodyEnds(_ refusal: RequestRefusal, _ head: HTTP1RequestHead) {
        requestBodyUnread = true
        refuse(refusal, head)
    }

    /// Answers the current request with `refusal`; the connection closes after it.
    private func refuse(_ refusal: RequestRefusal, _ head: HTTP1RequestHead) {
        if let response = starter.refuse(refusal, head, on: self, begin: { beginExchange($0, keepAlive: false) }) {
            respond(response, keepAlive: false)
        }
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
            receiveTimer = LoopTimer(loop: connection.loop) { [unowned self] in receiveDeadlinePassed() }
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
            context.limitReporter.hit(
                "header_read_timeout", "request head not received within \(budget) of its first byte; 408, connection closed")
            respond(
                .error(
                    GRPCStatus(.deadlineExceeded, "request head not received within \(budget) (header_read_timeout)"), httpStatus: 408),
                keepAlive: false)
        case (.body, .receiving(let head, let request)):
            refuse(starter.bodyTimeoutRefusal(for: request, then: "connection closed"), head)
        default:
            break
        }
    }

    /// The finished request: its access-log line and its counts.
    private func logAccess(grpcStatus: Int?, call: UpstreamCall?) {
        guard let current = record else { return }
        record = nil
        current.end(in: context, peer: starter.peer, grpcStatus: grpcStatus, call: call, now: connection.loop.iterationNow)
        scratch.giveBack(current)
    }

    /// An exchange answers the current request from now on, upstream or refused by Ferry.
    private func beginExchange(_ exchange: any DownstreamExchange, keepAlive: Bool) {
        disarmReceiveDeadline()
        // An exchange may wait on its backend for longer than a connection may idle.
        connection.holdReadTimeout()
        state = .exchanging(exchange, keepAlive: keepAlive)
        context.metrics?.requestsActive += 1
    }

    /// The exchange is over (finished, aborted, or its client gone).
    private func endExchange(_ exchange: any DownstreamExchange, grpcStatus: Int?) {
        context.metrics?.requestsActive -= 1
        logAccess(grpcStatus: grpcStatus, call: exchange.call)
    }

    // MARK: Responses

    /// A response Ferry writes itself, whole.
    private func respond(_ response: SimpleResponse, keepAlive: Bool) {
        disarmReceiveDeadline()
        var head = response.head
        head.headers = response.headers
        head.headers.append(name: "content-length", value: String(response.body.utf8.count))
        if !keepAlive { head.headers.append(name: "connection", value: "close") }
        var out = head.serialized()
        out.append(contentsOf: response.body.utf8)
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

    private func write(_ bytes: UnsafeRawBufferPointer) {
        connection.write(bytes)
        record?.bytesOut += bytes.count
    }

    private func write(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { write($0) }
    }
}

/// The exchange's view of the connection: one response at a time, chunked when its length is
/// not known (RFC 9112 §7.1), with `Connection: close` when the connection ends after it.
extension HTTP1ServerConnection: DownstreamStream {
    func emptyHeaders() -> HeaderFields {
        scratch.takeHeaders()
    }

    func sendHead(status: Int, headers: consuming HeaderFields, contentLength: Int?) {
        // Written into the worker's write buffer: the exchange's fields are not copied into
        // a new field list to add the framing ones.
        let closes = if case .exchanging(_, false) = state { true } else { false }
        let response = HTTP1ResponseHead(status: status, headers: headers)
        scratch.withWriteBuffer { head in
            response.appendStatusLineAndFields(to: &head)
            if let contentLength {
                HTTP1ResponseHead.appendContentLength(contentLength, to: &head)
            } else {
                head.append(ascii: "transfer-encoding: chunked\r\n")
            }
            if closes { head.append(ascii: "connection: close\r\n") }
            head.append(ascii: "\r\n")
            head.withUnsafeBytes { write($0) }
        }
        scratch.giveBack(headers: (consume response).headers)
        chunkedResponse = contentLength == nil
        record?.httpStatus = status
    }

    func sendData(_ bytes: UnsafeRawBufferPointer) {
        guard chunkedResponse else { return write(bytes) }
        guard bytes.count > 0 else { return }
        // A small chunk goes out as one piece with its framing: a copy costs less than two
        // more output-buffer appends (a gRPC-Web message and its trailer frame, each call).
        let whole = bytes.count <= Self.chunkCopyLimit
        scratch.withWriteBuffer { chunk in
            HTTP1ChunkedEncoding.appendChunkHeader(length: bytes.count, to: &chunk)
            if whole {
                chunk.append(bytes)
                chunk.append(ascii: "\r\n")
            }
            chunk.withUnsafeBytes { write($0) }
        }
        if !whole {
            write(bytes)
            write(HTTP1ChunkedEncoding.chunkTrailer)
        }
    }

    /// The largest chunk copied into one piece with its framing.
    private static let chunkCopyLimit = 4096

    /// The exchange wrote its last byte: next request, or close.
    func sendEnd(trailers: HeaderFields) {
        if chunkedResponse && trailers.isEmpty {
            write(HTTP1ChunkedEncoding.lastChunk)
        } else if chunkedResponse {
            scratch.withWriteBuffer { last in
                HTTP1ChunkedEncoding.appendLastChunk(trailers: trailers, to: &last)
                last.withUnsafeBytes { write($0) }
            }
        }
        guard case .exchanging(let exchange, let keepAlive) = state else { return }
        endExchange(exchange, grpcStatus: exchange.grpcStatusCode)
        if keepAlive && !closeAfterExchange {
            state = .awaitingRequest
            connection.setReading(true)
            connection.releaseReadTimeout(nanoseconds: context.limits.idleTimeoutNanoseconds)
            // A pipelined request, or the rest of this one's body: read on. Most often nothing
            // is buffered, and looking would cost the parser's whole step (about 300 instructions).
            if !parser.isIdle { processInput() }
            returnSpareInputBuffer()
        } else {
            state = .closed
            connection.closeAfterFlush(lingering: requestBodyUnread)
        }
    }

    /// What is written goes out, then the connection closes, so that the client sees an
    /// incomplete body.
    func abort() {
        if case .exchanging(let exchange, _) = state { endExchange(exchange, grpcStatus: exchange.grpcStatusCode) }
        state = .closed
        connection.closeAfterFlush()
    }

    var queuedBytes: Int { connection.outputLength }

    var bufferLimitBytes: Int { context.limits.bufferLimitBytes }

    func bufferLimitReached() {
        context.limits.reportBufferLimit(to: context.limitReporter)
    }

    /// HTTP/1.1 request bodies are read whole before their exchange starts: none streams.
    func requestBytesForwarded(_ count: Int) {}
}

extension HTTP1ServerConnection: DownstreamConnection {
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
}

extension HTTP1ServerConnection: BufferedConnectionDelegate {
    func connection(_ connection: BufferedConnection, received bytes: UnsafeRawBufferPointer) {
        // A reload's context takes effect at the next request read from the socket. Replaced
        // here, where no call on the starter is in progress: calls borrow it (it is not
        // copied), and a request pipelined behind one that ends within such a call (a refusal)
        // is parsed there, where replacing it would break exclusive access.
        if case .awaitingRequest = state, slot.context !== context {
            starter = ExchangeStarter(context: slot.context, clientIdentity: starter.clientIdentity, peer: starter.peer)
        }
        if parser.needsStorage { parser.provideStorage(scratch.takeBuffer()) }
        parser.append(bytes)
        processInput()
        returnSpareInputBuffer()
    }

    /// Once every received byte is parsed, the input buffer goes back to the worker: an idle
    /// connection holds none (pipelined bytes keep it until they are parsed).
    private func returnSpareInputBuffer() {
        if let spare = parser.takeSpareStorage() { scratch.giveBack(spare) }
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
            context.limits.reportIdleTimeout(to: context.limitReporter)
        }
        state = .closed
        worker.connectionClosed(self, slot: slot)
    }
}
