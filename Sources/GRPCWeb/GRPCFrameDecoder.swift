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

/// Splits a byte stream into `GRPCFrame`s.
public struct GRPCFrameDecoder {
    private enum State {
        case prefix(bytes: [UInt8])
        case payload(flags: UInt8, length: Int, bytes: [UInt8])
    }

    public let maxMessageBytes: Int
    private var state: State = .prefix(bytes: [])
    /// Stream offset of the frame being decoded, for error messages.
    private var frameOffset = 0
    private var consumed = 0

    public init(maxMessageBytes: Int) {
        self.maxMessageBytes = maxMessageBytes
    }

    /// Feeds bytes and returns every frame they complete.
    public mutating func decode<Bytes: Collection>(_ bytes: Bytes) throws(GRPCFrameError) -> [GRPCFrame]
    where Bytes.Element == UInt8 {
        var frames: [GRPCFrame] = []
        var index = bytes.startIndex
        while index != bytes.endIndex {
            switch state {
            case .prefix(var prefix):
                while prefix.count < GRPCFrame.headerLength && index != bytes.endIndex {
                    prefix.append(bytes[index])
                    index = bytes.index(after: index)
                    consumed += 1
                }
                guard prefix.count == GRPCFrame.headerLength else {
                    state = .prefix(bytes: prefix)
                    break
                }
                let length = Int(prefix[1]) << 24 | Int(prefix[2]) << 16 | Int(prefix[3]) << 8 | Int(prefix[4])
                guard length <= maxMessageBytes else {
                    throw .messageTooLarge(length: length, limit: maxMessageBytes, offset: frameOffset)
                }
                if length == 0 {
                    frames.append(GRPCFrame(flags: prefix[0], payload: []))
                    finishFrame()
                } else {
                    var payload: [UInt8] = []
                    payload.reserveCapacity(length)
                    state = .payload(flags: prefix[0], length: length, bytes: payload)
                }
            case .payload(let flags, let length, var payload):
                state = .prefix(bytes: [])  // release the payload's storage for in-place appends
                let take = min(length - payload.count, bytes.distance(from: index, to: bytes.endIndex))
                let end = bytes.index(index, offsetBy: take)
                payload.append(contentsOf: bytes[index..<end])
                index = end
                consumed += take
                if payload.count == length {
                    frames.append(GRPCFrame(flags: flags, payload: payload))
                    finishFrame()
                } else {
                    state = .payload(flags: flags, length: length, bytes: payload)
                }
            }
        }
        return frames
    }

    /// Checks that the stream ended on a frame boundary.
    public func finish() throws(GRPCFrameError) {
        switch state {
        case .prefix(let bytes) where bytes.isEmpty:
            return
        case .prefix(let bytes):
            throw .truncated(offset: frameOffset, missing: GRPCFrame.headerLength - bytes.count)
        case .payload(_, let length, let bytes):
            throw .truncated(offset: frameOffset, missing: length - bytes.count)
        }
    }

    private mutating func finishFrame() {
        state = .prefix(bytes: [])
        frameOffset = consumed
    }
}
