// Which requests are Connect calls, and what each gets (connectrpc.com/docs/protocol), decided from
// the head: on a gRPC method path, `application/connect+…` is a stream; `application/proto` is a
// unary call; so is `application/json` when it says `connect-protocol-version` or names a unary
// method the descriptors know (the `POST /package.Service/Method` JSON address that REST served
// before keeps its answers, now in Connect's error form); GET with a Connect query is a unary
// call of a method without side effects.
import Connect
import FerryCore
import HTTP1
import Routing
import Transcode

/// A Connect call whose request is still arriving.
final class PendingConnectCall {
    /// The method path sent upstream.
    let path: String
    let contentType: ConnectContentType
    let route: Route?
    let timeout: GRPCTimeout?
    /// CORS headers for the response (and `Vary` for a GET).
    let extraHeaders: HeaderFields
    let dropsUnderscoreNames: Bool
    let messages: ConnectMessageCodec
    let requestCompression: ConnectCompression
    let responseCompression: ConnectCompression
    /// A stream refused from its head: answered with an end-stream error once it starts.
    let failure: GRPCStatus?
    /// A GET's message, from its query (a body it may have is not read).
    let queryMessage: [UInt8]?
    /// A unary call's message as sent.
    var body: [UInt8] = []
    /// A stream's envelopes, turned into gRPC frames as they arrive.
    var reader: ConnectEnvelopeReader
    /// A stream's frames, when its request is taken whole (HTTP/1.1).
    var frames: [UInt8] = []
    /// A stream's exchange, when its request streams upstream (HTTP/2).
    var exchange: ConnectStreamExchange?

    init(
        path: String, contentType: ConnectContentType, route: Route?, timeout: GRPCTimeout?, extraHeaders: HeaderFields,
        dropsUnderscoreNames: Bool, messages: ConnectMessageCodec, requestCompression: ConnectCompression,
        responseCompression: ConnectCompression, failure: GRPCStatus?, queryMessage: [UInt8]?
    ) {
        self.path = path
        self.contentType = contentType
        self.route = route
        self.timeout = timeout
        self.extraHeaders = extraHeaders
        self.dropsUnderscoreNames = dropsUnderscoreNames
        self.messages = messages
        self.requestCompression = requestCompression
        self.responseCompression = responseCompression
        self.failure = failure
        self.queryMessage = queryMessage
        reader = ConnectEnvelopeReader(messages: messages, compression: requestCompression)
    }

    /// Whether the request's body goes upstream as it arrives (a stream over HTTP/2, where
    /// bidirectional streaming needs it), rather than whole at its end.
    func streamsBody(over version: HTTPVersion) -> Bool {
        contentType.isStreaming && version == .http2
    }
}

extension RequestClassifier {
    /// The Connect call `head` starts, or nil when it is not one.
    func classifyConnect(
        _ head: HTTP1RequestHead, framing: HTTP1BodyFraming, corsHeaders: HeaderFields, dropsUnderscoreNames: Bool
    ) -> ClassifiedRequest? {
        let path = String(head.path)
        guard let methodPath = GRPCMethodPath(head.path[...]) else { return nil }
        let rest = context.rest
        let method = rest?.catalog.methods[path]
        let hasVersion = head.headers.firstIndex(of: "connect-protocol-version") != nil
        var extraHeaders = corsHeaders
        let contentType: ConnectContentType
        var getRequest: ConnectGetRequest?
        switch head.method {
        case "GET":
            guard let query = head.query, ConnectGetRequest.isConnectQuery(query) else { return nil }
            do {
                getRequest = try ConnectGetRequest(query: query)
            } catch {
                if case .invalid(let status) = error { return Self.connectError(status, corsHeaders: corsHeaders) }
                return Self.connectError(GRPCStatus(.unimplemented, error.description), httpStatus: 415, corsHeaders: corsHeaders)
            }
            if rest == nil, let reason = context.restUnavailable {
                return Self.connectError(GRPCStatus(.unavailable, reason), corsHeaders: corsHeaders)
            }
            // A method the descriptors do not know is answered below (404).
            if rest == nil || method?.hasNoSideEffects == false {
                extraHeaders.append(name: "allow", value: "POST")
                return Self.connectError(
                    GRPCStatus(
                        .unimplemented,
                        rest == nil
                            ? "GET needs the method's descriptors (rest.descriptor_set) to know that \(path) has no side effects"
                            : "\(path) does not have idempotency_level = NO_SIDE_EFFECTS, so it cannot be called with GET"),
                    httpStatus: 405, corsHeaders: extraHeaders)
            }
            // The response depends on the encodings the client accepts: caches must key on it.
            extraHeaders.append(name: "vary", value: "Accept-Encoding")
            contentType = .unary(getRequest?.codec ?? .proto)
        case "POST":
            let parsed: ConnectContentType?
            do {
                parsed = try ConnectContentType(parsing: head.headers.firstValueBytes("content-type") ?? [])
            } catch {
                return Self.connectError(GRPCStatus(.unimplemented, error.description), httpStatus: 415, corsHeaders: corsHeaders)
            }
            guard let parsed else {
                guard hasVersion else { return nil }
                let given = head.headers["content-type"].map { "'\($0)'" } ?? "none"
                return Self.connectError(
                    GRPCStatus(
                        .unimplemented,
                        "unsupported content-type \(given): expected application/proto, application/json, application/connect+proto or application/connect+json"
                    ), httpStatus: 415, corsHeaders: corsHeaders)
            }
            // Without the version header, JSON on a path the descriptors do not know as a unary
            // method stays with the REST rules (a streaming method's JSON-array address).
            if case .unary(.json) = parsed, !hasVersion, let rest, !rest.catalog.unaryMethodPaths.contains(path) { return nil }
            contentType = parsed
        default:
            return nil
        }
        if let method, method.isStreaming != contentType.isStreaming {
            let kind = method.isStreaming ? "a streaming" : "a unary"
            let expected =
                method.isStreaming ? "application/connect+proto or application/connect+json" : "application/proto or application/json"
            return Self.connectError(
                GRPCStatus(.unimplemented, "\(path) is \(kind) method: its content-type is \(expected)"), httpStatus: 415,
                corsHeaders: corsHeaders)
        }
        if contentType.codec == .json && rest == nil {
            if let reason = context.restUnavailable {
                return Self.connectError(GRPCStatus(.unavailable, reason), corsHeaders: corsHeaders)
            }
            return Self.connectError(
                GRPCStatus(
                    .unimplemented,
                    "content-type '\(contentType.headerValue)' (Connect's JSON codec) needs the method's descriptors (rest.descriptor_set), and this listener has none: send application/proto, or gRPC-Web"
                ),
                httpStatus: 415, corsHeaders: corsHeaders)
        }
        var failure: GRPCStatus?
        if let version = head.headers.firstValueBytes("connect-protocol-version"), !version.elementsEqual("1".utf8) {
            failure = GRPCStatus(
                .invalidArgument, "unsupported connect-protocol-version '\(head.headers["connect-protocol-version"] ?? "")': expected 1")
        }
        var timeout: GRPCTimeout?
        if let value = head.headers.firstValueBytes("connect-timeout-ms") {
            do { timeout = try GRPCTimeout(connectTimeoutMilliseconds: value) } catch {
                failure = failure ?? GRPCStatus(.invalidArgument, error.description)
            }
        }
        var requestCompression = ConnectCompression.identity
        do throws(GRPCStatus) {
            if let getRequest {
                requestCompression = getRequest.compression
            } else if contentType.isStreaming {
                requestCompression = try ConnectCompression(
                    requestHeader: head.headers.firstValueBytes("connect-content-encoding"), headerName: "connect-content-encoding")
            } else {
                requestCompression = try ConnectCompression(
                    requestHeader: head.headers.firstValueBytes("content-encoding"), headerName: "content-encoding")
            }
        } catch {
            failure = failure ?? error
        }
        var route = context.router.route(path: head.path)
        if method == nil, let rest, rest.catalog.serviceNames.contains(String(methodPath.service)) {
            // The descriptors know the service, and it has no such method.
            route = nil
            failure = failure ?? GRPCStatus(.unimplemented, "\(methodPath.service) has no method \(methodPath.method) (\(path))")
        } else if route == nil {
            failure = failure ?? GRPCStatus(.unimplemented, "no route for \(path)")
        }
        if !contentType.isStreaming, case .contentLength(let length) = framing, length > context.limits.maxMessageBytes {
            context.limitReporter.hit("max_message_bytes", "Connect request body of \(length) bytes")
            failure =
                failure
                ?? GRPCStatus(
                    .resourceExhausted,
                    "request body of \(length) bytes is larger than the limit of \(context.limits.maxMessageBytes) bytes")
        }
        if let failure, !contentType.isStreaming {
            // Ferry's "no such method" is 404, as a Connect server's mux answers; clients read it
            // as `unimplemented`.
            return Self.connectError(failure, httpStatus: route == nil ? 404 : nil, corsHeaders: extraHeaders)
        }
        let call = PendingConnectCall(
            path: path, contentType: contentType, route: route, timeout: timeout, extraHeaders: extraHeaders,
            dropsUnderscoreNames: dropsUnderscoreNames,
            messages: ConnectMessageCodec(
                codec: contentType.codec, transcoder: rest?.transcoder, parseOptions: rest?.assembler.options ?? JSONParseOptions(),
                printOptions: rest?.printOptions ?? JSONPrintOptions(), inputType: method?.inputType ?? "",
                outputType: method?.outputType ?? "", maxMessageBytes: context.limits.maxMessageBytes),
            requestCompression: requestCompression,
            responseCompression: ConnectCompression(
                accepting: contentType.isStreaming
                    ? head.headers.firstValueBytes("connect-accept-encoding") : head.headers.firstValueBytes("accept-encoding"),
                requestEncoding: requestCompression),
            failure: failure, queryMessage: getRequest?.message)
        return .connect(call)
    }

    /// A Connect error Ferry answers from the head: the error JSON under its code's HTTP status
    /// unless `httpStatus` says.
    static func connectError(_ status: GRPCStatus, httpStatus: Int? = nil, corsHeaders: HeaderFields) -> ClassifiedRequest {
        .simple(connectErrorResponse(status, httpStatus: httpStatus, corsHeaders: corsHeaders))
    }

    static func connectErrorResponse(_ status: GRPCStatus, httpStatus: Int? = nil, corsHeaders: HeaderFields) -> SimpleResponse {
        var headers = corsHeaders
        headers.append(name: "content-type", value: "application/json")
        return SimpleResponse(
            head: HTTP1ResponseHead(status: httpStatus ?? status.code.httpStatus, headers: headers),
            body: String(decoding: ConnectErrorJSON(transcoder: nil).error(status), as: UTF8.self))
    }
}
