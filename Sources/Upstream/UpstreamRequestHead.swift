// The fixed part of an upstream request's header block (gRPC over HTTP/2, PROTOCOL-HTTP2.md):
// kept per connection and built again only when it changes.
import FerryCore

/// The connection's pseudo-fields (`:method`, `:scheme`, `:authority`), then a call's `:path`,
/// content type and `te: trailers`. The same for every call of one method, so it is built
/// again only when the method or the content type changes: traffic comes in runs of one
/// method, and most calls reuse it. A call's deadline, retry count and metadata follow it as
/// parts of their own (`NGHTTP2.withHeaderBlock`).
struct UpstreamRequestHead {
    private let pseudoFields: HeaderFields
    /// The block for the last call's method and content type.
    private(set) var fields = HeaderFields()
    private var path = ""
    private var contentType = ""

    init(pseudoFields: HeaderFields) {
        self.pseudoFields = pseudoFields
    }

    /// Makes `fields` the block of a call of `path` with `contentType`.
    mutating func update(path: String, contentType: String) {
        guard fields.isEmpty || path != self.path || contentType != self.contentType else { return }
        fields.removeAll()
        fields.append(contentsOf: pseudoFields)
        fields.append(name: ":path", value: path)
        fields.append(name: "content-type", value: contentType)
        fields.append(name: "te", value: "trailers")
        self.path = path
        self.contentType = contentType
    }
}
