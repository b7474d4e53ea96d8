// One native gRPC call on an HTTP/2 stream, passed through (PROTOCOL-HTTP2.md): request
// messages go upstream as they arrive, and the response's headers, messages and trailers come
// back as the backend sent them. Flow control holds each side back by the other's pace: the
// client's DATA is released (WINDOW_UPDATE) only once it left for the backend, and the
// backend's only once the client took it (UpstreamCredit).
import FerryCore
import GRPCWeb
import Upstream

final class GRPCExchange: DownstreamExchange {
    private enum State {
        /// Nothing sent downstream yet: an error can still be a trailers-only response.
        case awaitingHead
        case streaming
        case finished
    }

    /// The stream and the exchange hold each other until the stream lets it go (see
    /// GRPCWebExchange.stream).
    private let stream: any DownstreamStream
    private var state = State.awaitingHead
    var call: UpstreamCall?
    private var credit: UpstreamCredit
    private(set) var grpcStatusCode: Int?

    init(stream: any DownstreamStream) {
        self.stream = stream
        credit = UpstreamCredit(downstreamHighWatermark: stream.bufferLimitBytes)
    }

    /// Answers with `status` (and `metadata`) without calling upstream (a call Ferry refuses
    /// itself).
    func reject(_ status: GRPCStatus, metadata: HeaderFields = HeaderFields()) {
        var trailers = status.trailerFields
        trailers.append(contentsOf: metadata)
        finish(trailers: trailers)
    }

    /// A piece of the request body (gRPC frames, split wherever the client's DATA split them).
    func requestBody(_ bytes: UnsafeRawBufferPointer) {
        call?.sendBody(bytes)
    }

    /// The client half-closed its side: no more request messages.
    func requestEnded() {
        call?.endBody()
    }

    /// The client reset the stream (or went away): RST_STREAM(CANCEL) upstream.
    func downstreamClosed() {
        if case .finished = state { return }
        state = .finished
        if grpcStatusCode == nil { grpcStatusCode = GRPCStatusCode.cancelled.rawValue }
        call?.cancel()
    }

    func downstreamDrained() {
        credit.drained(call)
    }

    private func sendHead(_ upstream: HeaderFields) {
        var headers = stream.emptyHeaders()
        headers.append(name: "content-type", value: upstream["content-type"] ?? "application/grpc")
        GRPCWebMetadata.appendResponseHeaders(from: upstream, to: &headers)
        stream.sendHead(status: 200, headers: consume headers, contentLength: nil)
        state = .streaming
    }

    /// Ends the response with `trailers` (grpc-status first among them): after the messages,
    /// or alone as a trailers-only response (HEADERS with END_STREAM).
    private func finish(trailers: HeaderFields) {
        var forwarded = HeaderFields(reservingFields: trailers.count + 1, bytes: 128)
        switch state {
        case .awaitingHead:
            forwarded.append(name: "content-type", value: trailers["content-type"] ?? "application/grpc")
            GRPCWebMetadata.appendResponseHeaders(from: trailers, to: &forwarded)
            grpcStatusCode = GRPCStatus(trailers: trailers).code.rawValue
            state = .finished
            stream.sendHead(status: 200, headers: forwarded, contentLength: 0)
            stream.sendEnd(trailers: HeaderFields())
        case .streaming:
            GRPCWebMetadata.appendResponseHeaders(from: trailers, to: &forwarded)
            grpcStatusCode = GRPCStatus(trailers: trailers).code.rawValue
            state = .finished
            stream.sendEnd(trailers: forwarded)
        case .finished:
            return
        }
    }
}

extension GRPCExchange: UpstreamCallDelegate {
    func upstreamCall(_ call: UpstreamCall, received part: UpstreamResponsePart) {
        switch part {
        case .head(let headers):
            guard case .awaitingHead = state else { return }
            if let failure = UpstreamResponseCheck.head(headers) {
                call.cancel()
                finish(trailers: failure.trailerFields)
                return
            }
            sendHead(headers)
        case .data(let bytes):
            guard case .streaming = state else { return }
            stream.sendData(bytes)
            if credit.received(bytes.count, by: call, downstreamQueued: stream.queuedBytes) { stream.bufferLimitReached() }
        case .trailers(let trailers):
            finish(trailers: UpstreamResponseCheck.trailers(trailers, headReceived: state != .awaitingHead))
        case .failed(let status):
            var trailers = status.trailerFields
            if call.overloaded { trailers.append(name: GRPCStatus.overloadedField, value: "true") }
            finish(trailers: trailers)
        }
    }

    func upstreamCall(_ call: UpstreamCall, sentRequestBytes count: Int) {
        stream.requestBytesForwarded(count)
    }
}
