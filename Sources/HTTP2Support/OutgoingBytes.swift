// Bytes waiting to leave in DATA frames, handed to nghttp2's data-source read callback in
// pieces as flow control allows.

public struct OutgoingBytes {
    private var bytes: [UInt8]
    private var offset = 0

    public init(_ bytes: [UInt8] = []) {
        self.bytes = bytes
    }

    /// Bytes not yet taken.
    public var count: Int { bytes.count - offset }

    /// Appends bytes; what was taken goes first, so that a stream that never fully drains
    /// (a long bidi call) holds only what is still unsent.
    public mutating func append(_ more: UnsafeRawBufferPointer) {
        if offset > 0 {
            bytes.removeFirst(offset)
            offset = 0
        }
        bytes.append(contentsOf: more)
    }

    public mutating func append(_ more: [UInt8]) {
        more.withUnsafeBytes { append($0) }
    }

    /// Copies up to `maxLength` bytes into `buffer` and returns how many.
    public mutating func take(into buffer: UnsafeMutablePointer<UInt8>, maxLength: Int) -> Int {
        let taken = min(maxLength, count)
        if taken > 0 {
            bytes.withUnsafeBytes { source in
                buffer.update(
                    from: source.baseAddress!.advanced(by: offset).assumingMemoryBound(to: UInt8.self),
                    count: taken)
            }
        }
        offset += taken
        if offset == bytes.count {
            // A fresh empty array, not removeAll: the storage may be shared (a request body
            // kept by its call), and clearing shared storage would copy it first.
            bytes = []
            offset = 0
        }
        return taken
    }
}
