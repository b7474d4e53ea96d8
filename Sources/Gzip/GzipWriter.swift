// A gzip stream written in pieces (RFC 1952, one member), for responses that go out as they are
// made: each piece is flushed (Z_SYNC_FLUSH) so that the client can inflate every message as it
// arrives, and `finish` writes the end of the member. A whole body is one `finish`
// (`Gzip.deflate`).
import CZlib

public final class GzipWriter {
    /// zlib keeps a pointer to its stream: it lives at one address for the writer's life.
    private let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
    private var finished = false

    public init() {
        stream.initialize(to: z_stream())
        guard
            deflateInit2_(
                stream, Z_DEFAULT_COMPRESSION, Z_DEFLATED, Gzip.gzipWindowBits, 8, Z_DEFAULT_STRATEGY, ZLIB_VERSION,
                Int32(MemoryLayout<z_stream>.size)) == Z_OK
        else { preconditionFailure("zlib deflateInit2 failed") }
    }

    deinit {
        deflateEnd(stream)
        stream.deallocate()
    }

    /// The compressed form of `bytes`, flushed: everything given so far can be inflated from
    /// what has been returned.
    public func write(_ bytes: [UInt8]) -> [UInt8] {
        bytes.withUnsafeBytes { run($0, flush: Z_SYNC_FLUSH) }
    }

    /// The member's end, after `last` (what is left, and the CRC-32 and length trailer). Once.
    public func finish(with last: UnsafeRawBufferPointer = UnsafeRawBufferPointer(start: nil, count: 0)) -> [UInt8] {
        guard !finished else { return [] }
        finished = true
        return run(last, flush: Z_FINISH)
    }

    private func run(_ input: UnsafeRawBufferPointer, flush: Int32) -> [UInt8] {
        stream.pointee.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: UInt8.self))
        stream.pointee.avail_in = UInt32(input.count)
        var output: [UInt8] = []
        // deflateBound covers one whole call's output, flush markers included.
        let chunkSize = Int(deflateBound(stream, UInt(input.count))) + 16
        while true {
            let previousCount = output.count
            output.append(contentsOf: repeatElement(0, count: chunkSize))
            let (result, left) = output.withUnsafeMutableBufferPointer { buffer in
                stream.pointee.next_out = buffer.baseAddress! + previousCount
                stream.pointee.avail_out = UInt32(chunkSize)
                return (deflate(stream, flush), Int(stream.pointee.avail_out))
            }
            output.removeLast(left)
            precondition(result == Z_OK || result == Z_BUF_ERROR || result == Z_STREAM_END, "zlib deflate failed: \(result)")
            // Done when the member ended, or zlib left room to spare: all flushed (or, for
            // Z_BUF_ERROR, nothing to do).
            if result == Z_STREAM_END || (left > 0 && (flush != Z_FINISH || result == Z_BUF_ERROR)) { return output }
        }
    }
}
