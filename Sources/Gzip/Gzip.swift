// gzip (RFC 1952) through zlib, for compressed Connect messages and REST bodies: inflating is bounded, so that a
// small compressed message cannot grow into an unbounded one (a "zip bomb").
import CZlib

/// Why a gzip member could not be inflated.
public enum GzipError: Error, Equatable, CustomStringConvertible {
    /// Inflated, the data would be larger than the limit.
    case tooLarge(limit: Int)
    /// Not gzip, or cut short (zlib's message).
    case invalid(String)

    public var description: String {
        switch self {
        case .tooLarge(let limit): "gzip data inflates to more than the limit of \(limit) bytes"
        case .invalid(let reason): "invalid gzip data: \(reason)"
        }
    }
}

public enum Gzip {
    /// zlib's window bits for a gzip wrapper (15 bits of window, +16: gzip header and trailer).
    static let gzipWindowBits: Int32 = 15 + 16

    /// The inflated bytes of one gzip member, at most `limit` of them.
    public static func inflate(_ compressed: UnsafeRawBufferPointer, limit: Int) throws(GzipError) -> [UInt8] {
        var stream = z_stream()
        guard inflateInit2_(&stream, gzipWindowBits, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw .invalid("zlib could not start")
        }
        defer { inflateEnd(&stream) }
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: min(max(compressed.count * 4, 256), 64 * 1024))
        stream.next_in = UnsafeMutablePointer(mutating: compressed.baseAddress?.assumingMemoryBound(to: UInt8.self))
        stream.avail_in = UInt32(compressed.count)
        while true {
            let (result, produced) = chunk.withUnsafeMutableBufferPointer { buffer in
                stream.next_out = buffer.baseAddress
                stream.avail_out = UInt32(buffer.count)
                let result = CZlib.inflate(&stream, Z_NO_FLUSH)
                return (result, buffer.count - Int(stream.avail_out))
            }
            guard output.count + produced <= limit else { throw .tooLarge(limit: limit) }
            output.append(contentsOf: chunk[0..<produced])
            switch result {
            case Z_STREAM_END:
                guard stream.avail_in == 0 else { throw .invalid("bytes after the end of the gzip data") }
                return output
            case Z_OK:
                continue
            case Z_BUF_ERROR where stream.avail_in == 0:
                throw .invalid("the data ends before the gzip stream does")
            default:
                throw .invalid(stream.msg.map { String(cString: $0) } ?? "zlib error \(result)")
            }
        }
    }

    public static func inflate(_ compressed: [UInt8], limit: Int) throws(GzipError) -> [UInt8] {
        let result = compressed.withUnsafeBytes { bytes in Result { () throws(GzipError) in try inflate(bytes, limit: limit) } }
        return try result.get()
    }

    /// One gzip member holding `bytes` (zlib's default level).
    public static func deflate(_ bytes: UnsafeRawBufferPointer) -> [UInt8] {
        GzipWriter().finish(with: bytes)
    }

    public static func deflate(_ bytes: [UInt8]) -> [UInt8] {
        bytes.withUnsafeBytes { deflate($0) }
    }
}
