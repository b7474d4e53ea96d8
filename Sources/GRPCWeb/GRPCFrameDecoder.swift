// Incremental decoder of length-prefixed gRPC frames.
//
//   +-------+---------------------------+---------------------+
//   | flags |  length (uint32, big-end) |  payload (length B) |
//   +-------+---------------------------+---------------------+
//      1B               4B
//
// Buffering contract: bytes may arrive split anywhere; the decoder holds at most one
// partial prefix (< 5 bytes) and one partial payload, and refuses a length over the limit
// as soon as the prefix is complete, before buffering the payload.
import FerryCore

/// Why a frame stream was refused.
public enum GRPCFrameError: Error, Equatable, CustomStringConvertible {
    case messageTooLarge(length: Int, limit: Int, offset: Int)
    case truncated(offset: Int, missing: Int)

    public var description: String {
        switch self {
        case .messageTooLarge(let length, let limit, let offset):
            "message of \(length) bytes at byte \(offset) is larger than the limit of \(limit) bytes"
        case .truncated(let offset, let missing):
            "frame at byte \(offset) ends \(missing) bytes before its length prefix says"
        }
    }
}

/// Finds frame boundaries in a byte stream fed in pieces, without copying payloads: enough
/// to validate a body that is forwarded unchanged, and the base of `GRPCFrameDecoder`.
public struct GRPCFrameScanner {
    /// What the scanner found next in the bytes it was given.
    public enum Piece: Equatable {
        /// A complete 5-byte prefix; a zero `length` frame is complete with it.
        case prefix(flags: UInt8, length: Int)
        /// Payload bytes of the current frame (offsets into the given bytes); `completesFrame`
        /// when they are its last.
        case payload(Range<Int>, completesFrame: Bool)
    }

    public let maxMessageBytes: Int
    /// Prefix bytes received so far (big-endian, flags first) and how many.
    private var prefix: UInt64 = 0
    private var prefixCount = 0
    private var payloadRemaining = 0
    /// Stream offset of the frame being scanned, for error messages.
    private var frameOffset = 0
    private var consumed = 0

    public init(maxMessageBytes: Int) {
        self.maxMessageBytes = maxMessageBytes
    }

    /// The next piece in `bytes` from `index` (which moves past it), or nil when the bytes
    /// are used up.
    public mutating func next(in bytes: UnsafeRawBufferPointer, from index: inout Int) throws(GRPCFrameError) -> Piece? {
        guard index < bytes.count else { return nil }
        if payloadRemaining > 0 {
            let take = min(payloadRemaining, bytes.count - index)
            let range = index..<index + take
            index += take
            consumed += take
            payloadRemaining -= take
            if payloadRemaining == 0 { frameOffset = consumed }
            return .payload(range, completesFrame: payloadRemaining == 0)
        }
        while prefixCount < GRPCFrame.headerLength && index < bytes.count {
            prefix = prefix << 8 | UInt64(bytes[index])
            prefixCount += 1
            index += 1
            consumed += 1
        }
        guard prefixCount == GRPCFrame.headerLength else { return nil }
        let flags = UInt8(truncatingIfNeeded: prefix >> 32)
        let length = Int(prefix & 0xFFFF_FFFF)
        guard length <= maxMessageBytes else {
            throw .messageTooLarge(length: length, limit: maxMessageBytes, offset: frameOffset)
        }
        prefix = 0
        prefixCount = 0
        payloadRemaining = length
        if length == 0 { frameOffset = consumed }
        return .prefix(flags: flags, length: length)
    }

    /// Checks that the stream ended on a frame boundary.
    public func finish() throws(GRPCFrameError) {
        if prefixCount > 0 {
            throw .truncated(offset: frameOffset, missing: GRPCFrame.headerLength - prefixCount)
        }
        if payloadRemaining > 0 {
            throw .truncated(offset: frameOffset, missing: payloadRemaining)
        }
    }
}

/// Splits a byte stream into `GRPCFrame`s, collecting each payload.
public struct GRPCFrameDecoder {
    private var scanner: GRPCFrameScanner
    private var flags: UInt8 = 0
    private var payload: [UInt8] = []

    public init(maxMessageBytes: Int) {
        scanner = GRPCFrameScanner(maxMessageBytes: maxMessageBytes)
    }

    /// Feeds bytes and returns every frame they complete.
    public mutating func decode(_ bytes: UnsafeRawBufferPointer) throws(GRPCFrameError) -> [GRPCFrame] {
        var frames: [GRPCFrame] = []
        var index = 0
        while let piece = try scanner.next(in: bytes, from: &index) {
            switch piece {
            case .prefix(let flags, let length):
                self.flags = flags
                payload = []
                if length == 0 {
                    frames.append(GRPCFrame(flags: flags, payload: []))
                } else {
                    payload.reserveCapacity(length)
                }
            case .payload(let range, let completesFrame):
                payload.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[range]))
                if completesFrame {
                    frames.append(GRPCFrame(flags: flags, payload: payload))
                    payload = []
                }
            }
        }
        return frames
    }

    public mutating func decode<Bytes: Collection>(_ bytes: Bytes) throws(GRPCFrameError) -> [GRPCFrame]
    where Bytes.Element == UInt8 {
        try withTypedUnsafeBytes(bytes) { buffer throws(GRPCFrameError) in try decode(buffer) }
    }

    /// Checks that the stream ended on a frame boundary.
    public func finish() throws(GRPCFrameError) {
        try scanner.finish()
    }
}
