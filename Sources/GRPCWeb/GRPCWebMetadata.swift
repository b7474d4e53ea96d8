// Header translation between gRPC-Web over HTTP/1.1 and native gRPC over HTTP/2
// (PROTOCOL-WEB.md; RFC 9113 §8.2.2 for the fields HTTP/2 forbids).
import FerryCore

public enum GRPCWebMetadata {
    /// Fields that describe the HTTP/1.1 hop or the gRPC-Web body encoding rather than the call:
    /// never forwarded as metadata.
    static let requestFieldsNotForwarded = FieldNameSet([
        "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te",
        "host", "content-length", "content-type", "content-encoding", "accept", "accept-encoding", "expect",
        "http2-settings", "grpc-timeout",
        // Set by Ferry from the verified client certificate only (Envoy's SANITIZE_SET): a
        // client must not claim an identity.
        "x-forwarded-client-cert",
    ])

    /// Fields of the upstream response that the HTTP/1.1 response sets itself.
    static let responseFieldsNotForwarded = FieldNameSet([
        "content-type", "content-length", "transfer-encoding", "connection", "keep-alive",
        "proxy-connection", "upgrade", "te", "trailer",
    ])

    /// The request metadata for the upstream call: every field but the hop-by-hop ones, those
    /// named in `Connection` (RFC 9110 §7.6.1), pseudo-fields and the `connect-` fields, which
    /// the Connect protocol reserves for itself. The request's own block with fields left out
    /// (`keepFields`): nothing is copied, and a block handed over whole (consumed) keeps its
    /// list of fields too.
    /// `-bin` fields pass through as they are: both sides carry them base64-encoded. With
    /// `allowed` (lowercase names), only those fields go; `droppingUnderscoreNames`: no name
    /// with `_` goes (`limits.headers_with_underscores: drop`).
    public static func requestMetadata(
        from headers: consuming HeaderFields, allowing allowed: Set<String>? = nil, droppingUnderscoreNames: Bool = false
    ) -> HeaderFields {
        let named = headers.firstIndex(of: "connection") == nil ? [] : headers.listMembers(for: "connection")
        let notForwarded = requestFieldsNotForwarded  // read once, not once per field
        headers.keepFields { name in
            forwarded(name, excluding: notForwarded)
                && (named.isEmpty || !named.contains { $0.utf8.elementsEqual(name) })
                && (allowed.map { $0.contains(String(decoding: name, as: UTF8.self)) } ?? true)
                && !(droppingUnderscoreNames && name.holds(UInt8(ascii: "_")))
        }
        return headers
    }

    /// The validated `grpc-timeout` of the request, if it has one.
    public static func timeout(from headers: HeaderFields) throws(GRPCTimeout.ParseError) -> GRPCTimeout? {
        guard let value = headers.firstValueBytes("grpc-timeout") else { return nil }
        return try GRPCTimeout(parsing: String(decoding: value, as: UTF8.self))
    }

    /// Appends the upstream response headers (or trailers-only fields) that go out as
    /// HTTP/1.1 headers, or in the gRPC-Web trailer frame.
    public static func appendResponseHeaders(from upstream: HeaderFields, to headers: inout HeaderFields) {
        for index in 0..<upstream.count where isForwardedResponseField(upstream, index) {
            headers.append(upstream, at: index)
        }
    }

    /// Whether field `index` of an upstream response head or trailers goes on to the client.
    static func isForwardedResponseField(_ upstream: HeaderFields, _ index: Int) -> Bool {
        upstream.withName(at: index) { forwarded($0, excluding: responseFieldsNotForwarded) }
    }

    /// Whether a field named `name` (lower-case bytes) is forwarded: every field of every
    /// request and response asks.
    private static func forwarded(_ name: UnsafeRawBufferPointer, excluding names: FieldNameSet) -> Bool {
        !name.hasPrefix(":") && !name.hasPrefix("connect-") && !names.contains(name)
    }
}
