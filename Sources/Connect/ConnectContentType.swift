// The content types of the Connect protocol (connectrpc.com/docs/protocol): a unary call carries
// one bare message as `application/proto` or `application/json`; a stream carries envelopes as
// `application/connect+proto` or `application/connect+json`.
import FerryCore

/// How messages are serialized.
public enum ConnectCodec: String, Sendable {
    /// Binary protobuf: the message goes upstream as it is.
    case proto
    /// The proto3 JSON mapping: transcoded with the descriptor set.
    case json
}

public enum ConnectContentType: Equatable, Sendable {
    case unary(ConnectCodec)
    case streaming(ConnectCodec)

    /// Why a content type that claims to be Connect's cannot be served: 415 (the protocol's
    /// "Unsupported Media Type" for a codec the server does not know).
    public struct UnsupportedCodec: Error, Equatable, CustomStringConvertible {
        public var contentType: String
        public var description: String {
            "unsupported content-type '\(contentType)': expected application/proto, application/json, application/connect+proto or application/connect+json"
        }
    }

    /// The content type of `value`; parameters (`; charset=utf-8`) and case are ignored. nil:
    /// not a Connect content type at all; a throw: `application/connect+…` with another codec.
    public init?(parsing value: ArraySlice<UInt8>) throws(UnsupportedCodec) {
        let mediaType = String(decoding: value.prefix { $0 != UInt8(ascii: ";") }, as: UTF8.self)
            .trimmingWhitespace().lowercased()
        switch mediaType {
        case "application/proto": self = .unary(.proto)
        case "application/json": self = .unary(.json)
        case "application/connect+proto": self = .streaming(.proto)
        case "application/connect+json": self = .streaming(.json)
        case let other where other.hasPrefix("application/connect+"):
            throw UnsupportedCodec(contentType: String(decoding: value, as: UTF8.self))
        default: return nil
        }
    }

    public var codec: ConnectCodec {
        switch self {
        case .unary(let codec), .streaming(let codec): codec
        }
    }

    public var isStreaming: Bool {
        if case .streaming = self { return true }
        return false
    }

    /// The response's content type: the request's (a unary error's is always JSON).
    public var headerValue: String {
        switch self {
        case .unary(let codec): "application/\(codec.rawValue)"
        case .streaming(let codec): "application/connect+\(codec.rawValue)"
        }
    }
}

extension String {
    fileprivate func trimmingWhitespace() -> String {
        let utf8 = self.utf8
        guard let first = utf8.firstIndex(where: { $0 != 0x20 && $0 != 0x09 }),
            let last = utf8.lastIndex(where: { $0 != 0x20 && $0 != 0x09 })
        else { return "" }
        return String(self[first...last])
    }
}
