// The fixed part of an upstream request's header block (gRPC over HTTP/2, PROTOCOL-HTTP2.md):
// kept per connection and built again only when it changes.
import CNghttp2
import FerryCore
import HTTP2Support

/// The connection's pseudo-fields (`:method`, `:scheme`, `:authority`), then a call's `:path`,
/// content type and `te: trailers`. The same for every call of one method, so the method's
/// fields are built again only when the method or the content type changes: traffic comes in
/// runs of one method, and most calls reuse them. The attempt's deadline and retry count, and
/// the call's metadata, follow as parts of their own (`NGHTTP2.withRequestHeaderBlock`).
/// Noncopyable: the connection's head is read where it is stored, not copied out for a call.
struct UpstreamRequestHead: ~Copyable {
    /// Never changed: nghttp2 reads them in place until each stream's HEADERS is sent.
    let pseudoFields: HeaderFields
    /// `:path`, content type and `te` of the last call's method.
    private(set) var methodFields = HeaderFields()
    /// `grpc-timeout` and `grpc-previous-rpc-attempts` of the attempt being started.
    private(set) var attemptFields = HeaderFields()
    private var path = ""
    private var contentType = ""

    init(pseudoFields: HeaderFields) {
        self.pseudoFields = pseudoFields
    }

    /// Makes `methodFields` those of a call of `path` with `contentType`. When they change and
    /// `keepingReplaced`, the fields they replace are returned as they were (nghttp2 may still
    /// read them in place); otherwise they are rebuilt in the same storage.
    mutating func update(path: String, contentType: String, keepingReplaced: Bool) -> HeaderFields? {
        guard methodFields.isEmpty || path != self.path || contentType != self.contentType else { return nil }
        // Held here, the storage is shared: the appends below then write to a copy.
        let replaced = keepingReplaced && !methodFields.isEmpty ? methodFields : nil
        methodFields.removeAll()
        methodFields.append(name: ":path", value: path)
        methodFields.append(name: "content-type", value: contentType)
        methodFields.append(name: "te", value: "trailers")
        self.path = path
        self.contentType = contentType
        return replaced
    }

    /// Makes `attemptFields` those of the attempt being started: what is left of its deadline
    /// (gRFC A6: each attempt sends the remaining time) and how many attempts came before.
    mutating func startAttempt(timeout: GRPCTimeout?, previousAttempts: String?) {
        attemptFields.removeAll()
        if let timeout { attemptFields.append(name: "grpc-timeout", value: timeout.headerValue) }
        if let previousAttempts { attemptFields.append(name: "grpc-previous-rpc-attempts", value: previousAttempts) }
    }

    /// Calls `body` with the block of the attempt being started, `metadata` last.
    func withHeaderBlock<R>(metadata: HeaderFields, _ body: (UnsafeMutablePointer<nghttp2_nv>, Int) -> R) -> R {
        NGHTTP2.withRequestHeaderBlock(
            connectionFields: pseudoFields, methodFields: methodFields, attemptFields: attemptFields, metadata: metadata, body)
    }
}
