// Serialization of HTTP/1.1 response heads and chunked body framing (RFC 9112 §4, §7.1).
import FerryCore

/// A response status line and header fields, written as bytes in one piece.
public struct HTTP1ResponseHead: Sendable, Equatable {
    public var status: Int
    public var headers: HeaderFields

    public init(status: Int, headers: HeaderFields = HeaderFields()) {
        self.status = status
        self.headers = headers
    }

    /// The wire form, ending with the empty line. Header values were validated on the way in
    /// or produced by Ferry; CR and LF are stripped here all the same, so that a value from an
    /// upstream can never split the response.
    public func serialized() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(128 + headers.count * 48)
        out.append(contentsOf: "HTTP/1.1 \(status) \(HTTP1ResponseHead.reasonPhrase(status))\r\n".utf8)
        for field in headers {
            out.append(contentsOf: field.name.utf8)
            out.append(contentsOf: ": ".utf8)
            for byte in field.value.utf8 where byte != 0x0D && byte != 0x0A { out.append(byte) }
            out.append(contentsOf: "\r\n".utf8)
        }
        out.append(contentsOf: "\r\n".utf8)
        return out
    }

    public static func reasonPhrase(_ status: Int) -> String {
        switch status {
        case 200: "OK"
        case 204: "No Content"
        case 400: "Bad Request"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 408: "Request Timeout"
        case 413: "Content Too Large"
        case 415: "Unsupported Media Type"
        case 431: "Request Header Fields Too Large"
        case 500: "Internal Server Error"
        case 501: "Not Implemented"
        case 502: "Bad Gateway"
        case 503: "Service Unavailable"
        case 504: "Gateway Timeout"
        case 505: "HTTP Version Not Supported"
        default: "Status"
        }
    }
}

/// Chunked transfer coding for response bodies (RFC 9112 §7.1).
public enum HTTP1ChunkedEncoding {
    /// The `size CRLF` line before a chunk of `length` bytes (must be non-zero).
    public static func chunkHeader(length: Int) -> [UInt8] {
        Array(String(length, radix: 16).utf8) + [0x0D, 0x0A]
    }

    public static let chunkTrailer: [UInt8] = [0x0D, 0x0A]

    /// The last-chunk with an empty trailer section.
    public static let lastChunk: [UInt8] = Array("0\r\n\r\n".utf8)
}
