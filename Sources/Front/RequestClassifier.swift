// What a request gets, decided from its head alone: a CORS preflight's answer, a refusal Ferry
// answers itself, or a gRPC-Web or REST call whose body is awaited. Kept apart from the HTTP/1.1
// connection, which only feeds it heads and acts on the answer.
import Config
import FerryCore
import GRPCWeb
import HTTP1
import Routing
import Transcode
import Upstream

/// A gRPC-Web request whose body is still arriving. A class, so that the state machine
/// moves one reference between states instead of copying every field (and the decoder's
/// body buffer stays uniquely owned while chunks are appended).
final class PendingGRPCWebCall {
    /// The method path sent upstream (the target without its query).
    let path: String
    let contentType: GRPCWebContentType
    /// nil when no route knows the call; `failure` then says so.
    let route: Route?
    let timeout: GRPCTimeout?
    /// CORS headers for the response, decided from the request's `Origin`.
    let corsHeaders: HeaderFields
    /// Header names with `_` are not forwarded (`limits.headers_with_underscores: drop`).
    let dropsUnderscoreNames: Bool
    var decoder: GRPCWebRequestDecoder
    var bodyBytes = 0
    /// A refusal decided from the head (no route); answered at the body's end, which is read
    /// and dropped, so that the connection stays open.
    var failure: GRPCWebRequestError?

    init(
        path: String, contentType: GRPCWebContentType, route: Route?, timeout: GRPCTimeout?,
        corsHeaders: HeaderFields, dropsUnderscoreNames: Bool, decoder: GRPCWebRequestDecoder
    ) {
        self.path = path
        self.contentType = contentType
        self.route = route
        self.timeout = timeout
        self.corsHeaders = corsHeaders
        self.dropsUnderscoreNames = dropsUnderscoreNames
        self.decoder = decoder
    }
}

/// A REST request whose body is still arriving (google.api.http).
final class PendingRESTCall {
    let binding: RESTBinding
    /// The route of the gRPC method the binding calls; nil: none (answered UNIMPLEMENTED).
    let route: Route?
    let pathBindings: [PathBinding]
    let query: Substring?
    let corsHeaders: HeaderFields
    let dropsUnderscoreNames: Bool
    /// The body's `Content-Encoding`.
    let bodyCoding: ContentCoding
    var body: [UInt8] = []

    init(
        binding: RESTBinding, route: Route?, pathBindings: [PathBinding], query: Substring?, corsHeaders: HeaderFields,
        dropsUnderscoreNames: Bool, bodyCoding: ContentCoding = .identity
    ) {
        self.bodyCoding = bodyCoding
        self.binding = binding
        self.route = route
        self.pathBindings = pathBindings
        self.query = query
        self.corsHeaders = corsHeaders
        self.dropsUnderscoreNames = dropsUnderscoreNames
    }
}

/// A native gRPC call on an HTTP/2 stream: its messages go upstream as they arrive, so its
/// exchange starts at the head and takes the body piece by piece.
final class PendingGRPCCall {
    /// The method path sent upstream.
    let path: String
    /// The request's content type, forwarded as it is (`application/grpc+proto`, …).
    let contentType: String
    let route: Route?
    let timeout: GRPCTimeout?
    let dropsUnderscoreNames: Bool
    /// A refusal decided from the head, answered trailers-only (PROTOCOL-HTTP2.md).
    let failure: GRPCStatus?
    /// The exchange, once started: the body's pieces go to it.
    var exchange: GRPCExchange?

    init(path: String, contentType: String, route: Route?, timeout: GRPCTimeout?, dropsUnderscoreNames: Bool, failure: GRPCStatus?) {
        self.path = path
        self.contentType = contentType
        self.route = route
        self.timeout = timeout
        self.dropsUnderscoreNames = dropsUnderscoreNames
        self.failure = failure
    }
}

/// What a connection does with the request being received.
enum ClassifiedRequest {
    /// Native gRPC (HTTP/2 only).
    case grpc(PendingGRPCCall)
    case grpcWeb(PendingGRPCWebCall)
    case rest(PendingRESTCall)
    case connect(PendingConnectCall)
    /// Answered when the request ends: the body is read and discarded first.
    case simple(SimpleResponse)

    /// The upstream call that the request's body streams to as it arrives, once started.
    var streamingUpstreamCall: UpstreamCall? {
        switch self {
        case .grpc(let call): call.exchange?.call
        case .connect(let call): call.exchange?.call
        case .grpcWeb, .rest, .simple: nil
        }
    }
}

/// Classifies requests with a listener's routes, CORS policy, REST rules and limits.
struct RequestClassifier {
    let context: ListenerContext

    /// Decides from the head alone what the request will get.
    func classify(_ head: HTTP1RequestHead, framing: HTTP1BodyFraming) -> ClassifiedRequest {
        // Header names with `_` (Envoy's headers_with_underscores_action): a backend or a CGI-style
        // layer may read `x_user` and `x-user` as one name, so a client could smuggle one past
        // a filter that looks for the other.
        var dropsUnderscoreNames = false
        if context.limits.headersWithUnderscores != .allow, let index = head.headers.firstIndex(whereNameContains: UInt8(ascii: "_")) {
            let name = head.headers[index].name
            if context.limits.headersWithUnderscores == .reject {
                context.limitReporter.hit("headers_with_underscores", "request header '\(name)' refused (400)")
                return .simple(
                    .error(
                        GRPCStatus(
                            .invalidArgument,
                            "header name '\(name)' contains '_', which this listener refuses (limits.headers_with_underscores: reject)"),
                        httpStatus: 400))
            }
            context.limitReporter.hit("headers_with_underscores", "request header '\(name)' not forwarded")
            dropsUnderscoreNames = true
        }
        if let cors = context.cors, CORSPolicy.isPreflight(method: head.method, headers: head.headers) {
            switch cors.preflight(headers: head.headers) {
            case .allowed(let fields):
                return .simple(SimpleResponse(head: HTTP1ResponseHead(status: 204, headers: fields), body: ""))
            case .denied(let reason):
                return .simple(
                    .error(
                        GRPCStatus(.permissionDenied, "CORS preflight denied: \(reason)"), httpStatus: 403,
                        headers: cors.refusedOriginFields))
            }
        }
        let corsHeaders = corsResponseHeaders(head)
        let path = head.path
        if head.version == .http2, let given = head.headers.firstValueBytes("content-type"), Self.isNativeGRPC(contentType: given) {
            return classifyGRPC(head, contentType: String(decoding: given, as: UTF8.self), dropsUnderscoreNames: dropsUnderscoreNames)
        }
        // Read in place: every gRPC-Web request's type is parsed here.
        let contentType = head.headers.withFirstValue(of: "content-type") { GRPCWebContentType(parsing: $0) } ?? nil
        if contentType == nil,
            let connect = classifyConnect(head, framing: framing, corsHeaders: corsHeaders, dropsUnderscoreNames: dropsUnderscoreNames)
        {
            return connect
        }
        if contentType == nil, let rest = context.rest {
            return classifyREST(head, framing: framing, rest: rest, corsHeaders: corsHeaders, dropsUnderscoreNames: dropsUnderscoreNames)
        }
        if contentType == nil, let reason = context.restUnavailable {
            return Self.restError(GRPCStatus(.unavailable, reason), corsHeaders: corsHeaders)
        }
        let route = context.router.route(path: path)
        guard let contentType else {
            if route != nil || GRPCMethodPath(path) != nil {
                let given = head.headers["content-type"].map { "'\($0)'" } ?? "none"
                return .simple(
                    .error(
                        GRPCStatus(
                            .invalidArgument,
                            "unsupported content-type \(given): expected application/grpc-web, application/grpc-web+proto, application/grpc-web-text or application/grpc-web-text+proto"
                        ), httpStatus: 415, headers: corsHeaders))
            }
            return Self.restError(GRPCStatus(.notFound, "no route for \(head.method) \(head.path)"), corsHeaders: corsHeaders)
        }
        guard head.method == "POST" else {
            var headers = corsHeaders
            headers.append(name: "allow", value: "POST")
            return .simple(
                SimpleResponse(
                    head: HTTP1ResponseHead(status: 405, headers: headers), body: "gRPC-Web calls use POST, not \(head.method)\n"))
        }
        let timeout: GRPCTimeout?
        do {
            timeout = try GRPCWebMetadata.timeout(from: head.headers)
        } catch {
            return .simple(SimpleResponse(head: HTTP1ResponseHead(status: 400, headers: corsHeaders), body: "\(error)\n"))
        }
        let call = PendingGRPCWebCall(
            path: path.endIndex == head.target.endIndex ? head.target : String(path),
            contentType: contentType, route: route, timeout: timeout, corsHeaders: corsHeaders,
            dropsUnderscoreNames: dropsUnderscoreNames,
            decoder: GRPCWebRequestDecoder(
                contentType: contentType,
                messageEncoding: head.headers.firstValueBytes("grpc-encoding").map { String(decoding: $0, as: UTF8.self) },
                maxMessageBytes: context.limits.maxMessageBytes,
                acceptedEncodings: context.limits.grpcEncodings,
                expectedBodyBytes: framing.expectedLength))
        if route == nil {
            call.failure = .invalidFrames(GRPCStatus(.unimplemented, "no route for gRPC method \(path)"))
        } else if case .contentLength(let length) = framing, length > context.limits.bodyLimit(for: contentType) {
            call.failure = .invalidFrames(
                GRPCStatus(
                    .resourceExhausted,
                    "gRPC-Web request body of \(length) bytes is larger than the limit of \(context.limits.bodyLimit(for: contentType)) bytes"
                ))
        }
        return .grpcWeb(call)
    }

    /// `application/grpc`, alone or with a `+format` or parameters (PROTOCOL-HTTP2.md,
    /// "Content-Type"), but not `application/grpc-web…`.
    static func isNativeGRPC(contentType: ArraySlice<UInt8>) -> Bool {
        let prefix = "application/grpc".utf8
        guard contentType.count >= prefix.count,
            contentType.prefix(prefix.count).elementsEqual(prefix, by: { $0 | 0x20 == $1 | 0x20 })
        else { return false }
        let next = contentType.dropFirst(prefix.count).first
        return next == nil || next == UInt8(ascii: "+") || next == UInt8(ascii: ";")
    }

    /// A native gRPC request: routed like gRPC-Web; what is wrong with it from its head is
    /// answered trailers-only, as a gRPC server would (grpc-go's answers for each).
    private func classifyGRPC(_ head: HTTP1RequestHead, contentType: String, dropsUnderscoreNames: Bool) -> ClassifiedRequest {
        let path = head.path
        guard head.method == "POST" else {
            var headers = HeaderFields()
            headers.append(name: "allow", value: "POST")
            return .simple(
                SimpleResponse(head: HTTP1ResponseHead(status: 405, headers: headers), body: "gRPC calls use POST, not \(head.method)\n"))
        }
        let route = context.router.route(path: path)
        var failure: GRPCStatus?
        var timeout: GRPCTimeout?
        do {
            timeout = try GRPCWebMetadata.timeout(from: head.headers)
        } catch {
            failure = GRPCStatus(.internal, "malformed grpc-timeout: \(error)")
        }
        if route == nil { failure = GRPCStatus(.unimplemented, "no route for gRPC method \(path)") }
        return .grpc(
            PendingGRPCCall(
                path: String(path), contentType: contentType, route: route, timeout: timeout,
                dropsUnderscoreNames: dropsUnderscoreNames, failure: failure))
    }

    /// A request that is not gRPC-Web, on a listener with REST: matched against the rules.
    private func classifyREST(
        _ head: HTTP1RequestHead, framing: HTTP1BodyFraming, rest: RESTTranscoding,
        corsHeaders: HeaderFields, dropsUnderscoreNames: Bool
    ) -> ClassifiedRequest {
        let requestPath: RequestPath
        do {
            requestPath = try RequestPath(parsing: head.path)
        } catch {
            return Self.restError(GRPCStatus(.invalidArgument, error.description), corsHeaders: corsHeaders)
        }
        switch rest.catalog.routes.lookup(verb: head.method, path: requestPath) {
        case .notFound:
            return Self.restError(GRPCStatus(.notFound, "no REST route for \(head.method) \(head.path)"), corsHeaders: corsHeaders)
        case .methodNotAllowed(let allowed):
            var headers = corsHeaders
            headers.append(name: "allow", value: allowed.joined(separator: ", "))
            return Self.restError(
                GRPCStatus(.unimplemented, "\(head.path) does not take \(head.method) (allowed: \(allowed.joined(separator: ", ")))"),
                httpStatus: 405, corsHeaders: headers)
        case .matched(let binding, let pathBindings):
            if case .contentLength(let length) = framing, length > context.limits.maxMessageBytes {
                return Self.restError(
                    GRPCStatus(
                        .resourceExhausted,
                        "request body of \(length) bytes is larger than the limit of \(context.limits.maxMessageBytes) bytes"),
                    httpStatus: 413, corsHeaders: corsHeaders)
            }
            let codings = head.headers.listMembers(for: "content-encoding")
            guard let coding = ContentCoding(contentEncoding: codings) else {
                // RFC 9110 §15.5.16: 415, saying in Accept-Encoding which codings are read.
                var headers = corsHeaders
                headers.append(name: "accept-encoding", value: "gzip")
                return Self.restError(
                    GRPCStatus(
                        .invalidArgument,
                        "request Content-Encoding '\(codings.joined(separator: ", "))' is not supported: send gzip or identity"),
                    httpStatus: 415, corsHeaders: headers)
            }
            return .rest(
                PendingRESTCall(
                    binding: binding, route: context.router.route(path: binding.method.grpcPath[...]),
                    pathBindings: pathBindings, query: head.query, corsHeaders: corsHeaders,
                    dropsUnderscoreNames: dropsUnderscoreNames, bodyCoding: coding))
        }
    }

    /// A REST error answered by Ferry: google.rpc.Status as JSON.
    static func restError(_ status: GRPCStatus, httpStatus: Int? = nil, corsHeaders: HeaderFields) -> ClassifiedRequest {
        .simple(.error(status, httpStatus: httpStatus, headers: corsHeaders))
    }

    private func corsResponseHeaders(_ head: HTTP1RequestHead) -> HeaderFields {
        guard let cors = context.cors, let origin = head.headers.firstValueBytes("origin") else { return HeaderFields() }
        return cors.responseHeaders(origin: String(decoding: origin, as: UTF8.self))
    }
}

extension FrontLimits {
    /// The largest body a request may carry: one message at the limit, in base64 for `-text`.
    func bodyLimit(for contentType: GRPCWebContentType) -> Int {
        let framed = maxMessageBytes + GRPCFrame.headerLength
        return contentType.isText ? (framed + 2) / 3 * 4 : framed
    }

    /// A refused body is read and dropped up to this size, so that the client sees the answer
    /// rather than a reset (RFC 9112 §9.6); beyond it the answer goes at once and the connection
    /// closes (lingering).
    func discardLimit(for contentType: GRPCWebContentType) -> Int {
        16 * bodyLimit(for: contentType)
    }
}
