// What both fronts do with a Connect call (connectrpc.com/docs/protocol): a unary call's body is
// taken whole and goes upstream as one message; a stream's envelopes become gRPC frames as they
// arrive, going upstream at once over HTTP/2 (where bidirectional streams need it) and at the
// request's end over HTTP/1.1.
import Connect
import FerryCore
import GRPCWeb
import HTTP1
import Routing
import Upstream

extension ExchangeStarter {
    /// A piece of a Connect request's body.
    func take(_ chunk: UnsafeRawBufferPointer, into call: PendingConnectCall, discarded: inout Int) -> RequestBodyVerdict {
        if let exchange = call.exchange {
            exchange.requestBody(chunk)
            return .keep
        }
        if call.failure != nil || call.queryMessage != nil {
            // Refused at its head, or a GET: the body is dropped as it comes, up to a bound.
            discarded += chunk.count
            guard discarded > Self.simpleBodyDiscardLimit else { return .keep }
            return .refuse(.connect(call, call.failure ?? GRPCStatus(.invalidArgument, "a Connect GET request has no body")))
        }
        let limit = context.limits.maxMessageBytes
        if call.contentType.isStreaming {
            do throws(GRPCStatus) {
                call.frames += try call.reader.append(chunk)
            } catch {
                if error.code == .resourceExhausted { context.limitReporter.hit("max_message_bytes", error.message) }
                return .refuse(.connect(call, error))
            }
            // A stream taken whole (HTTP/1.1) holds at most one message's worth, as gRPC-Web.
            guard call.frames.count <= limit + GRPCFrame.headerLength else {
                context.limitReporter.hit("max_message_bytes", "Connect stream request above \(limit) bytes")
                return .refuse(
                    .connect(
                        call,
                        GRPCStatus(
                            .resourceExhausted,
                            "a streaming request over HTTP/1.1 is taken whole, and this one is larger than the limit of \(limit) bytes")))
            }
            return .keep
        }
        guard call.body.count + chunk.count <= limit else {
            context.limitReporter.hit("max_message_bytes", "Connect request body above \(limit) bytes")
            return .refuse(.connect(call, GRPCStatus(.resourceExhausted, "request body is larger than the limit of \(limit) bytes")))
        }
        call.body.append(contentsOf: chunk)
        return .keep
    }

    /// Starts a Connect stream at its head, over HTTP/2: its envelopes follow.
    func startConnectStream(
        _ head: HTTP1RequestHead, _ call: PendingConnectCall, on stream: any DownstreamStream,
        record: AccessRecord?, begin: (any DownstreamExchange) -> Void
    ) {
        let exchange = streamExchange(call, on: stream, streamingRequest: true)
        call.exchange = exchange
        begin(exchange)
        if let failure = call.failure { return exchange.reject(failure) }
        guard let (route, pool) = upstream(of: call) else { return exchange.reject(Self.noCluster(call.route)) }
        let grant: AuthGrant?
        do throws(AdmissionRefusal) { grant = try admit(route, head) } catch {
            return exchange.reject(error.status, metadata: error.headers)
        }
        startUpstream(head, call, body: [], route: route, pool: pool, exchange: exchange, record: record, grant: grant)
    }

    /// The request has ended: the call starts (or its streamed request ends). `head` is
    /// consumed, as by `finish`.
    func finishConnect(
        _ head: consuming HTTP1RequestHead, _ call: PendingConnectCall, on stream: any DownstreamStream,
        record: AccessRecord?, begin: (any DownstreamExchange) -> Void
    ) {
        if let exchange = call.exchange { return exchange.requestEnded() }
        let body: [UInt8]
        do throws(GRPCStatus) {
            if let failure = call.failure { throw failure }
            if call.contentType.isStreaming {
                try call.reader.finish()
                body = call.frames
            } else {
                let message = try call.messages.requestMessage(call.queryMessage ?? call.body, compression: call.requestCompression)
                body = GRPCFrame.header(flags: 0, length: message.count) + message
            }
        } catch {
            return rejectConnect(call, error, on: stream, begin: begin)
        }
        guard let (route, pool) = upstream(of: call) else {
            return rejectConnect(call, Self.noCluster(call.route), on: stream, begin: begin)
        }
        let grant: AuthGrant?
        do throws(AdmissionRefusal) { grant = try admit(route, head) } catch {
            return rejectConnect(call, error.status, metadata: error.headers, on: stream, begin: begin)
        }
        let exchange: any DownstreamExchange =
            call.contentType.isStreaming ? streamExchange(call, on: stream, streamingRequest: false) : unaryExchange(call, on: stream)
        begin(exchange)
        startUpstream(consume head, call, body: body, route: route, pool: pool, exchange: exchange, record: record, grant: grant)
    }

    /// Answers a Connect call with `status`, in its own form: the unary error JSON, or a
    /// stream's end-stream message.
    func rejectConnect(
        _ call: PendingConnectCall, _ status: GRPCStatus, metadata: HeaderFields = HeaderFields(), on stream: any DownstreamStream,
        begin: (any DownstreamExchange) -> Void
    ) {
        if call.contentType.isStreaming {
            let exchange = call.exchange ?? streamExchange(call, on: stream, streamingRequest: false)
            if call.exchange == nil { begin(exchange) }
            exchange.reject(status, metadata: metadata)
        } else {
            let exchange = unaryExchange(call, on: stream)
            begin(exchange)
            exchange.reject(status, httpStatus: call.route == nil ? 404 : nil, metadata: metadata)
        }
    }

    private func upstream(of call: PendingConnectCall) -> (Route, UpstreamPool)? {
        guard let route = call.route, let pool = context.pool(for: route) else { return nil }
        return (route, pool)
    }

    private func startUpstream(
        _ head: consuming HTTP1RequestHead, _ call: PendingConnectCall, body: [UInt8], route: Route, pool: UpstreamPool,
        exchange: any DownstreamExchange, record: AccessRecord?, grant: AuthGrant?
    ) {
        // The reply is held for a retry on an idempotent route only for a unary call.
        exchange.start(
            request: UpstreamRequest(
                path: call.path,
                metadata: upstreamMetadata(
                    consume head, droppingUnderscoreNames: call.dropsUnderscoreNames, record: record, grant: grant),
                contentType: "application/grpc", timeout: call.timeout ?? routeTimeout(route, path: call.path), body: body,
                streamsBody: call.exchange != nil, retryPolicy: route.policy.retryPolicy,
                retriesFailuresInTrailers: route.policy.idempotent && !call.contentType.isStreaming,
                perTryTimeoutNanoseconds: route.policy.perTryTimeoutNanoseconds), pool: pool)
    }

    private func errors() -> ConnectErrorJSON {
        ConnectErrorJSON(transcoder: context.rest?.transcoder)
    }

    private func unaryExchange(_ call: PendingConnectCall, on stream: any DownstreamStream) -> ConnectUnaryExchange {
        ConnectUnaryExchange(
            stream: stream, messages: call.messages, errors: errors(), responseCompression: call.responseCompression,
            extraHeaders: call.extraHeaders)
    }

    private func streamExchange(
        _ call: PendingConnectCall, on stream: any DownstreamStream, streamingRequest: Bool
    ) -> ConnectStreamExchange {
        ConnectStreamExchange(
            stream: stream, messages: call.messages, errors: errors(), responseCompression: call.responseCompression,
            extraHeaders: call.extraHeaders, reader: streamingRequest ? call.reader : nil)
    }
}
