// One REST call: the request already assembled into gRPC, it drives the upstream call and
// answers with JSON (google/api/http.proto; errors as google.rpc.Status with the HTTP status of
// google/rpc/code.proto). A unary reply goes out with a Content-Length; a server stream goes
// out message by message, chunked, as the format the request's Accept picks:
// - a JSON array (the default): `[msg,msg,…]`, an error after the first message as a last
//   `{"error":{status}}` element;
// - NDJSON (`application/x-ndjson`): one message per line, an error as `{"error":{status}}`;
// - SSE (`text/event-stream`): `data: msg` events, an error as an `event: error` event.
// An error before the first message gets its own HTTP status, as for unary calls.
// A reply that is a google.api.HttpBody goes out as its data with its content type; streamed,
// as the data of each message, under the first one's content type. An error in such a stream
// has no place in the body: the stream is aborted, which tells the client that the body is
// incomplete (HTTP/1.1: no last chunk, RFC 9112 §7.1; HTTP/2: RST_STREAM).
// Compression (RFC 9110 §8.4): when `Accept-Encoding` allows gzip, a whole reply of 1 KiB or more
// is gzipped, and a stream is one gzip member flushed after each message, so that the client
// reads every message as it arrives; media that is compressed already is sent as it is.
import FerryCore
import GRPCWeb
import Gzip
import Transcode
import Upstream

enum RESTStreamFormat {
    case jsonArray
    case ndjson
    case serverSentEvents

    /// Picked from the request's `Accept`.
    init(accept: ArraySlice<UInt8>?) {
        if accept?.containsCaseInsensitive("application/x-ndjson") == true {
            self = .ndjson
        } else if accept?.containsCaseInsensitive("text/event-stream") == true {
            self = .serverSentEvents
        } else {
            self = .jsonArray
        }
    }

    var contentType: String {
        switch self {
        case .jsonArray: "application/json"
        case .ndjson: "application/x-ndjson"
        case .serverSentEvents: "text/event-stream"
        }
    }
}

final class RESTExchange: DownstreamExchange {
    private enum State {
        /// Nothing sent downstream: an error still gets its own HTTP status.
        case awaitingFirstMessage
        /// Stream head sent; `elements` messages written.
        case streaming(elements: Int)
        case finished
    }

    /// The stream and the exchange hold each other until the stream lets it go (see
    /// GRPCWebExchange.stream).
    private let stream: any DownstreamStream
    private let binding: RESTBinding
    private let rest: RESTTranscoding
    private let extraHeaders: HeaderFields
    private let format: RESTStreamFormat
    /// The client accepts gzip.
    private let acceptsGzip: Bool
    /// A stream's compressor, when it is gzipped.
    private var gzip: GzipWriter?
    private var state: State = .awaitingFirstMessage
    var call: UpstreamCall?
    private(set) var grpcStatusCode: Int?
    /// The largest reply message Ferry decodes (the backend's own limit is the real one).
    static let maxReplyMessageBytes = 64 * 1024 * 1024
    private var frames = GRPCFrameDecoder(maxMessageBytes: maxReplyMessageBytes)
    /// A unary call's reply, held until the trailers say OK.
    private var unaryReply: [[UInt8]] = []
    private var headReceived = false
    /// The upstream's response metadata, sent as `x-grpc-metadata-*` headers.
    private var responseMetadata = HeaderFields()
    /// The upstream's trailer metadata (not the grpc-* fields), sent as `x-grpc-trailer-*`
    /// headers when the response has not started, else as fields of the chunked trailer section.
    private var trailerMetadata = HeaderFields()
    private var credit: UpstreamCredit

    init(
        stream: any DownstreamStream, binding: RESTBinding, rest: RESTTranscoding, extraHeaders: HeaderFields,
        format: RESTStreamFormat, acceptsGzip: Bool
    ) {
        self.stream = stream
        self.acceptsGzip = acceptsGzip
        credit = UpstreamCredit(downstreamHighWatermark: stream.bufferLimitBytes)
        self.binding = binding
        self.rest = rest
        self.extraHeaders = extraHeaders
        self.format = format
    }

    func downstreamClosed() {
        if case .finished = state { return }
        state = .finished
        call?.cancel()
    }

    func downstreamDrained() {
        credit.drained(call)
    }

    // MARK: Writing

    /// The response head's fields: content type, the upstream's metadata under
    /// `x-grpc-metadata-` and its trailer metadata under `x-grpc-trailer-` (never as grpc-*
    /// fields of their own), then CORS.
    private func headers(contentType: String) -> HeaderFields {
        var headers = stream.emptyHeaders()
        headers.append(name: "content-type", value: contentType)
        // Whether it is gzipped depends on Accept-Encoding: caches must know (RFC 9110 §12.5.5).
        if ContentCoding.compresses(contentType) { headers.append(name: "vary", value: "accept-encoding") }
        if call?.overloaded == true { headers.append(name: GRPCStatus.overloadedField, value: "true") }
        prefixed(responseMetadata, "x-grpc-metadata-", to: &headers)
        prefixed(trailerMetadata, "x-grpc-trailer-", to: &headers)
        return headers
    }

    private func prefixed(_ metadata: HeaderFields, _ prefix: String, to fields: inout HeaderFields) {
        for index in 0..<metadata.count {
            let field = metadata[index]
            fields.append(name: prefix + field.name, value: field.value)
        }
    }

    /// A whole response of known length: a unary reply or an error.
    private func respond(status: Int, contentType: String = "application/json", body: [UInt8]) {
        guard case .awaitingFirstMessage = state else { return }
        state = .finished
        var headers = headers(contentType: contentType)
        var body = body
        if acceptsGzip && body.count >= ContentCoding.minimumCompressedBytes && ContentCoding.compresses(contentType) {
            body = Gzip.deflate(body)
            headers.append(name: "content-encoding", value: "gzip")
        }
        headers.append(contentsOf: extraHeaders)
        stream.sendHead(status: status, headers: consume headers, contentLength: body.count)
        stream.sendData(body)
        stream.sendEnd(trailers: HeaderFields())
    }

    /// `details`: the binary google.rpc.Status of the backend's `grpc-status-details-bin`.
    private func fail(_ status: GRPCStatus, details: [UInt8]? = nil) {
        if grpcStatusCode == nil { grpcStatusCode = status.code.rawValue }
        let statusJSON =
            details.map { details in
                details.withUnsafeBytes { rest.transcoder.statusJSON(code: status.code.rawValue, message: status.message, details: $0) }
            } ?? ProtoJSONTranscoder.statusJSON(code: status.code.rawValue, message: status.message)
        switch state {
        case .awaitingFirstMessage:
            respond(status: status.code.httpStatus, body: statusJSON)
        case .streaming where binding.responseHTTPBody != nil:
            state = .finished
            stream.abort()
        case .streaming(let elements):
            let error = Array("{\"error\":".utf8) + statusJSON + [UInt8(ascii: "}")]
            switch format {
            case .jsonArray: send((elements == 0 ? [] : [UInt8(ascii: ",")]) + error + [UInt8(ascii: "]")])
            case .ndjson: send(error + [0x0A])
            case .serverSentEvents: send(Array("event: error\ndata: ".utf8) + statusJSON + [0x0A, 0x0A])
            }
            endStream()
        case .finished:
            return
        }
    }

    private func startStream(contentType: String) {
        var headers = headers(contentType: contentType)
        if acceptsGzip && ContentCoding.compresses(contentType) {
            gzip = GzipWriter()
            headers.append(name: "content-encoding", value: "gzip")
        }
        headers.append(contentsOf: extraHeaders)
        stream.sendHead(status: 200, headers: consume headers, contentLength: nil)
        state = .streaming(elements: 0)
        if binding.responseHTTPBody == nil, case .jsonArray = format { send([UInt8(ascii: "[")]) }
    }

    /// Bytes of a streamed body, through the compressor when there is one.
    private func send(_ bytes: [UInt8]) {
        stream.sendData(gzip.map { $0.write(bytes) } ?? bytes)
    }

    private func writeElement(_ json: [UInt8]) {
        guard case .streaming(let elements) = state else { return }
        switch format {
        case .jsonArray: send(elements == 0 ? json : [UInt8(ascii: ",")] + json)
        case .ndjson: send(json + [0x0A])
        case .serverSentEvents: send(Array("data: ".utf8) + json + [0x0A, 0x0A])
        }
        state = .streaming(elements: elements + 1)
    }

    /// The HttpBody of a reply; without a content type it is `application/octet-stream`.
    private func httpBody(
        _ message: [UInt8], _ placement: HTTPBodyPlacement
    ) throws(WireFormatError) -> (contentType: String, data: [UInt8]) {
        let body = try withTypedUnsafeBytes(message) { bytes throws(WireFormatError) in try placement.decode(bytes) }
        return (body.contentType.isEmpty ? "application/octet-stream" : body.contentType, body.data)
    }

    private func endStream() {
        var trailers = HeaderFields()
        prefixed(trailerMetadata, "x-grpc-trailer-", to: &trailers)
        if let gzip { stream.sendData(gzip.finish()) }
        state = .finished
        stream.sendEnd(trailers: trailers)
    }

    private func json(_ message: [UInt8]) throws(JSONPrintError) -> [UInt8] {
        try withTypedUnsafeBytes(message) { bytes throws(JSONPrintError) in
            try rest.transcoder.json(
                fromBinary: bytes, messageType: binding.method.outputType,
                fieldPath: binding.responseBody, options: rest.printOptions)
        }
    }

    // MARK: Upstream parts

    private func received(_ messages: [[UInt8]]) throws(GRPCStatus) {
        guard binding.method.serverStreaming else {
            unaryReply += messages
            return
        }
        for message in messages {
            if let placement = binding.responseHTTPBody {
                // A streamed HttpBody reply: each message's data, raw.
                let body: (contentType: String, data: [UInt8])
                do { body = try httpBody(message, placement) } catch {
                    throw GRPCStatus(.internal, "upstream sent an invalid google.api.HttpBody: \(error)")
                }
                if case .awaitingFirstMessage = state { startStream(contentType: body.contentType) }
                send(body.data)
                continue
            }
            let element: [UInt8]
            do { element = try json(message) } catch {
                throw GRPCStatus(.internal, "cannot write \(binding.method.outputType) as JSON: \(error)")
            }
            if case .awaitingFirstMessage = state { startStream(contentType: format.contentType) }
            writeElement(element)
        }
    }

    private func finish(with trailers: HeaderFields) {
        var metadata = HeaderFields()
        GRPCWebMetadata.appendResponseHeaders(from: trailers, to: &metadata)
        for index in 0..<metadata.count where !metadata.name(at: index, hasPrefix: "grpc-") {
            trailerMetadata.append(metadata, at: index)
        }
        let status = GRPCStatus(trailers: trailers)
        if status.code == .ok { grpcStatusCode = 0 }
        guard status.code == .ok else {
            return fail(status, details: trailers["grpc-status-details-bin"].flatMap(Base64.decodeLenient))
        }
        if binding.method.serverStreaming {
            if case .awaitingFirstMessage = state {
                guard binding.responseHTTPBody == nil else {
                    return respond(status: 200, contentType: "application/octet-stream", body: [])
                }
                startStream(contentType: format.contentType)
            }
            if binding.responseHTTPBody == nil, case .jsonArray = format { send([UInt8(ascii: "]")]) }
            endStream()
            return
        }
        guard unaryReply.count == 1 else {
            return fail(GRPCStatus(.internal, "upstream sent \(unaryReply.count) messages for unary method \(binding.method.fullName)"))
        }
        if let placement = binding.responseHTTPBody {
            do {
                let body = try httpBody(unaryReply[0], placement)
                respond(status: 200, contentType: body.contentType, body: body.data)
            } catch {
                fail(GRPCStatus(.internal, "upstream sent an invalid google.api.HttpBody: \(error)"))
            }
            return
        }
        do {
            respond(status: 200, body: try json(unaryReply[0]))
        } catch {
            fail(GRPCStatus(.internal, "cannot write \(binding.method.outputType) as JSON: \(error)"))
        }
    }
}

extension RESTExchange: UpstreamCallDelegate {
    func upstreamCall(_ call: UpstreamCall, received part: UpstreamResponsePart) {
        switch part {
        case .head(let headers):
            headReceived = true
            if let failure = UpstreamResponseCheck.head(headers) {
                call.cancel()
                fail(failure)
                return
            }
            GRPCWebMetadata.appendResponseHeaders(from: headers, to: &responseMetadata)
        case .data(let bytes):
            do throws(GRPCStatus) {
                let messages: [[UInt8]]
                do { messages = try frames.decode(bytes).map(\.payload) } catch {
                    throw GRPCStatus(.internal, "upstream sent invalid gRPC frames: \(error)")
                }
                try received(messages)
            } catch {
                call.cancel()
                return fail(error)
            }
            if credit.received(bytes.count, by: call, downstreamQueued: stream.queuedBytes) { stream.bufferLimitReached() }
        case .trailers(let trailers):
            finish(with: UpstreamResponseCheck.trailers(trailers, headReceived: headReceived))
        case .failed(let status):
            fail(status)
        }
    }
}
