// One unary Connect call (connectrpc.com/docs/protocol, "Unary-Response"): the request already
// decoded into one binary message, it drives the upstream call, holds the reply until the
// trailers say how the call ended, then answers whole: 200 with the message in the request's
// codec, or the error's HTTP status with the Connect error JSON. Trailers go as `trailer-`
// fields in either case.
import Connect
import FerryCore
import GRPCWeb
import Gzip
import Upstream

final class ConnectUnaryExchange: DownstreamExchange {
    /// The stream and the exchange hold each other until the stream lets it go (see
    /// GRPCWebExchange.stream).
    private let stream: any DownstreamStream
    private let messages: ConnectMessageCodec
    private let errors: ConnectErrorJSON
    private let responseCompression: ConnectCompression
    /// CORS, and `Vary` for a GET whose response may be cached.
    private let extraHeaders: HeaderFields
    private var finished = false
    var call: UpstreamCall?
    private(set) var grpcStatusCode: Int?
    private var frames = GRPCFrameDecoder(maxMessageBytes: RESTExchange.maxReplyMessageBytes)
    private var reply: [GRPCFrame] = []
    private var headReceived = false
    /// The backend's response metadata, without gRPC's own fields.
    private var leadingMetadata = HeaderFields()
    /// The backend's `grpc-encoding`, for a compressed reply.
    private var replyEncoding: String?

    init(
        stream: any DownstreamStream, messages: ConnectMessageCodec, errors: ConnectErrorJSON,
        responseCompression: ConnectCompression, extraHeaders: HeaderFields
    ) {
        self.stream = stream
        self.messages = messages
        self.errors = errors
        self.responseCompression = responseCompression
        self.extraHeaders = extraHeaders
    }

    /// Answers with `status` (and `metadata` as headers) without calling upstream (a call Ferry
    /// refuses itself).
    func reject(_ status: GRPCStatus, httpStatus: Int? = nil, metadata: HeaderFields = HeaderFields()) {
        leadingMetadata = metadata
        fail(status, httpStatus: httpStatus)
    }

    func downstreamClosed() {
        guard !finished else { return }
        finished = true
        call?.cancel()
    }

    /// A unary reply is held whole (at most one message): nothing to release.
    func downstreamDrained() {}

    private func respond(status: Int, contentType: String, body: [UInt8], trailers: HeaderFields, compressed: Bool = false) {
        guard !finished else { return }
        finished = true
        var headers = stream.emptyHeaders()
        headers.append(name: "content-type", value: contentType)
        if compressed { headers.append(name: "content-encoding", value: "gzip") }
        if call?.overloaded == true { headers.append(name: GRPCStatus.overloadedField, value: "true") }
        headers.append(contentsOf: leadingMetadata)
        ConnectMetadata.appendPrefixedTrailers(trailers, to: &headers)
        headers.append(contentsOf: extraHeaders)
        stream.sendHead(status: status, headers: consume headers, contentLength: body.count)
        stream.sendData(body)
        stream.sendEnd(trailers: HeaderFields())
    }

    /// An error, as the Connect error JSON under the HTTP status of its code (Ferry's "no such
    /// method" is 404, which clients read as `unimplemented`, as a Connect server's mux answers).
    private func fail(_ status: GRPCStatus, httpStatus: Int? = nil, details: [UInt8]? = nil, trailers: HeaderFields = HeaderFields()) {
        if grpcStatusCode == nil { grpcStatusCode = status.code.rawValue }
        respond(
            status: httpStatus ?? status.code.httpStatus, contentType: "application/json", body: errors.error(status, details: details),
            trailers: trailers)
    }

    private func finish(with trailers: HeaderFields) {
        let status = GRPCStatus(trailers: trailers)
        let metadata = ConnectMetadata.forwarded(from: trailers)
        guard status.code == .ok else {
            return fail(status, details: trailers["grpc-status-details-bin"].flatMap(Base64.decodeLenient), trailers: metadata)
        }
        guard reply.count == 1 else {
            return fail(GRPCStatus(.internal, "upstream sent \(reply.count) messages for a unary call"), trailers: metadata)
        }
        let body: [UInt8]
        do throws(GRPCStatus) {
            body = try withTypedUnsafeBytes(uncompressedReply(reply[0])) { bytes throws(GRPCStatus) in try messages.responseMessage(bytes) }
        } catch {
            return fail(error, trailers: metadata)
        }
        grpcStatusCode = 0
        let contentType = ConnectContentType.unary(messages.codec).headerValue
        if responseCompression == .gzip && body.count >= ContentCoding.minimumCompressedBytes {
            respond(status: 200, contentType: contentType, body: Gzip.deflate(body), trailers: metadata, compressed: true)
        } else {
            respond(status: 200, contentType: contentType, body: body, trailers: metadata)
        }
    }

    /// The reply's message, inflated when the backend compressed it.
    private func uncompressedReply(_ frame: GRPCFrame) throws(GRPCStatus) -> [UInt8] {
        try ConnectStreamExchange.uncompressed(frame, encoding: replyEncoding, limit: RESTExchange.maxReplyMessageBytes)
    }
}

extension ConnectUnaryExchange: UpstreamCallDelegate {
    func upstreamCall(_ call: UpstreamCall, received part: UpstreamResponsePart) {
        switch part {
        case .head(let headers):
            headReceived = true
            if let failure = UpstreamResponseCheck.head(headers) {
                call.cancel()
                return fail(failure)
            }
            leadingMetadata = ConnectMetadata.forwarded(from: headers)
            replyEncoding = headers["grpc-encoding"]
        case .data(let bytes):
            do {
                reply += try frames.decode(bytes)
            } catch {
                call.cancel()
                return fail(GRPCStatus(.internal, "upstream sent invalid gRPC frames: \(error)"))
            }
            call.consume(bytes.count)
        case .trailers(let trailers):
            finish(with: UpstreamResponseCheck.trailers(trailers, headReceived: headReceived))
        case .failed(let status):
            fail(status)
        }
    }
}
