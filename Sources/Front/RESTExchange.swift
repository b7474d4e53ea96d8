// One REST call: the request already assembled into gRPC, it drives the upstream call and
// answers with JSON (google/api/http.proto; errors as google.rpc.Status with the HTTP status of
// google/rpc/code.proto). A unary reply goes out with a Content-Length; a server stream goes
// out message by message, chunked, as the format the request's Accept picks:
// - a JSON array (the default): `[msg,msg,…]`, an error after the first message as a last
//   `{"error":{status}}` element;
// - NDJSON (`application/x-ndjson`): one message per line, an error as `{"error":{status}}`;
// - SSE (`text/event-stream`): `data: msg` events, an error as an `event: error` event.
// An error before the first message gets its own HTTP status, as for unary calls.
import FerryCore
import GRPCWeb
import HTTP1
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

    private unowned(unsafe) let connection: HTTP1ServerConnection
    private let binding: RESTBinding
    private let rest: RESTTranscoding
    private let extraHeaders: HeaderFields
    private let format: RESTStreamFormat
    private var state: State = .awaitingFirstMessage
    private var call: UpstreamCall?
    private var frames = GRPCFrameDecoder(maxMessageBytes: 64 * 1024 * 1024)
    /// A unary call's reply, held until the trailers say OK.
    private var unaryReply: [[UInt8]] = []
    private var headReceived = false
    /// The upstream's response metadata, sent as `x-grpc-metadata-*` headers.
    private var responseMetadata = HeaderFields()
    private var credit = UpstreamCredit()

    init(connection: HTTP1ServerConnection, binding: RESTBinding, rest: RESTTranscoding, extraHeaders: HeaderFields,
         format: RESTStreamFormat) {
        self.connection = connection
        self.binding = binding
        self.rest = rest
        self.extraHeaders = extraHeaders
        self.format = format
    }

    func start(request: UpstreamRequest, pool: UpstreamPool) {
        let call = UpstreamCall(request: request, delegate: self)
        self.call = call
        pool.start(call)
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
    /// `x-grpc-metadata-` (never as grpc-* fields of their own), then CORS.
    private func headers(contentType: String) -> HeaderFields {
        var headers = HeaderFields(reservingFields: 4 + responseMetadata.count + extraHeaders.count, bytes: 256)
        headers.append(name: "content-type", value: contentType)
        for index in 0..<responseMetadata.count {
            let field = responseMetadata[index]
            headers.append(name: "x-grpc-metadata-" + field.name, value: field.value)
        }
        return headers
    }

    /// A whole response with a Content-Length: a unary reply or an error.
    private func respond(status: Int, json: [UInt8]) {
        guard case .awaitingFirstMessage = state else { return }
        state = .finished
        var headers = headers(contentType: "application/json")
        headers.append(name: "content-length", value: String(json.count))
        headers.append(contentsOf: extraHeaders)
        connection.writeResponseHead(HTTP1ResponseHead(status: status, headers: headers))
        connection.writeBody(json)
        connection.exchangeFinished()
    }

    private func fail(_ status: GRPCStatus) {
        switch state {
        case .awaitingFirstMessage:
            respond(status: status.code.httpStatus, json: ProtoJSONTranscoder.statusJSON(code: status.code.rawValue, message: status.message))
        case .streaming(let elements):
            let error = Array("{\"error\":".utf8) + ProtoJSONTranscoder.statusJSON(code: status.code.rawValue, message: status.message) + [UInt8(ascii: "}")]
            switch format {
            case .jsonArray: connection.writeChunk((elements == 0 ? [] : [UInt8(ascii: ",")]) + error + [UInt8(ascii: "]")])
            case .ndjson: connection.writeChunk(error + [0x0A])
            case .serverSentEvents:
                connection.writeChunk(Array("event: error\ndata: ".utf8) + ProtoJSONTranscoder.statusJSON(code: status.code.rawValue, message: status.message) + [0x0A, 0x0A])
            }
            endStream()
        case .finished:
            return
        }
    }

    private func startStream() {
        var headers = headers(contentType: format.contentType)
        headers.append(name: "transfer-encoding", value: "chunked")
        headers.append(contentsOf: extraHeaders)
        connection.writeResponseHead(HTTP1ResponseHead(status: 200, headers: headers))
        if case .jsonArray = format { connection.writeChunk([UInt8(ascii: "[")]) }
        state = .streaming(elements: 0)
    }

    private func writeElement(_ json: [UInt8]) {
        guard case .streaming(let elements) = state else { return }
        switch format {
        case .jsonArray: connection.writeChunk(elements == 0 ? json : [UInt8(ascii: ",")] + json)
        case .ndjson: connection.writeChunk(json + [0x0A])
        case .serverSentEvents: connection.writeChunk(Array("data: ".utf8) + json + [0x0A, 0x0A])
        }
        state = .streaming(elements: elements + 1)
    }

    private func endStream() {
        connection.writeLastChunk()
        state = .finished
        connection.exchangeFinished()
    }

    private func json(_ message: [UInt8]) throws(JSONPrintError) -> [UInt8] {
        try withTypedUnsafeBytes(message) { bytes throws(JSONPrintError) in
            try rest.transcoder.json(fromBinary: bytes, messageType: binding.method.outputType,
                                     fieldPath: binding.responseBody, options: rest.printOptions)
        }
    }

    // MARK: Upstream parts

    private func received(_ messages: [[UInt8]]) throws(JSONPrintError) {
        guard binding.method.serverStreaming else {
            unaryReply += messages
            return
        }
        for message in messages {
            let element = try json(message)
            if case .awaitingFirstMessage = state { startStream() }
            writeElement(element)
        }
    }

    private func finish(with status: GRPCStatus) {
        guard status.code == .ok else { return fail(status) }
        if binding.method.serverStreaming {
            if case .awaitingFirstMessage = state { startStream() }
            if case .jsonArray = format { connection.writeChunk([UInt8(ascii: "]")]) }
            endStream()
            return
        }
        guard unaryReply.count == 1 else {
            return fail(GRPCStatus(.internal, "upstream sent \(unaryReply.count) messages for unary method \(binding.method.fullName)"))
        }
        do {
            respond(status: 200, json: try json(unaryReply[0]))
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
            if let failure = GRPCWebExchange.validateResponseHead(headers) {
                call.cancel()
                fail(failure)
                return
            }
            GRPCWebMetadata.appendResponseHeaders(from: headers, to: &responseMetadata)
        case .data(let bytes):
            do {
                try received(try frames.decode(bytes).map(\.payload))
            } catch let error as GRPCFrameError {
                call.cancel()
                return fail(GRPCStatus(.internal, "upstream sent invalid gRPC frames: \(error)"))
            } catch {
                call.cancel()
                return fail(GRPCStatus(.internal, "cannot write \(binding.method.outputType) as JSON: \(error)"))
            }
            credit.received(bytes.count, by: call, downstreamQueued: connection.outputLength)
        case .trailers(let trailers):
            // Trailers-only: the block is also the response head, with its :status.
            if !headReceived, let failure = GRPCWebExchange.validateResponseHead(trailers) {
                fail(failure)
            } else {
                finish(with: GRPCStatus(trailers: trailers))
            }
        case .failed(let status):
            fail(status)
        }
    }
}
