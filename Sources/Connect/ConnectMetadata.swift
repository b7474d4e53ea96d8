// Which of the backend's header fields a Connect client sees, and how: gRPC's own fields
// (`grpc-status`, `grpc-encoding`, …) describe the upstream hop and never pass; a unary
// response carries the trailers as `trailer-` fields (connectrpc.com/docs/protocol,
// "Unary-Response"); a stream carries them in its end-stream message.
import FerryCore
import GRPCWeb

public enum ConnectMetadata {
    /// The backend's response metadata (headers, or trailers), without gRPC's own fields.
    public static func forwarded(from upstream: HeaderFields) -> HeaderFields {
        var all = HeaderFields()
        GRPCWebMetadata.appendResponseHeaders(from: upstream, to: &all)
        var metadata = HeaderFields(reservingFields: all.count, bytes: 128)
        for index in 0..<all.count where !all.name(at: index, hasPrefix: "grpc-") {
            metadata.append(all, at: index)
        }
        return metadata
    }

    /// `metadata` as `trailer-` fields, appended to a unary response's head.
    public static func appendPrefixedTrailers(_ metadata: HeaderFields, to headers: inout HeaderFields) {
        for index in 0..<metadata.count {
            let field = metadata[index]
            headers.append(name: "trailer-" + field.name, value: field.value)
        }
    }
}
