// One gRPC-Web call: the request already decoded, it drives the upstream call and translates
// each response part for the browser (PROTOCOL-WEB.md): trailers become the body's last frame.
import FerryCore
import GRPCWeb
import Upstream

/// What a downstream connection tells the exchange answering its current request.
protocol DownstreamExchange: UpstreamCallDelegate {
    /// The upstream call, once started.
    var call: UpstreamCall? { get set }
    /// The gRPC status the client got, once it has (for the access log).
    var grpcStatusCode: Int? { get }
    /// The downstream went away: cancel upstream at once.
    func downstreamClosed()
    /// The downstream socket drained below its low watermark.
    func downstreamDrained()
}

extension DownstreamExchange {
    /// Starts the upstream call that answers this exchange.
    func start(request: consuming UpstreamRequest, pool: UpstreamPool) {
        let call = UpstreamCall(request: request, delegate: self)
        self.call = call
        pool.start(call)
    }
}

final class GRPCWebExchange: DownstreamExchange {
    private enum State {
        /// Nothing sent downstream yet: an error can still become a trailers-only response.
        case awaitingHead
        /// Response head sent with chunked encoding; messages follow.
        case streaming
        case finished
    }

    /// Strong: each use of a `let` borrows it, where each use of an `unowned(unsafe)` one
    /// retained and released it (about six pairs of atomic operations a call, issue 19). The
    /// stream holds the exchange too; it lets it go when its next request begins or it closes,
    /// which ends the cycle.
    private let stream: any DownstreamStream
    private let contentType: GRPCWebContentType
    private let textResponse: Bool
    private let extraHeaders: HeaderFields
    private var state: State = .awaitingHead
    var call: UpstreamCall?
    private var credit: UpstreamCredit
    /// The status of the trailers that ended the response. A status that is not a known code
    /// counts as UNKNOWN, as a gRPC client reads it (and as the native gRPC exchange records it).
    private(set) var grpcStatusCode: Int?

    init(
        stream: any DownstreamStream, contentType: GRPCWebContentType, textResponse: Bool,
        extraHeaders: HeaderFields
    ) {
        self.stream = stream
        credit = UpstreamCredit(downstreamHighWatermark: stream.bufferLimitBytes)
        self.contentType = contentType
        self.textResponse = textResponse
        self.extraHeaders = extraHeaders
    }

    /// Answers with `status` (and `metadata`) without calling upstream (a request Ferry
    /// refuses itself).
    func reject(_ status: GRPCStatus, metadata: HeaderFields = HeaderFields()) {
        var trailers = status.trailerFields
        trailers.append(contentsOf: metadata)
        finish(trailers: trailers)
    }

    /// The downstream went away: cancel upstream at once.
    func downstreamClosed() {
        if case .finished = state { return }
        state = .finished
        call?.cancel()
    }

    /// The downstream socket drained: release what it took to the backend.
    func downstreamDrained() {
        credit.drained(call)
    }

    private func writeHead(_ upstreamHeaders: HeaderFields) {
        var headers = stream.emptyHeaders()
        headers.append(name: "content-type", value: contentType.responseContentType(text: textResponse))
        GRPCWebMetadata.appendResponseHeaders(from: upstreamHeaders, to: &headers)
        headers.append(contentsOf: extraHeaders)
        stream.sendHead(status: 200, headers: consume headers, contentLength: nil)
        state = .streaming
    }

    private func writeBody(_ bytes: UnsafeRawBufferPointer) {
        if textResponse {
            stream.sendData(Base64.encode(bytes))
        } else {
            stream.sendData(bytes)
        }
    }

    private func finish(trailers: HeaderFields) {
        switch state {
        case .awaitingHead:
            // Trailers-only: the status travels in the HTTP headers with an empty body
            // (PROTOCOL-WEB.md, "Trailers-only responses").
            var headers = stream.emptyHeaders()
            headers.append(name: "content-type", value: contentType.responseContentType(text: textResponse))
            GRPCWebMetadata.appendResponseHeaders(from: trailers, to: &headers)
            headers.append(contentsOf: extraHeaders)
            stream.sendHead(status: 200, headers: consume headers, contentLength: 0)
        case .streaming:
            GRPCWebTrailers.withFrame(trailers) { writeBody($0) }
        case .finished:
            return
        }
        grpcStatusCode = (GRPCStatusCode(trailers: trailers) ?? .unknown).rawValue
        state = .finished
        stream.sendEnd(trailers: HeaderFields())
    }
}

extension GRPCWebExchange: UpstreamCallDelegate {
    func upstreamCall(_ call: UpstreamCall, received part: UpstreamResponsePart) {
        switch part {
        case .head(let headers):
            guard case .awaitingHead = state else { return }
            if let failure = UpstreamResponseCheck.head(headers) {
                call.cancel()
                finish(trailers: failure.trailerFields)
                return
            }
            writeHead(headers)
        case .data(let bytes):
            guard case .streaming = state else { return }
            writeBody(bytes)
            if credit.received(bytes.count, by: call, downstreamQueued: stream.queuedBytes) { stream.bufferLimitReached() }
        case .trailers(let trailers):
            finish(trailers: UpstreamResponseCheck.trailers(trailers, headReceived: state != .awaitingHead))
        case .failed(let status):
            var trailers = status.trailerFields
            if call.overloaded { trailers.append(name: GRPCStatus.overloadedField, value: "true") }
            finish(trailers: trailers)
        }
    }
}
