// The shapes of method the small gRPC server can serve, and the stream handed to streaming ones.
import FerryCore
import GRPCWeb
import HTTP2Support
import Loop

/// A method implementation. Request messages arrive as serialized protobuf bytes.
public enum GRPCMethodHandler {
    case unary((_ request: [UInt8], _ metadata: HeaderFields) throws(GRPCStatus) -> GRPCReply)
    case clientStreaming((_ requests: [[UInt8]], _ metadata: HeaderFields) throws(GRPCStatus) -> GRPCReply)
    case serverStreaming((_ request: [UInt8], _ metadata: HeaderFields, _ stream: GRPCServerStream) -> Void)
    /// Requests and replies interleaved: at the call's headers, `start` gets its metadata and
    /// response stream and returns what takes each request message as it arrives, then nil
    /// once the client has sent its last.
    case bidiStreaming(_ start: (_ metadata: HeaderFields, _ stream: GRPCServerStream) -> (_ request: [UInt8]?) -> Void)
}

/// A unary reply: one message plus extra response headers and trailers.
public struct GRPCReply {
    public var message: [UInt8]
    public var headers: HeaderFields
    public var trailers: HeaderFields

    public init(message: [UInt8], headers: HeaderFields = HeaderFields(), trailers: HeaderFields = HeaderFields()) {
        self.message = message
        self.headers = headers
        self.trailers = trailers
    }
}

/// The response side of a server-streaming call. Messages queue until HTTP/2 flow control
/// lets them go; `onWritable` runs when the queue has drained below `writableThreshold`.
public final class GRPCServerStream {
    public let loop: EventLoop
    var outgoing = OutgoingBytes()
    var finalStatus: GRPCStatus?
    var isCancelled = false
    var resume: () -> Void = {}
    public var onWritable: (() -> Void)?
    public var onCancel: (() -> Void)?
    public let writableThreshold = 256 * 1024

    init(loop: EventLoop) {
        self.loop = loop
    }

    public var queuedBytes: Int { outgoing.count }
    public var cancelled: Bool { isCancelled }

    public func send(_ message: [UInt8]) {
        guard !isCancelled, finalStatus == nil else { return }
        outgoing.append(GRPCFrame.header(flags: 0, length: message.count))
        outgoing.append(message)
        resume()
    }

    public func finish(_ status: GRPCStatus = .ok) {
        guard !isCancelled, finalStatus == nil else { return }
        finalStatus = status
        resume()
    }
}
