// The parsed start line and header section of an HTTP/1.1 request (RFC 9112 §3, §5).
import FerryCore
import Glibc

public enum HTTPVersion: Sendable, Equatable {
    case http1_0
    case http1_1
    /// A request on an HTTP/2 stream (RFC 9113 §8.3.1: the head rebuilt from its pseudo-fields).
    case http2

    /// As the access log and the metrics name it.
    public var name: String {
        switch self {
        case .http1_0: "HTTP/1.0"
        case .http1_1: "HTTP/1.1"
        case .http2: "HTTP/2"
        }
    }
}

/// A request's method, target, version and header fields, as received.
public struct HTTP1RequestHead: Sendable, Equatable {
    public var method: String
    /// The request-target in origin-form, e.g. `/node.v1.NodeService/GetNode?x=1`.
    public var target: String
    public var version: HTTPVersion
    public var headers: HeaderFields

    public init(method: String, target: String, version: HTTPVersion, headers: HeaderFields) {
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers
    }

    /// The target without its query.
    public var path: Substring {
        guard let query = queryMarkOffset else { return target[...] }
        return target[..<target.utf8.index(target.utf8.startIndex, offsetBy: query)]
    }

    /// Where the first '?' is, in bytes from the start: found with memchr on the target's
    /// bytes (read in place), which every request asks for.
    private var queryMarkOffset: Int? {
        // In place: `withUTF8` would need a mutable copy of the target (a retain and a release).
        let found = target.utf8.withContiguousStorageIfAvailable { bytes -> Int? in
            guard let base = bytes.baseAddress, let mark = memchr(base, Int32(UInt8(ascii: "?")), bytes.count) else { return nil }
            return UnsafeRawPointer(mark) - UnsafeRawPointer(base)
        }
        return found ?? target.utf8.firstIndex(of: UInt8(ascii: "?")).map { target.utf8.distance(from: target.utf8.startIndex, to: $0) }
    }

    /// The query: what follows the target's first '?' (not decoded); nil without one.
    public var query: Substring? {
        queryMarkOffset.map { target[target.utf8.index(target.utf8.startIndex, offsetBy: $0 + 1)...] }
    }

    /// Whether the connection stays open after this exchange (RFC 9112 §9.3; HTTP/2
    /// connections outlive their streams).
    public var keepAlive: Bool {
        guard headers.firstIndex(of: "connection") != nil else { return version != .http1_0 }
        let tokens = headers.listMembers(for: "connection")
        switch version {
        case .http2: return true
        case .http1_1: return !tokens.contains("close")
        case .http1_0: return tokens.contains("keep-alive")
        }
    }
}
