// gRPC-Web content types (PROTOCOL-WEB.md, "Content-Type") and the native type each maps to.

/// A request or response content type of the gRPC-Web protocol.
public struct GRPCWebContentType: Sendable, Equatable {
    /// Whether the body is base64 text (`application/grpc-web-text`).
    public var isText: Bool
    /// The message format suffix after `+`, e.g. `proto`; nil when absent (which means proto).
    public var format: String?

    public init(isText: Bool, format: String?) {
        self.isText = isText
        self.format = format
    }

    /// Parses a `Content-Type` value; parameters such as `; charset=utf-8` are ignored.
    /// Returns nil for anything that is not a gRPC-Web type.
    public init?(parsing value: String) {
        let mediaType = value.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false)[0]
            .trimmingOWS().lowercased()
        let base: Substring
        if let plus = mediaType.firstIndex(of: "+") {
            base = mediaType[..<plus]
            let suffix = mediaType[mediaType.index(after: plus)...]
            guard !suffix.isEmpty, suffix.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "." }) else {
                return nil
            }
            format = String(suffix)
        } else {
            base = mediaType[...]
            format = nil
        }
        switch base {
        case "application/grpc-web": isText = false
        case "application/grpc-web-text": isText = true
        default: return nil
        }
    }

    /// Whether an `Accept` header asks for a text-encoded response (PROTOCOL-WEB.md,
    /// "Text-encoded (response) streams").
    public static func acceptsText(_ accept: String?) -> Bool {
        guard let accept else { return false }
        return accept.lowercased().contains("application/grpc-web-text")
    }

    /// The content type of the native gRPC request sent upstream.
    public var upstreamContentType: String {
        format.map { "application/grpc+\($0)" } ?? "application/grpc"
    }

    /// The content type of the response to the browser, in the same format as the request.
    public func responseContentType(text: Bool) -> String {
        (text ? "application/grpc-web-text+" : "application/grpc-web+") + (format ?? "proto")
    }
}
