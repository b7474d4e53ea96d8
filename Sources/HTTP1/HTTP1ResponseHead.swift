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

    /// The wire form, ending with the empty line.
    public func serialized() -> [UInt8] {
        var out = WriteBuffer(capacity: 128 + headers.count * 48)
        appendStatusLineAndFields(to: &out)
        out.append(ascii: "\r\n")
        return out.bytes
    }

    /// The status line and the fields, without the empty line that ends the head: a connection
    /// adds its framing fields after them, in its own buffer (no copy of the fields).
    public func appendStatusLineAndFields(to out: inout WriteBuffer) {
        if status == 200 {
            // Nearly every response: one append instead of seven.
            out.append(ascii: "HTTP/1.1 200 OK\r\n")
        } else {
            out.append(ascii: "HTTP/1.1 ")
            out.append(UInt8(ascii: "0") + UInt8(status / 100 % 10))
            out.append(UInt8(ascii: "0") + UInt8(status / 10 % 10))
            out.append(UInt8(ascii: "0") + UInt8(status % 10))
            out.append(UInt8(ascii: " "))
            HTTP1ResponseHead.reasonPhrase(status).withUTF8Buffer { out.append(UnsafeRawBufferPointer($0)) }
            out.append(ascii: "\r\n")
        }
        headers.appendFieldLines(separator: ": ", to: &out)
    }

    /// `content-length: N` and its CRLF, the digits written in place.
    public static func appendContentLength(_ length: Int, to out: inout WriteBuffer) {
        out.append(ascii: "content-length: ")
        out.append(upTo: 20) { digits in
            var count = 0
            var rest = length
            repeat {
                digits[count] = UInt8(ascii: "0") + UInt8(rest % 10)
                count += 1
                rest /= 10
            } while rest > 0
            var reversed = UnsafeMutableBufferPointer(start: digits, count: count)
            reversed.reverse()
            return count
        }
        out.append(ascii: "\r\n")
    }

    public static func reasonPhrase(_ status: Int) -> StaticString {
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
    /// Appends the `size CRLF` line before a chunk of `length` bytes (must be non-zero).
    public static func appendChunkHeader(length: Int, to out: inout WriteBuffer) {
        // chunk-size = 1*HEXDIG, written in place with its CRLF.
        out.append(upTo: Int.bitWidth / 4 + 2) { line in
            var shift = (Int.bitWidth - length.leadingZeroBitCount + 3) / 4 * 4
            var count = 0
            while shift > 0 {
                shift -= 4
                let digit = UInt8(truncatingIfNeeded: length >> shift) & 0xF
                line[count] = digit < 10 ? UInt8(ascii: "0") + digit : UInt8(ascii: "a") - 10 + digit
                count += 1
            }
            line[count] = UInt8(ascii: "\r")
            line[count + 1] = UInt8(ascii: "\n")
            return count + 2
        }
    }

    public static let chunkTrailer: [UInt8] = [0x0D, 0x0A]

    /// The last-chunk with an empty trailer section, as a response without trailers ends.
    public static let lastChunk: [UInt8] = Array("0\r\n\r\n".utf8)

    /// Appends the last-chunk with `trailers` as its trailer section (RFC 9112 §7.1.2).
    public static func appendLastChunk(trailers: HeaderFields, to out: inout WriteBuffer) {
        out.append(ascii: "0\r\n")
        trailers.appendFieldLines(separator: ": ", to: &out)
        out.append(ascii: "\r\n")
    }
}
