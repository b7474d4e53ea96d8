// One REST call: the request already assembled into a gRPC message, it drives the upstream call
// and answers with JSON (google/api/http.proto; errors as google.rpc.Status with the HTTP status
// of google/rpc/code.proto). Unary replies are collected and sent with a Content-Length.
import FerryCore
import GRPCWeb
import HTTP1
import Transcode
import Upstream

final class RESTExchange: DownstreamExchange {
    private unowned(unsafe) let connection: HTTP1ServerConnection
    private let binding: RESTBinding
    private let rest: RESTTranscoding
    private let extraHeaders: HeaderFields
    private var call: UpstreamCall?
    private var frames = GRPCFrameDecoder(maxMessageBytes: 64 * 1024 * 1024)
    private var messages: [[UInt8]] = []
    private var headReceived = false
    private var finished = false

    init(connection: HTTP1ServerConnection, binding: RESTBinding, rest: RESTTranscoding, extraHeaders: HeaderFields) {
        self.connection = connection
        self.binding = binding
        self.rest = rest
        self.extraHeaders = extraHeaders
    }

    func start(request: UpstreamRequest, pool: UpstreamPool) {
        let call = UpstreamCall(request: request, delegate: self)
        self.call = call
        pool.start(call)
    }

    func downstreamClosed() {
        guard !finished else { return }
        finished = true
        call?.cancel()
    }

    func downstreamDrained() {}

    private func respond(status: Int, json: [UInt8]) {
        guard !finished else { return }
        finished = true
        var headers = HeaderFields(reservingFields: 4 + extraHeaders.count, bytes: 128)
        headers.append(name: "content-type", value: "application/json")
        headers.append(name: "content-length", value: String(json.count))
        headers.append(contentsOf: extraHeaders)
        connection.writeResponseHead(HTTP1ResponseHead(status: status, headers: headers))
        connection.writeBody(json)
        connection.exchangeFinished()
    }

    private func fail(_ status: GRPCStatus) {
        respond(status: status.code.httpStatus, json: ProtoJSONTranscoder.statusJSON(code: status.code.rawValue, message: status.message))
    }

    private func finish(with status: GRPCStatus) {
        guard status.code == .ok else { return fail(status) }
        guard messages.count == 1 else {
            return fail(GRPCStatus(.internal, "upstream sent \(messages.count) messages for unary method \(binding.method.fullName)"))
        }
        do {
            let json = try messages[0].withUnsafeBytes {
                try rest.transcoder.json(fromBinary: $0, messageType: binding.method.outputType,
                                         fieldPath: binding.responseBody, options: rest.printOptions)
            }
            respond(status: 200, json: json)
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
            }
        case .data(let bytes):
            // Unary replies are small and bounded by the upstream's flow control: collect them.
            do {
                messages += try frames.decode(bytes).map(\.payload)
            } catch {
                call.cancel()
                fail(GRPCStatus(.internal, "upstream sent invalid gRPC frames: \(error)"))
                return
            }
            call.consume(bytes.count)
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
