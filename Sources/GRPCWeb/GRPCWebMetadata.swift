// Header translation between gRPC-Web over HTTP/1.1 and native gRPC over HTTP/2
// (PROTOCOL-WEB.md; RFC 9113 §8.2.2 for the fields HTTP/2 forbids).
import FerryCore

public enum GRPCWebMetadata {
    /// Fields that describe the HTTP/1.1 hop or the gRPC-Web body encoding rather than the call:
    /// never forwarded as metadata.
    static let requestFieldsNotForwarded: Set<String> = [
        "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te",
        "host", "content-length", "content-type", "accept", "accept-encoding", "expect",
        "http2-settings", "grpc-timeout",
    ]

    /// Fields of the upstream response that the HTTP/1.1 response sets itself.
    static let responseFieldsNotForwarded: Set<String> = [
        "content-type", "content-length", "transfer-encoding", "connection", "keep-alive",
        "proxy-connection", "upgrade", "te", "trailer",
    ]

    /// The request metadata for the upstream call: every field but the hop-by-hop ones,
    /// those named in `Connection` (RFC 9110 §7.6.1) and pseudo-fields. `-bin` fields pass
    /// through as they are: both sides carry them base64-encoded.
    public static func requestMetadata(from headers: HeaderFields) -> HeaderFields {
        let named = Set(headers.listMembers(for: "connection"))
        var metadata = HeaderFields()
        for field in headers
        where !requestFieldsNotForwarded.contains(field.name) && !named.contains(field.name)
            && !field.name.hasPrefix(":") {
            metadata.append(name: field.name, value: field.value)
        }
        return metadata
    }

    /// The validated `grpc-timeout` of the request, if it has one.
    public static func timeout(from headers: HeaderFields) throws(GRPCTimeout.ParseError) -> GRPCTimeout? {
        guard let value = headers["grpc-timeout"] else { return nil }
        return try GRPCTimeout(parsing: value)
    }

    /// The upstream response headers (or trailers-only fields) to send as HTTP/1.1 headers.
    public static func responseHeaders(from upstream: HeaderFields) -> HeaderFields {
        var headers = HeaderFields()
        for field in upstream
        where !field.name.hasPrefix(":") && !responseFieldsNotForwarded.contains(field.name) {
            headers.append(name: field.name, value: field.value)
        }
        return headers
    }
}
