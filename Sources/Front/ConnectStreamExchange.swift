// One streaming Connect call (connectrpc.com/docs/protocol, "Streaming-Response"): the response
// is always 200, each reply an envelope in the request's codec, and the call's outcome (its error
// and trailing metadata) the last envelope, flagged end-stream. Over HTTP/2 the request's
// envelopes go upstream as they arrive (bidi streaming); over HTTP/1.1 the request came whole.
import Connect
import FerryCore
import GRPCWeb
import Gzip
import Upstream

final class ConnectStreamExchange: DownstreamExchange {
    private enum State {
        /// Nothing sent downstream yet.
        case awaitingHead
        case streaming
        case finished
    }

    /// The stream and the exchange hold each other until the stream lets it go (see
    /// GRPCWebExchange.stream).
    private let stream: any DownstreamStream
    private let messages: ConnectMessageCodec
    private let errors: ConnectErrorJSON
    private let responseCompression: ConnectCompression
    private let extraHeaders: HeaderFields
    private var state = State.awaitingHead
    var call: UpstreamCall?
    private(set) var grpcStatusCode: Int?
    private var credit: UpstreamCredit
    private var frames = GRPCFrameDecoder(maxMessageBytes: RESTExchange.maxReplyMessageBytes)
    private var leadingMetadata = HeaderFields()
    private var replyEncoding: String?
    /// The request's envelopes, when they stream through this exchange (HTTP/2).
    private var reader: ConnectEnvelopeReader?
    /// Downstream bytes to release once the upstream bytes made of them have left.
    private var forwarded = ForwardedBytes()

    init(
        stream: any DownstreamStream, messages: ConnectMessageCodec, errors: ConnectErrorJSON,
        responseCompression: ConnectCompression, extraHeaders: HeaderFields, reader: ConnectEnvelopeReader?
    ) {
        self.stream = stream
        self.messages = messages
        self.errors = errors
        self.responseCompression = responseCompression
        self.extraHeaders = extraHeaders
        self.reader = reader
        credit = UpstreamCredit(downstreamHighWatermark: stream.bufferLimitBytes)
    }

    /// Ends the stream with `status` without calling upstream (or after a bad request envelope);
    /// `metadata` goes in the head when none went yet.
    func reject(_ status: GRPCStatus, metadata: HeaderFields = HeaderFields()) {
        call?.cancel()
        if case .awaitingHead = state { leadingMetadata = metadata }
        finish(status, details: nil, metadata: HeaderFields())
    }

    // MARK: The request, streamed (HTTP/2)

    /// A piece of the request body: its complete envelopes go upstream as gRPC frames.
    func requestBody(_ chunk: UnsafeRawBufferPointer) {
        guard reader != nil, let call else { return }
        let frames: [UInt8]
        do throws(GRPCStatus) {
            frames = try reader?.append(chunk) ?? []
        } catch {
            return reject(error)
        }
        // Bytes held in a partial envelope are released now: an envelope larger than the
        // client's window must still arrive whole (it is bounded by max_message_bytes).
        if frames.isEmpty { return stream.requestBytesForwarded(chunk.count) }
        forwarded.sent(upstream: frames.count, madeOf: chunk.count)
        frames.withUnsafeBytes { call.sendBody($0) }
    }

    func requestEnded() {
        guard let reader, let call else { return }
        do throws(GRPCStatus) {
            try reader.finish()
        } catch {
            return reject(error)
        }
        call.endBody()
    }

    // MARK: Downstream events

    func downstreamClosed() {
        if case .finished = state { return }
        state = .finished
        if grpcStatusCode == nil { grpcStatusCode = GRPCStatusCode.cancelled.rawValue }
        call?.cancel()
    }

    func downstreamDrained() {
        credit.drained(call)
    }

    // MARK: Writing

    private func sendHead() {
        var headers = stream.emptyHeaders()
        headers.append(name: "content-type", value: ConnectContentType.streaming(messages.codec).headerValue)
        if responseCompression == .gzip { headers.append(name: "connect-content-encoding", value: "gzip") }
        headers.append(contentsOf: leadingMetadata)
        headers.append(contentsOf: extraHeaders)
        stream.sendHead(status: 200, headers: consume headers, contentLength: nil)
        state = .streaming
    }

    private func sendMessage(_ frame: GRPCFrame) throws(GRPCStatus) {
        let binary = try Self.uncompressed(frame, encoding: replyEncoding, limit: RESTExchange.maxReplyMessageBytes)
        let message = try withTypedUnsafeBytes(binary) { bytes throws(GRPCStatus) in try messages.responseMessage(bytes) }
        if responseCompression == .gzip && message.count >= ContentCoding.minimumCompressedBytes {
            stream.sendData(ConnectEnvelopeReader.envelope(flags: ConnectEnvelopeReader.compressedFlag, Gzip.deflate(message)))
        } else {
            stream.sendData(ConnectEnvelopeReader.envelope(flags: 0, message))
        }
    }

    /// The end-stream envelope, after the head when none went yet.
    private func finish(_ status: GRPCStatus, details: [UInt8]?, metadata: HeaderFields) {
        switch state {
        case .finished: return
        case .awaitingHead: sendHead()
        case .streaming: break
        }
        grpcStatusCode = status.code.rawValue
        state = .finished
        stream.sendData(
            ConnectEnvelopeReader.envelope(
                flags: ConnectEnvelopeReader.endStreamFlag, errors.endStream(status, details: details, metadata: metadata)))
        stream.sendEnd(trailers: HeaderFields())
    }

    /// A reply frame's message, inflated when the backend compressed it with gzip.
    static func uncompressed(_ frame: GRPCFrame, encoding: String?, limit: Int) throws(GRPCStatus) -> [UInt8] {
        guard frame.flags & GRPCFrame.compressedFlag != 0 else { return frame.payload }
        guard encoding == "gzip" else {
            throw GRPCStatus(.internal, "upstream sent a message compressed with '\(encoding ?? "")', which Ferry cannot read")
        }
        do {
            return try Gzip.inflate(frame.payload, limit: limit)
        } catch {
            throw GRPCStatus(.internal, "upstream sent an invalid compressed message: \(error)")
        }
    }
}

extension ConnectStreamExchange: UpstreamCallDelegate {
    func upstreamCall(_ call: UpstreamCall, received part: UpstreamResponsePart) {
        switch part {
        case .head(let headers):
            guard case .awaitingHead = state else { return }
            if let failure = UpstreamResponseCheck.head(headers) {
                call.cancel()
                return finish(failure, details: nil, metadata: HeaderFields())
            }
            leadingMetadata = ConnectMetadata.forwarded(from: headers)
            replyEncoding = headers["grpc-encoding"]
            sendHead()
        case .data(let bytes):
            guard case .streaming = state else { return }
            do throws(GRPCStatus) {
                let replies: [GRPCFrame]
                do { replies = try frames.decode(bytes) } catch {
                    throw GRPCStatus(.internal, "upstream sent invalid gRPC frames: \(error)")
                }
                for reply in replies { try sendMessage(reply) }
            } catch {
                call.cancel()
                return finish(error, details: nil, metadata: HeaderFields())
            }
            if credit.received(bytes.count, by: call, downstreamQueued: stream.queuedBytes) { stream.bufferLimitReached() }
        case .trailers(let trailers):
            let checked = UpstreamResponseCheck.trailers(trailers, headReceived: state != .awaitingHead)
            finish(
                GRPCStatus(trailers: checked), details: checked["grpc-status-details-bin"].flatMap(Base64.decodeLenient),
                metadata: ConnectMetadata.forwarded(from: checked))
        case .failed(let status):
            finish(status, details: nil, metadata: HeaderFields())
        }
    }

    func upstreamCall(_ call: UpstreamCall, sentRequestBytes count: Int) {
        let released = forwarded.left(upstream: count)
        if released > 0 { stream.requestBytesForwarded(released) }
    }
}

/// Which downstream bytes a streamed request's upstream bytes were made of: an envelope's JSON
/// and its binary frame differ in size, and the client's window is released (HTTP/2
/// WINDOW_UPDATE) by what it sent, once what Ferry made of it has left for the backend.
struct ForwardedBytes {
    /// Per piece sent upstream, in order: its upstream size not yet sent and its downstream size.
    private var pieces: [(upstream: Int, downstream: Int)] = []
    private var first = 0

    mutating func sent(upstream: Int, madeOf downstream: Int) {
        pieces.append((upstream, downstream))
    }

    /// `count` upstream bytes left: the downstream bytes of the pieces they complete.
    mutating func left(upstream count: Int) -> Int {
        var remaining = count
        var released = 0
        while remaining > 0, first < pieces.count {
            let taken = min(remaining, pieces[first].upstream)
            pieces[first].upstream -= taken
            remaining -= taken
            if pieces[first].upstream == 0 {
                released += pieces[first].downstream
                first += 1
            }
        }
        if first == pieces.count {
            pieces.removeAll(keepingCapacity: true)
            first = 0
        }
        return released
    }
}
