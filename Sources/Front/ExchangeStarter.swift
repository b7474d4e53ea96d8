// What both fronts do with a classified request once its body is in: refuse it, answer it, or
// start the exchange that calls upstream; and what they do with each piece of its body before
// that. Shared by the HTTP/1.1 connection and the HTTP/2 streams, which only move bytes and
// keep their own protocol's bookkeeping (keep-alive, lingering close, RST_STREAM).
import FerryCore
import Gzip
import GRPCWeb
import HTTP1
import Loop
import Observability
import Resilience
import Routing
import Transcode
import Upstream

/// A response Ferry writes itself, whole (a preflight, a refusal, a REST error).
struct SimpleResponse {
    var head: HTTP1ResponseHead
    var body: String

    /// An error Ferry answers itself, outside the gRPC-Web, gRPC and Connect forms (a REST call,
    /// a request it cannot parse, a refused preflight): `google.rpc.Status` as JSON, as
    /// grpc-gateway answers, under `httpStatus` or the status's own HTTP mapping.
    static func error(_ status: GRPCStatus, httpStatus: Int? = nil, headers: HeaderFields = HeaderFields()) -> SimpleResponse {
        var headers = headers
        headers.append(name: "content-type", value: "application/json")
        return SimpleResponse(
            head: HTTP1ResponseHead(status: httpStatus ?? status.code.httpStatus, headers: headers),
            body: String(decoding: ProtoJSONTranscoder.statusJSON(code: status.code.rawValue, message: status.message), as: UTF8.self))
    }

    /// The head's fields, with a plain-text content type when a body has none of its own.
    var headers: HeaderFields {
        guard !body.isEmpty, head.headers.firstIndex(of: "content-type") == nil else { return head.headers }
        var headers = head.headers
        headers.append(name: "content-type", value: "text/plain; charset=utf-8")
        return headers
    }
}

/// What a piece of a request's body means for the request.
enum RequestBodyVerdict {
    /// Kept (or dropped, when the answer is already decided) within the limits: read on.
    case keep
    /// Answered now, before the body ends: nothing more of it is kept.
    case refuse(RequestRefusal)
}

enum RequestRefusal {
    case simple(SimpleResponse)
    case grpcWeb(PendingGRPCWebCall, GRPCWebRequestError)
    case connect(PendingConnectCall, GRPCStatus)
}

/// Noncopyable: a call on a starter stored in a connection borrows it in place, where a
/// copyable one was copied out for every call, two a request (issue 19). Its owner replaces
/// it only where no call on it is in progress (exclusive access is checked at run time).
struct ExchangeStarter: ~Copyable {
    let context: ListenerContext
    /// The verified client certificate's subject and alternative names, on a mutual-TLS listener.
    let clientIdentity: CertificateIdentity?
    /// The client's `address:port` (empty unless the access log or a rate limit needs it).
    let peer: String
    /// Past this, a body whose answer was decided from its head is not read to its end.
    static let simpleBodyDiscardLimit = 64 * 1024

    // MARK: The body, piece by piece

    /// A refusal to answer as soon as the head is in, before any body: a gRPC-Web request
    /// refused from its head whose declared body is too large to read and drop.
    func refusalBeforeBody(_ request: ClassifiedRequest, framing: HTTP1BodyFraming) -> RequestRefusal? {
        guard case .grpcWeb(let call) = request, let failure = call.failure, case .contentLength(let length) = framing,
            length > context.limits.bodyLimit(for: call.contentType)
        else { return nil }
        return .grpcWeb(call, failure)
    }

    /// Takes a piece of the body of `request`; `discarded` counts what is dropped unread.
    func take(_ chunk: UnsafeRawBufferPointer, into request: ClassifiedRequest, discarded: inout Int) -> RequestBodyVerdict {
        let limits = context.limits
        switch request {
        case .grpc(let call):
            call.exchange?.requestBody(chunk)
            return .keep
        case .connect(let call):
            return take(chunk, into: call, discarded: &discarded)
        case .simple(let response):
            // The answer is decided: the body is dropped as it comes, up to a bound past which
            // the answer goes at once.
            discarded += chunk.count
            return discarded > Self.simpleBodyDiscardLimit ? .refuse(.simple(response)) : .keep
        case .rest(let rest):
            guard rest.body.count + chunk.count <= limits.maxMessageBytes else {
                context.limitReporter.hit("max_message_bytes", "REST request body above \(limits.maxMessageBytes) bytes")
                return .refuse(
                    .simple(
                        SimpleResponse.error(
                            GRPCStatus(.resourceExhausted, "request body is larger than the limit of \(limits.maxMessageBytes) bytes"),
                            httpStatus: 413, headers: rest.corsHeaders)))
            }
            rest.body.append(contentsOf: chunk)
            return .keep
        case .grpcWeb(let call):
            call.bodyBytes += chunk.count
            if let failure = call.failure {
                // Refused at its head: the body is dropped as it comes, up to a bound.
                return call.bodyBytes > limits.discardLimit(for: call.contentType) ? .refuse(.grpcWeb(call, failure)) : .keep
            }
            let bodyLimit = limits.bodyLimit(for: call.contentType)
            if call.bodyBytes > bodyLimit {
                context.limitReporter.hit("max_message_bytes", "gRPC-Web request body above \(bodyLimit) bytes")
                return .refuse(
                    .grpcWeb(
                        call,
                        .invalidFrames(
                            GRPCStatus(
                                .resourceExhausted,
                                "gRPC-Web request body larger than the limit of \(bodyLimit) bytes"))))
            }
            do throws(GRPCWebRequestError) {
                try call.decoder.append(chunk)
            } catch {
                // A frame over the message limit, bad flags, an encoding not accepted, bad
                // base64: answered as soon as it is seen, nothing buffered for the rest.
                if case .invalidFrames(let status) = error, status.code == .resourceExhausted {
                    context.limitReporter.hit("max_message_bytes", status.message)
                }
                return .refuse(.grpcWeb(call, error))
            }
            return .keep
        }
    }

    /// The answer to a request whose body did not arrive within `request_body_timeout` of its
    /// head (slowloris): 408, or DEADLINE_EXCEEDED for gRPC-Web and Connect streams; counted. `then` says what
    /// happens next, for the log.
    func bodyTimeoutRefusal(for request: ClassifiedRequest, then: String) -> RequestRefusal {
        let budget = GRPCTimeout(nanoseconds: Int64(context.limits.requestBodyTimeoutNanoseconds))
        context.limitReporter.hit("request_body_timeout", "request body not received within \(budget) of its head; \(then)")
        let message = "request body not received within \(budget) of the request head (request_body_timeout)"
        switch request {
        case .grpcWeb(let call):
            return .grpcWeb(call, .invalidFrames(GRPCStatus(.deadlineExceeded, message)))
        case .rest(let call):
            return .simple(
                SimpleResponse.error(
                    GRPCStatus(.deadlineExceeded, message), httpStatus: 408,
                    headers: call.corsHeaders))
        case .connect(let call) where !call.contentType.isStreaming:
            return .simple(
                RequestClassifier.connectErrorResponse(
                    GRPCStatus(.deadlineExceeded, message), httpStatus: 408, corsHeaders: call.extraHeaders))
        case .connect(let call):
            return .connect(call, GRPCStatus(.deadlineExceeded, message))
        case .simple, .grpc:
            return .simple(.error(GRPCStatus(.deadlineExceeded, message), httpStatus: 408))
        }
    }

    // MARK: The end of the request

    /// Answers `request`, whose body has ended: a response for the front to write, or nil
    /// when an exchange now answers on `stream` (`begin` is told of it before it starts).
    /// `head` is consumed: its fields become the upstream call's metadata in place.
    func finish(
        _ head: consuming HTTP1RequestHead, _ request: ClassifiedRequest, on stream: any DownstreamStream,
        record: AccessRecord?, begin: (any DownstreamExchange) -> Void
    ) -> SimpleResponse? {
        switch request {
        case .simple(let response):
            return response
        case .grpc(let call):
            call.exchange?.requestEnded()
            return nil
        case .connect(let call):
            finishConnect(consume head, call, on: stream, record: record, begin: begin)
            return nil
        case .grpcWeb(let call):
            let body: [UInt8]
            do throws(GRPCWebRequestError) {
                if let failure = call.failure { throw failure }
                body = try call.decoder.finish()
            } catch {
                return refuse(head, call, error, on: stream, begin: begin)
            }
            let exchange = grpcWebExchange(head, call, on: stream)
            begin(exchange)
            guard let route = call.route, let pool = context.pool(for: route) else {
                exchange.reject(Self.noCluster(call.route))
                return nil
            }
            let grant: AuthGrant?
            do throws(AdmissionRefusal) { grant = try admit(route, head) } catch {
                exchange.reject(error.status, metadata: error.metadata)
                return nil
            }
            exchange.start(
                request: UpstreamRequest(
                    path: call.path,
                    metadata: upstreamMetadata(
                        consume head, droppingUnderscoreNames: call.dropsUnderscoreNames, record: record, grant: grant),
                    contentType: call.contentType.upstreamContentType,
                    timeout: call.timeout ?? routeTimeout(route, path: call.path), body: body,
                    retryPolicy: route.policy.retryPolicy, retriesFailuresInTrailers: route.policy.idempotent,
                    perTryTimeoutNanoseconds: route.policy.perTryTimeoutNanoseconds), pool: pool)
            return nil
        case .rest(let call):
            return startREST(consume head, call, on: stream, record: record, begin: begin)
        }
    }

    /// Starts the exchange of a native gRPC call at its head: its body streams after it.
    func startGRPC(
        _ head: HTTP1RequestHead, _ call: PendingGRPCCall, on stream: any DownstreamStream,
        record: AccessRecord?, begin: (any DownstreamExchange) -> Void
    ) {
        let exchange = GRPCExchange(stream: stream)
        call.exchange = exchange
        begin(exchange)
        if let failure = call.failure { return exchange.reject(failure) }
        guard let route = call.route, let pool = context.pool(for: route) else {
            return exchange.reject(Self.noCluster(call.route))
        }
        let grant: AuthGrant?
        do throws(AdmissionRefusal) { grant = try admit(route, head) } catch {
            return exchange.reject(error.status, metadata: error.metadata)
        }
        let metadata = upstreamMetadata(head, droppingUnderscoreNames: call.dropsUnderscoreNames, record: record, grant: grant)
        // The reply is held for a retry on an idempotent route only when the descriptors say
        // the method is unary: a held stream would reach the client late.
        let knownUnary = context.rest?.catalog.unaryMethodPaths.contains(call.path) == true
        exchange.start(
            request: UpstreamRequest(
                path: call.path, metadata: metadata, contentType: call.contentType,
                timeout: call.timeout ?? routeTimeout(route, path: call.path), body: [], streamsBody: true,
                retryPolicy: route.policy.retryPolicy, retriesFailuresInTrailers: route.policy.idempotent && knownUnary,
                perTryTimeoutNanoseconds: route.policy.perTryTimeoutNanoseconds), pool: pool)
    }

    private func startREST(
        _ head: consuming HTTP1RequestHead, _ call: PendingRESTCall, on stream: any DownstreamStream,
        record: AccessRecord?, begin: (any DownstreamExchange) -> Void
    ) -> SimpleResponse? {
        guard let rest = context.rest else { return nil }
        if call.bodyCoding == .gzip {
            // Bounded as the body itself is: a small zip bomb must not become a large message.
            let limit = context.limits.maxMessageBytes
            do {
                call.body = try Gzip.inflate(call.body, limit: limit)
            } catch .tooLarge {
                context.limitReporter.hit("max_message_bytes", "REST request body inflates above \(limit) bytes")
                return SimpleResponse.error(
                    GRPCStatus(.resourceExhausted, "the gzip request body inflates to more than the limit of \(limit) bytes"),
                    httpStatus: 413, headers: call.corsHeaders)
            } catch {
                return SimpleResponse.error(
                    GRPCStatus(.invalidArgument, "request body: \(error)"), headers: call.corsHeaders)
            }
        }
        let messages: [[UInt8]]
        let timeout: GRPCTimeout?
        do {
            // A streamed HttpBody body goes up as one message, as Envoy's transcoder sends a whole body.
            messages =
                call.binding.method.clientStreaming && call.binding.requestHTTPBody == nil
                ? try rest.assembler.requestStream(for: call.binding, pathBindings: call.pathBindings, query: call.query, body: call.body)
                : [
                    try rest.assembler.requestMessage(
                        for: call.binding, pathBindings: call.pathBindings, query: call.query, body: call.body,
                        contentType: head.headers["content-type"])
                ]
            timeout = try GRPCWebMetadata.timeout(from: head.headers) ?? rest.defaultTimeout
        } catch {
            return SimpleResponse.error(GRPCStatus(.invalidArgument, "\(error)"), headers: call.corsHeaders)
        }
        let grpcPath = call.binding.method.grpcPath
        guard let route = call.route, let pool = context.pool(for: route) else {
            return SimpleResponse.error(
                GRPCStatus(.unimplemented, "no route for gRPC method \(grpcPath)"),
                headers: call.corsHeaders)
        }
        let grant: AuthGrant?
        do throws(AdmissionRefusal) { grant = try admit(route, head) } catch {
            var headers = call.corsHeaders
            headers.append(contentsOf: error.headers)
            return SimpleResponse.error(error.status, headers: headers)
        }
        let exchange = RESTExchange(
            stream: stream, binding: call.binding, rest: rest, extraHeaders: call.corsHeaders,
            format: RESTStreamFormat(accept: head.headers.firstValueBytes("accept")),
            acceptsGzip: ContentCoding.acceptsGzip(head.headers.listMembers(for: "accept-encoding")))
        begin(exchange)
        let metadata = upstreamMetadata(
            consume head, allowing: rest.requestHeaders, droppingUnderscoreNames: call.dropsUnderscoreNames, record: record, grant: grant)
        var body: [UInt8] = []
        for message in messages { body += GRPCFrame.header(flags: 0, length: message.count) + message }
        exchange.start(
            request: UpstreamRequest(
                path: grpcPath, metadata: metadata, contentType: "application/grpc",
                timeout: timeout ?? routeTimeout(route, path: grpcPath), body: body,
                retryPolicy: route.policy.retryPolicy,
                retriesFailuresInTrailers: route.policy.idempotent,
                perTryTimeoutNanoseconds: route.policy.perTryTimeoutNanoseconds), pool: pool)
        return nil
    }

    /// A request answered before its body ended: the response, or nil when a gRPC-Web
    /// exchange answers it on `stream`.
    func refuse(
        _ refusal: RequestRefusal, _ head: HTTP1RequestHead, on stream: any DownstreamStream,
        begin: (any DownstreamExchange) -> Void
    ) -> SimpleResponse? {
        switch refusal {
        case .simple(let response):
            return response
        case .grpcWeb(let call, let error):
            return refuse(head, call, error, on: stream, begin: begin)
        case .connect(let call, let status):
            rejectConnect(call, status, on: stream, begin: begin)
            return nil
        }
    }

    /// A gRPC-Web request refused by Ferry: bad base64 is HTTP 400; anything else a gRPC status.
    private func refuse(
        _ head: HTTP1RequestHead, _ call: PendingGRPCWebCall, _ error: GRPCWebRequestError,
        on stream: any DownstreamStream, begin: (any DownstreamExchange) -> Void
    ) -> SimpleResponse? {
        switch error {
        case .invalidBase64:
            return SimpleResponse(head: HTTP1ResponseHead(status: 400, headers: call.corsHeaders), body: "\(error)\n")
        case .invalidFrames(let status):
            let exchange = grpcWebExchange(head, call, on: stream)
            begin(exchange)
            exchange.reject(status)
        case .unsupportedEncoding(_, let accepted):
            var metadata = HeaderFields()
            metadata.append(name: "grpc-accept-encoding", value: accepted.joined(separator: ","))
            let exchange = grpcWebExchange(head, call, on: stream)
            begin(exchange)
            exchange.reject(GRPCStatus(.unimplemented, error.description), metadata: metadata)
        }
        return nil
    }

    /// The exchange that answers a gRPC-Web request, upstream or refused by Ferry.
    private func grpcWebExchange(_ head: HTTP1RequestHead, _ call: PendingGRPCWebCall, on stream: any DownstreamStream) -> GRPCWebExchange {
        let textResponse = call.contentType.isText || GRPCWebContentType.acceptsText(head.headers.firstValueBytes("accept"))
        return GRPCWebExchange(stream: stream, contentType: call.contentType, textResponse: textResponse, extraHeaders: call.corsHeaders)
    }

    /// A cluster no pool serves (a route to a cluster the config does not have).
    static func noCluster(_ route: Route?) -> GRPCStatus {
        GRPCStatus(.unavailable, "cluster '\(route?.cluster ?? "")' does not exist")
    }

    /// The route's say over the call before it goes upstream, the same for every protocol: its
    /// authentication, then its rate limit. Returns what authentication changes in the
    /// metadata; throws why the call is refused (counted as an `auth` or `rate_limit` hit, and
    /// by route and reason).
    func admit(_ route: Route, _ head: HTTP1RequestHead) throws(AdmissionRefusal) -> AuthGrant? {
        var grant: AuthGrant?
        if let auth = route.policy.auth {
            let verdict = RouteAuthentication.verdict(
                auth, identity: clientIdentity, providers: context.authProviders, head: head,
                now: Double(ThreadSignal.realtimeNow) / 1e9, cache: context.tokenCache)
            switch verdict {
            case .success(let granted): grant = granted
            case .failure(let refusal):
                context.limitReporter.hit("auth", "route '\(route.match.label)': \(refusal.status.message)")
                context.metrics?.recordRefusal(route: route.match.label, reason: refusal.reason)
                throw AdmissionRefusal(status: refusal.status, headers: refusal.challengeHeader, metadata: HeaderFields())
            }
        }
        if let limiter = route.rateLimiter {
            let key: String
            switch limiter.policy.key {
            case .route: key = ""
            case .clientIP: key = RateLimitRefusal.clientIP(ofPeer: peer)
            case .header(let name): key = head.headers[name] ?? ""
            case .claim(let name): key = grant?.claimText(name) ?? ""
            }
            if case .limited(let wait) = limiter.acquire(key: key, now: Int64(EventLoop.monotonicNow)) {
                let refusal = RateLimitRefusal(policy: limiter.policy, route: route.match.label, retryAfterNanoseconds: wait)
                context.limitReporter.hit("rate_limit", refusal.status.message)
                context.metrics?.recordRefusal(route: route.match.label, reason: "rate_limit")
                throw AdmissionRefusal(status: refusal.status, headers: refusal.metadata, metadata: refusal.metadata)
            }
        }
        return grant
    }

    /// The request's metadata for the backend: its own fields (those `allowed`, when a list
    /// says), then the client's identity and the trace. A head handed over whole (consumed)
    /// lends its list of fields to the metadata: no new one.
    func upstreamMetadata(
        _ head: consuming HTTP1RequestHead, allowing allowed: Set<String>? = nil, droppingUnderscoreNames: Bool,
        record: AccessRecord?, grant: AuthGrant? = nil
    ) -> HeaderFields {
        // Read before the fields are left out: an allow list may leave `traceparent` out.
        let traceparent = head.headers.firstValueBytes("traceparent")
        var metadata = GRPCWebMetadata.requestMetadata(
            from: (consume head).headers, allowing: allowed, droppingUnderscoreNames: droppingUnderscoreNames)
        if let grant, grant.changesMetadata {
            // The claims replace what the client sent under their names (a client must not
            // claim to be someone); the token stays behind when the issuer says so.
            metadata.keepFields { name in
                !grant.replacedNames.contains(String(decoding: name, as: UTF8.self))
                    && !(grant.dropsAuthorization && name.equals("authorization"))
            }
            metadata.append(contentsOf: grant.forwarded)
        }
        identityAndTrace(traceparent: traceparent, record: record, addingTo: &metadata)
        return metadata
    }

    /// The client's identity and the trace, as metadata for the backend. The verified client
    /// certificate goes as `x-forwarded-client-cert: Subject="…";URI=…;DNS=…` (Envoy's XFCC
    /// format; a client's own XFCC never passes). W3C Trace Context: the request's
    /// `traceparent` names the trace (it goes upstream with the other headers); without one, a
    /// new trace starts when the config asks for it.
    private func identityAndTrace(traceparent: ArraySlice<UInt8>?, record: AccessRecord?, addingTo metadata: inout HeaderFields) {
        if let identity = clientIdentity {
            var value = "Subject=" + Self.xfccQuoted(identity.subject)
            for uri in identity.uris { value += ";URI=" + Self.xfccQuoted(uri) }
            for name in identity.dnsNames { value += ";DNS=" + Self.xfccQuoted(name) }
            metadata.append(name: "x-forwarded-client-cert", value: value)
        }
        if let traceparent {
            record?.traceID = TraceContext(traceparent: String(decoding: traceparent, as: UTF8.self))?.traceID
        } else if context.createTraceparent {
            let trace = TraceContext(using: &context.traceIDs)
            metadata.append(name: "traceparent", value: trace.traceparent)
            record?.traceID = trace.traceID
        }
    }

    /// An XFCC value in double quotes with '"' and '\\' escaped: Envoy quotes values that may
    /// hold ',', ';' or '=', and the subject always does.
    private static func xfccQuoted(_ text: String) -> String {
        var quoted = "\""
        for character in text {
            if character == "\"" || character == "\\" { quoted.append("\\") }
            quoted.append(character)
        }
        return quoted + "\""
    }

    /// The route's default deadline, unless the method is known to stream (from the descriptor
    /// set): streams are exempt from route timeouts.
    func routeTimeout(_ route: Route, path: String) -> GRPCTimeout? {
        guard let nanoseconds = route.policy.timeoutNanoseconds,
            context.rest?.catalog.streamingMethodPaths.contains(path) != true
        else { return nil }
        return GRPCTimeout(nanoseconds: Int64(min(nanoseconds, UInt64(Int64.max))))
    }
}
