// The envelopes of a streaming Connect request turned into the gRPC frames sent upstream
// (connectrpc.com/docs/protocol, "Streaming-Request"). The layout is gRPC's (flags, 4-byte
// big-endian length, message), so a frame boundary is found the same way; each message is
// inflated and transcoded on its own, then framed uncompressed.
//
//   flags: 0x01 compressed (with connect-content-encoding); 0x02 end-stream, responses only;
//   the other six bits are reserved.
import FerryCore
import GRPCWeb

public struct ConnectEnvelopeReader {
    public static let compressedFlag: UInt8 = 0x01
    public static let endStreamFlag: UInt8 = 0x02

    private var envelopes: GRPCFrameDecoder
    private let messages: ConnectMessageCodec
    private let compression: ConnectCompression
    /// Envelopes read so far, to name the one that is wrong.
    private var count = 0

    /// `compression`: the request's `connect-content-encoding`.
    public init(messages: ConnectMessageCodec, compression: ConnectCompression) {
        self.messages = messages
        self.compression = compression
        envelopes = GRPCFrameDecoder(maxMessageBytes: messages.maxMessageBytes)
    }

    /// The gRPC frames of the envelopes that `chunk` completes (none while one is partial).
    public mutating func append(_ chunk: UnsafeRawBufferPointer) throws(GRPCStatus) -> [UInt8] {
        let complete: [GRPCFrame]
        do {
            complete = try envelopes.decode(chunk)
        } catch {
            if case .messageTooLarge = error { throw GRPCStatus(.resourceExhausted, "request envelope: \(error)") }
            throw GRPCStatus(.invalidArgument, "invalid request envelope: \(error)")
        }
        var frames: [UInt8] = []
        for envelope in complete {
            count += 1
            if envelope.flags & Self.endStreamFlag != 0 {
                throw GRPCStatus(.invalidArgument, "request envelope \(count) has the end-stream flag (0x02), which only responses use")
            }
            if envelope.flags & ~(Self.compressedFlag | Self.endStreamFlag) != 0 {
                throw GRPCStatus(.invalidArgument, "request envelope \(count) sets reserved flag bits (flags \(envelope.flags))")
            }
            let compressed = envelope.flags & Self.compressedFlag != 0
            if compressed && compression == .identity {
                throw GRPCStatus(
                    .invalidArgument, "request envelope \(count) is compressed, but the request names no connect-content-encoding")
            }
            let message = try messages.requestMessage(envelope.payload, compression: compressed ? compression : .identity)
            frames += GRPCFrame.header(flags: 0, length: message.count) + message
        }
        return frames
    }

    /// The request body ended: on an envelope boundary, or INVALID_ARGUMENT.
    public func finish() throws(GRPCStatus) {
        do { try envelopes.finish() } catch { throw GRPCStatus(.invalidArgument, "invalid request envelope: \(error)") }
    }

    /// One response envelope.
    public static func envelope(flags: UInt8, _ payload: [UInt8]) -> [UInt8] {
        GRPCFrame.header(flags: flags, length: payload.count) + payload
    }
}
