// The fixed part of an upstream request's header block (gRPC over HTTP/2, PROTOCOL-HTTP2.md):
// kept per connection and built again only when it changes.
import FerryCore

/// The connection's pseudo-fields (`:method`, `:scheme`, `:authority`), then a call's `:path`,
/// content type and `te: trailers`. The same for every call of one method, so the method's
/// fields are built again only when the method or the content type changes: traffic comes in
/// runs of one method, and most calls reuse them. A call's deadline, retry count and metadata
/// follow as parts of their own (`NGHTTP2.withRequestHeaderBlock`).
struct UpstreamRequestHead {
    /// Never changed: nghttp2 reads them in place until each stream's HEADERS is sent.
    let pseudoFields: HeaderFields
    /// `:path`, content type and `te` of the last call's method.
    private(set) var methodFields = HeaderFields()
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
}
